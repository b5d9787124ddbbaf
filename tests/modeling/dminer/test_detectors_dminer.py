"""FCOS-DMiner and Faster R-CNN C4 with the DMiner RPN branch: a few training iterations on tiny
images (single-instance images and one without objects), the RPN ignore rule, and the
checkpoints loading into the stock architectures (DefaultPredictor for Faster R-CNN) with
the same predictions."""
import os

import numpy as np
import pytest
import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg, instantiate
from detectron2.engine import DefaultPredictor
from detectron2.modeling.meta_arch.fcos import FCOS as D2FCOS
from detectron2.structures import Boxes, Instances

from configs.common.dminer import dminer, with_dminer_fcos, with_dminer_rpn
from pointdet.modeling.dminer import DMinerRPN, FCOSDMiner
from tests.modeling.test_detectors import (  # noqa: F401  (tiny_dataset is a fixture)
    SIZE,
    _as_input,
    _faster_rcnn_c4_lazy,
    _faster_rcnn_c4_yacs,
    _fcos_lazy,
    _train,
    _yacs_common,
    tiny_dataset,
)


def _finite_history(storage, names, iters):
    for loss in names:
        values = [v for v, _ in storage.history(loss).values()]
        assert len(values) == iters and np.isfinite(values).all(), (loss, values)


def test_fcos_dminer_trains_and_loads_into_stock_fcos(tiny_dataset, tmp_path):
    torch.manual_seed(0)
    cfg = with_dminer_fcos(_fcos_lazy(), miner=dminer(sim_threshold=0.0))  # T_sim 0: pseudo labels do occur
    model = instantiate(cfg)
    assert isinstance(model, FCOSDMiner) and model.dminer_top_m == (96, 64, 32)
    storage = _train(model, tiny_dataset, iters=3, lr=1e-3)
    _finite_history(storage, ("loss_fcos_cls", "loss_fcos_loc", "loss_fcos_ctr", "loss_pgcl"), 3)
    stock = instantiate(_fcos_lazy())
    assert type(stock) is D2FCOS and set(stock.state_dict()) == set(model.state_dict())
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("m")
    DetectionCheckpointer(stock).load(os.path.join(tmp_path, "m.pth"))
    model.eval()
    stock.eval()
    x = _as_input(np.random.default_rng(1).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8))
    with torch.no_grad():
        a, b = model([x])[0]["instances"], stock([x])[0]["instances"]
    assert torch.equal(a.scores, b.scores) and torch.equal(a.pred_boxes.tensor, b.pred_boxes.tensor)


def test_fcos_dminer_refuses_the_loss_mask():
    with pytest.raises(ValueError, match="loss_mask"):
        instantiate(with_dminer_fcos(_fcos_lazy(), miner=dminer(loss_mask=True)))


def test_fcos_dminer_soft_negatives_change_only_the_classification_loss(tiny_dataset):
    torch.manual_seed(0)
    model = instantiate(with_dminer_fcos(_fcos_lazy(), miner=dminer(sim_threshold=0.0, use_pgcl=False)))
    base = instantiate(_fcos_lazy())
    base.load_state_dict(model.state_dict())
    from detectron2.data import DatasetCatalog, DatasetMapper
    from detectron2.utils.events import EventStorage

    mapper = DatasetMapper(is_train=True, augmentations=[], image_format="RGB")
    batch = [mapper(d) for d in DatasetCatalog.get(tiny_dataset)]
    with EventStorage():
        lm, lb = model(batch), base(batch)
    assert set(lm) == set(lb)  # no PGCL term
    assert lm["loss_fcos_loc"].item() == pytest.approx(lb["loss_fcos_loc"].item(), rel=1e-6)
    assert lm["loss_fcos_cls"].item() < lb["loss_fcos_cls"].item()  # soft negatives lower the penalty


def _dminer_c4():
    return with_dminer_rpn(_faster_rcnn_c4_lazy(), kernel_sizes=(1, 3, 5, 7, 9))


