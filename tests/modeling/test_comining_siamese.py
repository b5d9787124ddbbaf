"""Co-mining's Siamese training (pointdet.modeling.comining.siamese) for RetinaNet and FCOS:
per-branch loss normalisers, loss = sum of both branches, cross supervision, the baseline
switches, end-to-end training on a tiny box set (one image without objects) and the
checkpoint in the stock architecture through ``DefaultPredictor``."""
import copy

import cv2
import numpy as np
import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg, instantiate
from detectron2.data import DatasetCatalog, build_detection_train_loader
from detectron2.data.samplers import TrainingSampler
from detectron2.engine import DefaultPredictor, SimpleTrainer
from detectron2.modeling import build_model
from detectron2.modeling.meta_arch import RetinaNet
from detectron2.modeling.meta_arch.fcos import FCOS as D2FCOS
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from pointdet.data.dataset_mapper import TwoViewDatasetMapper
from pointdet.modeling.comining import CoMiningFCOS, CoMiningRetinaNet
from tests.modeling.test_detectors import (  # noqa: F401  (tiny_dataset is a fixture)
    SIZE,
    _as_input,
    _fcos_lazy,
    _fcos_yacs,
    _retinanet_lazy,
    _retinanet_yacs,
    _yacs_common,
    tiny_dataset,
)

DETECTORS = {
    "retinanet": (_retinanet_lazy, _retinanet_yacs, CoMiningRetinaNet, RetinaNet, ("loss_cls", "loss_box_reg")),
    "fcos": (_fcos_lazy, _fcos_yacs, CoMiningFCOS, D2FCOS, ("loss_fcos_cls", "loss_fcos_loc", "loss_fcos_ctr")),
}


def _comining_cfg(name, **kw):
    lazy, _, cls, _, _ = DETECTORS[name]
    cfg = lazy()
    cfg._target_ = cls
    cfg.update(kw)
    return cfg


def _batch(seed=0, jitter_equal=False):
    """Two 64x64 images: one with two boxes of class 0, one without annotations."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i, boxes in enumerate([[[6, 8, 34, 32], [36, 6, 58, 26]], []]):
        img = torch.randint(0, 255, (3, SIZE, SIZE), generator=g, dtype=torch.uint8)
        inst = Instances((SIZE, SIZE))
        inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
        inst.gt_classes = torch.zeros(len(boxes), dtype=torch.int64)
        jit = img.clone() if jitter_equal else torch.randint(0, 255, (3, SIZE, SIZE), generator=g, dtype=torch.uint8)
        out.append({"image": img, "image_jittered": jit, "instances": inst, "height": SIZE, "width": SIZE})
    return out


def test_each_branch_has_its_own_ema_normaliser():
    model = instantiate(_comining_cfg("retinanet"))
    model._branch = "original"
    assert model._ema_update("loss_normalizer", 10.0, 100) == pytest.approx(91.0)  # 0.9 * 100 + 0.1 * 10
    model._branch = "augmented"
    assert model._ema_update("loss_normalizer", 30.0, 100) == pytest.approx(93.0)
    model._branch = "original"
    assert model._ema_update("loss_normalizer", 10.0, 100) == pytest.approx(82.9)  # 0.9 * 91 + 1
    assert model.loss_normalizer_original == pytest.approx(82.9) and model.loss_normalizer_augmented == pytest.approx(93.0)
    assert not hasattr(model, "loss_normalizer")
    ref = instantiate(_comining_cfg("retinanet", normalizer_momentum=0.0))  # the reference: the batch's count
    ref._branch = "original"
    assert ref._ema_update("loss_normalizer", 7.0, 100) == pytest.approx(7.0)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_joint_loss_is_the_sum_of_two_stock_branches(name):
    """Without co-generation and with identical views, each branch's losses equal the stock
    detector's on the same batch (own fresh normaliser each), and both normalisers exist."""
    torch.manual_seed(0)
    model = instantiate(_comining_cfg(name, co_generation=False))
    stock_cfg = DETECTORS[name][0]()
    stock = instantiate(stock_cfg)
    stock.load_state_dict(model.state_dict())
    model.train(), stock.train()
    batch = _batch(jitter_equal=True)
    with EventStorage():
        losses = model(copy.deepcopy(batch))
        expected = stock(copy.deepcopy(batch))
    keys = DETECTORS[name][4]
    assert set(losses) == {f"{k}_{v}" for k in keys for v in ("original", "augmented")}
    for k in keys:
        assert torch.allclose(losses[f"{k}_original"], expected[k], rtol=1e-5)
        assert torch.allclose(losses[f"{k}_augmented"], expected[k], rtol=1e-5)
    assert hasattr(model, "loss_normalizer_original") and hasattr(model, "loss_normalizer_augmented")
    assert not hasattr(model, "loss_normalizer")


