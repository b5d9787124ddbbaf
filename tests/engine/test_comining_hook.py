"""Co-mining's mined boxes outside the training step (pointdet.engine.comining): mining in
original-image pixels, the quality hook (counts, precision / recall against the erased
annotations, PNGs, results file) and the export of the mined set as annotations."""
import json

import numpy as np
import pytest
import torch
from detectron2.config import instantiate
from detectron2.data import DatasetCatalog, DatasetMapper, build_detection_train_loader
from detectron2.data import transforms as T
from detectron2.data.samplers import TrainingSampler
from detectron2.engine import SimpleTrainer
from detectron2.structures import Boxes, Instances

from pointdet.data.dataset_mapper import TwoViewDatasetMapper
from pointdet.engine.comining import MinedBoxQualityHook, draw_mined_boxes, export_mined_annotations, mine_dataset
from pointdet.modeling.comining import CoMiningRetinaNet
from tests.modeling.test_detectors import _retinanet_lazy, tiny_dataset  # noqa: F401


@pytest.fixture
def one_based(tiny_dataset):  # noqa: F811
    """The tiny box set with COCO's 1-based image ids (the erased file is a COCO file)."""
    import copy

    from detectron2.data import MetadataCatalog

    name = "pointdet_test_comining_hook_boxes"
    dicts = [dict(copy.deepcopy(d), image_id=d["image_id"] + 1) for d in DatasetCatalog.get(tiny_dataset)]
    DatasetCatalog.register(name, lambda: copy.deepcopy(dicts))
    MetadataCatalog.get(name).set(thing_classes=["box"], thing_dataset_id_to_contiguous_id={1: 0})
    yield name
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def _model():
    cfg = _retinanet_lazy()
    cfg._target_ = CoMiningRetinaNet
    return instantiate(cfg)


def _fake_pseudo(self, features, predictions, gt_instances):
    """Two boxes per image in the mapped (2x resized) image: [80,80,100,100] and [0,0,20,20]."""
    out = []
    for g in gt_instances:
        p = Instances(g.image_size)
        p.pred_boxes = Boxes(torch.tensor([[80.0, 80.0, 100.0, 100.0], [0.0, 0.0, 20.0, 20.0]]))
        p.scores = torch.tensor([0.9, 0.7])
        p.pred_classes = torch.tensor([0, 0])
        out.append(p)
    return out


def _erased(tmp_path):
    path = tmp_path / "erased.json"
    path.write_text(json.dumps({
        "images": [{"id": i, "file_name": f"{i}.png", "height": 64, "width": 64} for i in range(1, 5)],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [40.0, 40.0, 10.0, 10.0], "area": 100.0,
                         "iscrowd": 0},
                        # on image 3, missed by the mined boxes (IoU 0.09 with [0, 0, 10, 10])
                        {"id": 2, "image_id": 3, "category_id": 1, "bbox": [5.0, 5.0, 3.0, 3.0], "area": 9.0,
                         "iscrowd": 0}],
        "categories": [{"id": 1, "name": "box"}],
    }))  # fmt: skip
    return str(path)


def test_mine_dataset_returns_original_image_pixels(tiny_dataset, monkeypatch):
    monkeypatch.setattr(CoMiningRetinaNet, "generate_pseudo_boxes", _fake_pseudo)
    model = _model().train()
    mapper = DatasetMapper(is_train=True, augmentations=[T.Resize((128, 128))], image_format="RGB")
    mined = list(mine_dataset(model, DatasetCatalog.get(tiny_dataset)[:2], mapper))
    assert [d["image_id"] for d, _ in mined] == [0, 1]
    assert mined[0][1] == [
        {"image_id": 0, "category_id": 0, "bbox": [40.0, 40.0, 10.0, 10.0], "score": pytest.approx(0.9)},
        {"image_id": 0, "category_id": 0, "bbox": [0.0, 0.0, 10.0, 10.0], "score": pytest.approx(0.7)},
    ]
    assert model.training  # the mode is restored


