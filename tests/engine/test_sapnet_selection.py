"""SAPNet pseudo-label files: the top-1 baseline picks the highest-scoring proposal; a (tiny,
untrained) SAPNet's selection is written for every annotation in original-image pixels."""
import json
import os

import numpy as np
import pytest
import torch

from pointdet.data.proposals import load_proposals
from pointdet.engine.sapnet_selection import SAPNetSelectionProducer, select_top1_file
from pointdet.engine.relabel import relabel_file
from pointdet.sam import ClassicalSource
from pointdet.sam.generate import run_proposal_tool
from tests.sam.test_sam_proposals import _dataset


def test_top1_and_sapnet_selection_files(tmp_path):
    ann, root = _dataset(tmp_path)
    props = str(tmp_path / "props.json")
    run_proposal_tool(ann, root, props, ClassicalSource(window=16), progress=False)
    ps = load_proposals(props, ann)
    out = str(tmp_path / "top1.json")
    select_top1_file(ann, props, out, progress=False)
    got = {a["id"]: a for a in json.load(open(out))["annotations"]}
    for aid, p in ps.by_annotation.items():
        k = int(np.argmax(p.scores))
        assert got[aid]["proposal_index"] == k
        assert got[aid]["bbox"] == [float(v) for v in p.boxes[k]]
        assert got[aid]["segmentation"] == p.segmentations[k]

    from detectron2.modeling import build_model
    from tests.modeling.test_sapnet import sapnet_cfg

    cfg = sapnet_cfg()
    cfg.MODEL.SOLOV2.NUM_CLASSES = 1
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    out = str(tmp_path / "sapnet.json")
    relabel_file(SAPNetSelectionProducer(model, props), ann, out, keep={}, image_root=root, progress=False)
    data = json.load(open(out))
    sel = {a["id"]: a for a in data["annotations"] if "proposal_index" in a}
    assert sorted(sel) == sorted(ps.by_annotation)
    images = {im["id"]: im for im in data["images"]}
    for aid, a in sel.items():
        x, y, w, h = a["bbox"]
        im = images[a["image_id"]]
        assert 0 <= x and x + w <= im["width"] and 0 <= y and y + h <= im["height"]
        assert a["segmentation"] == ps[aid].segmentations[a["proposal_index"]]
    assert data["info"]["generator"] == "pointdet.sapnet_select"
    from pointdet.engine.sapnet_selection import save_selection_pictures

    paths = save_selection_pictures(out, props, root, str(tmp_path / "vis"), max_objects=2)
    assert len(paths) == 2 and all(p.endswith(".png") and os.path.getsize(p) > 0 for p in paths)


def test_selected_boxes_are_clipped_to_the_image(tmp_path, monkeypatch):
    ann, root = _dataset(tmp_path)
    props = str(tmp_path / "props.json")
    run_proposal_tool(ann, root, props, ClassicalSource(window=16), progress=False)
    from detectron2.modeling import build_model
    from tests.modeling.test_sapnet import sapnet_cfg

    cfg = sapnet_cfg()
    cfg.MODEL.SOLOV2.NUM_CLASSES = 1
    model = build_model(cfg).eval()
    select = model.select

    def select_past_the_border(inputs):  # the trained selection, its boxes moved past the image
        out = select(inputs)
        for x, r in zip(inputs, out):
            h, w = x["image"].shape[-2:]
            r["box_prm"][:, :2] -= 1000.0
            r["box_prm"][:, 2] = w + 7.5
            r["box_prm"][:, 3] = h + 3.0
        return out

    monkeypatch.setattr(model, "select", select_past_the_border)
    out = str(tmp_path / "sapnet.json")
    relabel_file(SAPNetSelectionProducer(model, props), ann, out, keep={}, image_root=root, progress=False)
    data = json.load(open(out))
    images = {im["id"]: im for im in data["images"]}
    sel = [a for a in data["annotations"] if "proposal_index" in a]
    assert sel
    for a in sel:
        im = images[a["image_id"]]
        assert a["bbox"] == [0.0, 0.0, float(im["width"]), float(im["height"])]


def test_selection_quality_hand_computed():
    from pycocotools import mask as mask_util

    from pointdet.engine.sapnet_selection import selection_quality

    m = np.zeros((20, 20), dtype=np.uint8, order="F")
    m[0:4, 0:5] = 1  # 20 px in a 5 x 4 box: R_v 1
    rle = mask_util.encode(m)
    rle["counts"] = rle["counts"].decode()
    g = np.zeros((20, 20), dtype=np.uint8, order="F")
    g[0:4, 0:2] = 1  # 8 px in a 5 x 4 true box: R_v 0.4
    grle = mask_util.encode(g)
    grle["counts"] = grle["counts"].decode()
    coco = {"annotations": [{"id": 1, "true_bbox": [0, 0, 5, 4], "true_segmentation": grle},
                            {"id": 2, "true_bbox": [0, 0, 10, 10]}, {"id": 3}]}
    results = {1: {"bbox": [0, 0, 5, 4], "segmentation": rle}, 2: {"bbox": [5, 0, 10, 10]}, 3: {"bbox": [0, 0, 1, 1]}}
    q = selection_quality(coco, results)
    assert q["objects_with_true_bbox"] == 2
    assert q["miou_box_vs_true_bbox"] == pytest.approx((1.0 + 50 / 150) / 2)
    assert q["rv_gap"] == pytest.approx(0.6)


def test_selection_file_picks_the_training_masks(tmp_path):
    """The two-stage variant: SOLOv2 labels are the proposals a selection file names."""
    import pointdet  # noqa: F401  (registers the demo datasets)
    from pointdet.sam.datasets import top1_proposal_dataset

    from detectron2.data import MetadataCatalog

    name = "pointdet_nuclei_train_coarse_points_s0"
    ann = MetadataCatalog.get(name).json_file
    root = MetadataCatalog.get(name).image_root
    props = str(tmp_path / "props.json")
    run_proposal_tool(ann, root, props, ClassicalSource(tolerances=(4, 8, 16)), progress=False)
    sel = json.load(open(ann))
    for k, a in enumerate(sel["annotations"]):
        a["proposal_index"] = k % 3
    sel_path = tmp_path / "sel.json"
    sel_path.write_text(json.dumps(sel))
    ps = load_proposals(props, ann)
    dicts = top1_proposal_dataset(name, props, str(sel_path))
    idx = {a["id"]: a["proposal_index"] for a in sel["annotations"]}
    n = 0
    for d in dicts:
        for a in d["annotations"]:
            assert a["segmentation"] == ps[a["id"]].segmentations[idx[a["id"]]]
            n += 1
    assert n == len(ps)