def test_cross_supervision_and_scheme_switches(monkeypatch):
    """C_o = P_a^g u Y and C_a = P_o^g u Y (Eq. 1); one view with co-generation: its own P^g u Y."""
    marks = {"original": 10.0, "augmented": 20.0}  # each view's pseudo box starts at its mark
    seen = {}

    def fake_pseudo(self, features, predictions, gt_instances):
        view = "original" if not seen.get("_first_done") else "augmented"
        seen["_first_done"] = self.siamese  # siamese: the second call is the augmented view
        out = []
        for g in gt_instances:
            p = Instances(g.image_size)
            m = marks[view]
            p.pred_boxes = Boxes(torch.tensor([[m, m, m + 5, m + 5]]))
            p.scores = torch.tensor([0.9])
            p.pred_classes = torch.tensor([0])
            out.append(p)
        return out

    def record(self, images, features, predictions, gt_instances):
        seen.setdefault("targets", []).append([g.gt_boxes.tensor.clone() for g in gt_instances])
        return {"loss_x": sum(p.sum() for p in predictions[0]) * 0}

    monkeypatch.setattr(CoMiningRetinaNet, "generate_pseudo_boxes", fake_pseudo)
    monkeypatch.setattr(CoMiningRetinaNet, "forward_training", record)
    model = instantiate(_comining_cfg("retinanet")).train()
    with EventStorage() as storage:
        losses = model(_batch())
        assert storage.history("comining/pseudo_per_image_original").latest() == 1.0
    assert set(losses) == {"loss_x_original", "loss_x_augmented"}
    orig_targets, aug_targets = seen["targets"]
    assert orig_targets[0][-1].tolist() == [20, 20, 25, 25]  # the augmented branch's mined box
    assert aug_targets[0][-1].tolist() == [10, 10, 15, 15]
    assert len(orig_targets[0]) == 3 and len(orig_targets[1]) == 1  # 2 annotations + 1; none + 1

    seen.clear()
    single = instantiate(_comining_cfg("retinanet", siamese=False)).train()
    with EventStorage():
        assert set(single(_batch())) == {"loss_x"}
    assert seen["targets"][0][0][-1].tolist() == [10, 10, 15, 15]  # its own mined box

    seen.clear()
    aug_only = instantiate(_comining_cfg("retinanet", siamese=False, co_generation=False, single_view="augmented"))
    captured = {}
    monkeypatch.setattr(aug_only, "preprocess_image", lambda inputs: captured.setdefault("x", inputs) and
                        RetinaNet.preprocess_image(aug_only, inputs))  # fmt: skip
    batch = _batch()
    with EventStorage():
        aug_only.train()(batch)
    assert torch.equal(captured["x"][0]["image"], batch[0]["image_jittered"])
    assert len(seen["targets"][0][0]) == 2  # annotations only

    with pytest.raises(ValueError, match="TwoViewDatasetMapper"):
        with EventStorage():
            model([{k: v for k, v in x.items() if k != "image_jittered"} for x in _batch()])
    with pytest.raises(ValueError, match="single_view"):
        instantiate(_comining_cfg("retinanet", single_view="flipped"))


