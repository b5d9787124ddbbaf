"""SAPNet pseudo-label files: the top-1 baseline picks the highest-scoring proposal; a (tiny,
untrained) SAPNet's selection is written for every annotation in original-image pixels."""
import json

import numpy as np
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
        assert -1 <= x and x + w <= im["width"] + 1 and -1 <= y and y + h <= im["height"] + 1
        assert a["segmentation"] == ps[aid].segmentations[a["proposal_index"]]
    assert data["info"]["generator"] == "pointdet.sapnet_select"