def test_quality_hook_logs_precision_recall_and_writes_pictures(one_based, tmp_path, monkeypatch):
    monkeypatch.setattr(CoMiningRetinaNet, "generate_pseudo_boxes", _fake_pseudo)
    model = _model()
    dicts = DatasetCatalog.get(one_based)
    loader = build_detection_train_loader(
        dataset=dicts, mapper=TwoViewDatasetMapper(is_train=True, augmentations=[], image_format="RGB", seed=0),
        sampler=TrainingSampler(len(dicts), seed=0), total_batch_size=2, num_workers=0,
    )  # fmt: skip
    trainer = SimpleTrainer(model, loader, torch.optim.SGD(model.parameters(), lr=1e-4))
    hook = MinedBoxQualityHook(one_based, period=2, output_dir=str(tmp_path / "mined"), erased_json=_erased(tmp_path),
                               max_images=1, num_vis=1, augmentations=[T.Resize((128, 128))])  # fmt: skip
    trainer.register_hooks([hook])
    trainer.train(0, 3)
    h = trainer.storage.history
    # mined at iteration 2 on image 1 (max_images): 2 boxes, one of which is its erased box (the
    # erased box of image 3 is not counted); after training on all 4 images (final_max_images
    # None): 8 boxes, the same single match, 1 of the 2 erased boxes found
    assert len(dicts) == 4
    assert [v for v, _ in h("comining/mined_per_image").values()] == [2.0, 2.0]
    assert [v for v, _ in h("comining/mined_precision").values()] == [pytest.approx(0.5), pytest.approx(1 / 8)]
    assert [v for v, _ in h("comining/mined_recall").values()] == [pytest.approx(1.0), pytest.approx(0.5)]
    assert h("comining/pseudo_per_image_original").latest() == 2.0  # the training step's own count
    records = json.loads((tmp_path / "mined" / "mined_boxes.json").read_text())
    assert [r["image_id"] for r in records] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert [r["bbox"] for r in records[:2]] == [[40.0, 40.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]]
    quality = json.loads((tmp_path / "mined" / "mined_quality.json").read_text())
    assert quality == {"images": 4, "mined_per_image": 2.0, "mined_precision": 0.125, "mined_recall": 0.5}
    import cv2

    png = cv2.imread(str(tmp_path / "mined" / "mined_1.png"))
    assert png.shape == (64, 132, 3)


def test_draw_mined_boxes_colours():
    img = np.zeros((20, 30, 3), np.uint8)
    vis = draw_mined_boxes(img, kept=[[1, 1, 5, 5]], erased=[[10, 10, 5, 5]], mined=[[2, 2, 6, 6]])
    assert vis.shape == (20, 64, 3)
    assert tuple(vis[1, 1]) == (0, 200, 0)  # kept, left
    assert tuple(vis[10, 10]) == (255, 220, 0) and tuple(vis[10, 34 + 10]) == (255, 220, 0)  # erased, both
    assert tuple(vis[2, 34 + 2]) == (255, 0, 0)  # mined, right
    assert (vis[:, 30:34] == 255).all()


def test_export_mined_annotations(tmp_path):
    src = tmp_path / "train.json"
    src.write_text(json.dumps({
        "images": [{"id": 5, "file_name": "a.png", "height": 40, "width": 40}],
        "annotations": [{"id": 9, "image_id": 5, "category_id": 1, "bbox": [1.0, 1.0, 4.0, 4.0], "area": 16.0, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "tree"}],
    }))  # fmt: skip
    mined = tmp_path / "mined.json"
    mined.write_text(json.dumps([{"image_id": 5, "category_id": 1, "bbox": [10, 10, 5, 4], "score": 0.8},
                                 {"image_id": 5, "category_id": 1, "bbox": [20, 20, 5, 5], "score": 0.3}]))
    out = tmp_path / "out.json"
    stats = export_mined_annotations(str(src), str(mined), str(out), score_threshold=0.5)
    assert dict(stats) == {"images": 1, "annotations": 1, "mined": 1}
    d = json.loads(out.read_text())
    assert d["annotations"][0]["id"] == 9 and "mined" not in d["annotations"][0]
    assert d["annotations"][1] == {"id": 10, "image_id": 5, "category_id": 1, "bbox": [10.0, 10.0, 5.0, 4.0],
                                   "area": 20.0, "iscrowd": 0, "mined": True, "score": 0.8}  # fmt: skip
    assert d["info"]["generator"] == "pointdet.comining.mined_annotations" and "source_sha256" in d["info"]
    assert d["info"]["statistics"] == {"images": 1, "annotations": 1, "added": 1} and "mined_sha256" in d["info"]
    with pytest.raises(ValueError):
        export_mined_annotations(str(src), str(mined), str(src))
    mined.write_text(json.dumps([{"image_id": 6, "category_id": 1, "bbox": [1, 1, 2, 2]}]))
    with pytest.raises(ValueError, match="image id 6"):
        export_mined_annotations(str(src), str(mined), str(tmp_path / "o2.json"))
    mined.write_text(json.dumps([{"image_id": 5, "category_id": 1, "bbox": [1, 1, 0, 2], "score": 0.9}]))
    with pytest.raises(ValueError, match=r"annotation #0 added to image id 5 has a degenerate bbox"):
        export_mined_annotations(str(src), str(mined), str(tmp_path / "o3.json"))
    assert not (tmp_path / "o3.json").exists()