def _train(model, dataset, iters, lr):
    dicts = DatasetCatalog.get(dataset)
    loader = build_detection_train_loader(
        dataset=dicts,
        mapper=TwoViewDatasetMapper(is_train=True, augmentations=[], image_format="RGB", seed=0),
        sampler=TrainingSampler(len(dicts), shuffle=True, seed=0),
        total_batch_size=2,
        num_workers=0,
    )
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    trainer = SimpleTrainer(model, loader, optimizer)
    trainer.train(0, iters)
    return trainer.storage


@pytest.mark.parametrize("name,lr", [("retinanet", 0.01), ("fcos", 1e-3)])
def test_comining_trains_and_loads_into_the_stock_detector(name, lr, tiny_dataset, tmp_path):
    lazy, yacs, cls, stock_cls, keys = DETECTORS[name]
    torch.manual_seed(0)
    # tau below the untrained scores (prior 0.01), so that every step mines boxes
    model = instantiate(_comining_cfg(name, pseudo_score_thresh=0.005))
    assert type(model) is cls
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    storage = _train(model, tiny_dataset, iters=3, lr=lr)
    for k in keys:
        for v in ("original", "augmented"):
            values = [x for x, _ in storage.history(f"{k}_{v}").values()]
            assert len(values) == 3 and np.isfinite(values).all(), (k, v, values)
    for v in ("original", "augmented"):  # each branch's foreground count is kept
        assert len(storage.history(f"num_pos_anchors_{v}").values()) == 3
    mined = [x for x, _ in storage.history("comining/pseudo_per_image_augmented").values()]
    assert len(mined) == 3 and all(m > 0 for m in mined)
    moved = [k for k, v in model.state_dict().items() if not torch.equal(v, initial[k])]
    assert any(k.startswith("backbone.") for k in moved) and any(k.startswith("head.") for k in moved)

    # the checkpoint is a stock checkpoint: the yacs stock architecture loads it in DefaultPredictor
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("model_final")
    cfg = _yacs_common(get_cfg())
    yacs(cfg, lazy())
    cfg.MODEL.WEIGHTS = str(tmp_path / "model_final.pth")
    predictor = DefaultPredictor(cfg)
    assert type(predictor.model) in (stock_cls, *stock_cls.__subclasses__()) and not isinstance(predictor.model, cls)
    saved, loaded = model.state_dict(), predictor.model.state_dict()
    assert list(loaded) == list(saved) and all(torch.equal(loaded[k], saved[k]) for k in saved)
    image = cv2.imread(DatasetCatalog.get(tiny_dataset)[1]["file_name"])
    predicted = predictor(image)["instances"]
    model.eval()
    with torch.no_grad():
        expected = model([_as_input(image)])[0]["instances"]
    assert len(predicted) > 0 and len(predicted) == len(expected)
    assert torch.allclose(predicted.pred_boxes.tensor, expected.pred_boxes.tensor, atol=1e-3)
    assert torch.allclose(predicted.scores, expected.scores, atol=1e-5)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_registered_comining_model_from_yacs(name):
    lazy, yacs, cls, _, _ = DETECTORS[name]
    cfg = _yacs_common(get_cfg())
    yacs(cfg, lazy())
    cfg.MODEL.META_ARCHITECTURE = cls.__name__
    cfg.MODEL.COMINING.SCORE_THRESH = 0.5
    model = build_model(cfg)
    assert type(model) is cls and model.siamese and model.co_generation
    assert model.pseudo_score_thresh == 0.5 and model.pseudo_duplicate_iou_thresh == 0.4
    assert model.pseudo_nms_thresh == {"retinanet": 0.5, "fcos": 0.6}[name]  # the detector's test NMS
    assert (model.pseudo_topk_candidates, model.pseudo_max_per_image) == (1000, 100)
    cfg.MODEL.COMINING.NMS_THRESH = 0.45
    assert build_model(cfg).pseudo_nms_thresh == 0.45