def test_dminer_rpn_ignores_background_anchors_with_high_pseudo_labels(tiny_dataset):
    torch.manual_seed(0)
    model = instantiate(_dminer_c4())
    rpn = model.proposal_generator
    assert isinstance(rpn, DMinerRPN) and rpn.pseudo_ignore_threshold == 0.6 and rpn.branch.heatmap.out_channels == 1
    feature = torch.zeros(1, 96, 4, 4)
    anchors = rpn.anchor_generator([feature])
    gt = Instances((SIZE, SIZE))
    gt.gt_boxes = Boxes(torch.tensor([[2.0, 2.0, 30.0, 30.0]]))
    gt.gt_classes = torch.tensor([0])
    torch.manual_seed(0)
    plain, _ = rpn.label_and_sample_anchors(anchors, [gt])
    rpn._anchor_pseudo = torch.where(torch.arange(len(plain[0])) % 2 == 0, 0.7, 0.5)[None]
    torch.manual_seed(0)
    relaxed, _ = rpn.label_and_sample_anchors(anchors, [gt])
    rpn._anchor_pseudo = None
    even = torch.arange(len(plain[0])) % 2 == 0
    assert ((plain[0] == 0) & even).any()
    assert torch.equal(relaxed[0][(plain[0] == 0) & even], torch.full_like(relaxed[0][(plain[0] == 0) & even], -1))
    assert torch.equal(relaxed[0][~even], plain[0][~even]) and torch.equal(relaxed[0][plain[0] == 1], plain[0][plain[0] == 1])


def test_dminer_rpn_kernel_count_must_match_anchor_sizes():
    with pytest.raises(ValueError, match="one kernel per anchor size"):
        instantiate(with_dminer_rpn(_faster_rcnn_c4_lazy(), kernel_sizes=(1, 3)))


def test_faster_rcnn_c4_dminer_trains_and_loads_into_stock_default_predictor(tiny_dataset, tmp_path):
    torch.manual_seed(0)
    lazy = _dminer_c4()
    model = instantiate(lazy)
    storage = _train(model, tiny_dataset, iters=3)
    _finite_history(storage, ("loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg", "loss_dminer_hm",
                              "loss_dminer_pgcl"), 3)
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("model_final")
    cfg = _yacs_common(get_cfg())
    _faster_rcnn_c4_yacs(cfg, lazy)  # the stock GeneralizedRCNN + RPN
    cfg.MODEL.WEIGHTS = os.path.join(tmp_path, "model_final.pth")
    predictor = DefaultPredictor(cfg)
    assert type(predictor.model.proposal_generator).__name__ == "RPN"
    extra = set(model.state_dict()) - set(predictor.model.state_dict())
    assert extra and all(k.startswith("proposal_generator.branch.") for k in extra)
    assert set(predictor.model.state_dict()) <= set(model.state_dict())
    image = np.random.default_rng(2).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    model.eval()
    with torch.no_grad():
        mine = model([_as_input(image)])[0]["instances"]
    stock = predictor(image)["instances"]
    assert len(mine) > 0 and torch.allclose(mine.scores, stock.scores) and torch.allclose(mine.pred_boxes.tensor, stock.pred_boxes.tensor)


def test_yacs_route_builds_fcos_dminer_and_dminer_rpn():
    from detectron2.modeling import build_model
    from tests.modeling.test_detectors import _fcos_yacs

    cfg = _yacs_common(get_cfg())
    _fcos_yacs(cfg, None)
    cfg.MODEL.META_ARCHITECTURE = "FCOSDMiner"
    with pytest.raises(ValueError, match="ENABLED"):
        build_model(cfg)
    cfg.MODEL.DMINER.ENABLED = True
    model = build_model(cfg)
    assert isinstance(model, FCOSDMiner) and model.dminer_top_m == (96, 64, 32) and model.dminer.sim_threshold == 0.6

    cfg = _yacs_common(get_cfg())
    _faster_rcnn_c4_yacs(cfg, None)
    cfg.MODEL.PROPOSAL_GENERATOR.NAME = "DMinerRPN"
    cfg.MODEL.DMINER.ENABLED = True
    rpn = build_model(cfg).proposal_generator
    assert isinstance(rpn, DMinerRPN) and rpn.pool_kernel_sizes == (1, 3, 5, 7, 9) and rpn.dminer.pgcl_weight == 0.1