def test_export_tool(tmp_path, capsys):
    from tools.export_mined_boxes import main

    src = tmp_path / "train.json"
    src.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png", "height": 9, "width": 9}], "annotations": [],
                               "categories": [{"id": 1, "name": "tree"}]}))  # fmt: skip
    mined = tmp_path / "mined.json"
    mined.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.9}]))
    main(["--input", str(src), "--mined", str(mined), "--output", str(tmp_path / "out.json")])
    assert "'mined': 1" in capsys.readouterr().out
    assert json.loads((tmp_path / "out.json").read_text())["annotations"][0]["id"] == 1


def test_pictures_show_the_images_with_most_erased_annotations(one_based, tmp_path):
    hook = MinedBoxQualityHook(one_based, period=0, output_dir=str(tmp_path / "vis"), erased_json=_erased(tmp_path),
                               num_vis=1)  # fmt: skip
    dicts = DatasetCatalog.get(one_based)
    (tmp_path / "vis").mkdir()
    hook._write_pictures([(dicts[1], []), (dicts[0], []), (dicts[3], [])])  # of these, only image 1 has an erased box
    assert sorted(p.name for p in (tmp_path / "vis").iterdir()) == ["mined_1.png"]


def test_mine_checkpoint_tool_covers_the_training_set(tmp_path, capsys):
    """``tools/mine_boxes.py``: a saved checkpoint mined over every training image with the
    config's hook settings (the untrained tiny model passes its tau of 0.005 everywhere)."""
    from detectron2.config import LazyConfig

    from pointdet.engine.comining import mine_checkpoint
    from tests.engine.comining_tiny import write_comining_tiny_config
    from tools.mine_boxes import main

    base = write_comining_tiny_config(str(tmp_path / "data"))
    train = json.loads((tmp_path / "data" / "train.json").read_text())
    erased = tmp_path / "erased.json"  # every training box counts as erased
    erased.write_text(json.dumps(train))
    cfg_path = tmp_path / "with_hook.py"
    cfg_path.write_text(
        "from detectron2.config import LazyCall as L\n"
        "from detectron2.config import LazyConfig\n"
        "from pointdet.engine.comining import MinedBoxQualityHook\n"
        f"_base = LazyConfig.load({base!r})\n"
        "model, dataloader, optimizer, lr_multiplier, train = (_base.model, _base.dataloader,\n"
        "    _base.optimizer, _base.lr_multiplier, _base.train)\n"
        "train.device = 'cpu'\n"
        "hooks = dict(mined_quality=L(MinedBoxQualityHook)(dataset_name='tn_tiny_train', period=0,\n"
        f"    output_dir='unused', erased_json={str(erased)!r}, max_images=1, num_vis=1))\n"
    )
    model = instantiate(LazyConfig.load(str(cfg_path)).model)
    weights = tmp_path / "run" / "model_final.pth"
    weights.parent.mkdir()
    torch.save({"model": model.state_dict()}, weights)

    main(["--config-file", str(cfg_path), "--weights", str(weights), "--quiet"])
    out = tmp_path / "run" / "mined"  # the default: beside the weights
    assert "mined_per_image" in capsys.readouterr().out
    quality = json.loads((out / "mined_quality.json").read_text())
    assert quality["images"] == len(train["images"]) > 1  # all images, not the periodic max_images
    records = json.loads((out / "mined_boxes.json").read_text())
    assert {r["image_id"] for r in records} == {im["id"] for im in train["images"]}
    assert quality["mined_per_image"] == pytest.approx(len(records) / len(train["images"]))
    assert 0.0 <= quality["mined_precision"] <= 1.0 and 0.0 <= quality["mined_recall"] <= 1.0
    assert len(list(out.glob("mined_*.png"))) == 1

    with pytest.raises(FileNotFoundError, match="--weights"):
        mine_checkpoint(str(cfg_path), str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError, match="no hooks.mined_quality"):
        mine_checkpoint(base, str(weights), progress=False)
