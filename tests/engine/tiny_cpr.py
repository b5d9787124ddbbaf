"""A tiny deterministic CPRNet and point dataset shared by the relabel-engine tests.

The model is :func:`tests.modeling.fixtures.tiny_cprnet` (the one tiny backbone of the tests).

The checkpoint ``data/tiny_cprnet.pth`` (a few KB) holds the weights; the images and the point
file are rebuilt byte for byte from fixed seeds, so a refined file written from them is
reproducible and can be compared with the checked-in golden file.
"""
import json
import os

import numpy as np
import torch

from pointdet.modeling.cpr import CPRNet
from pointdet.modeling.cpr.refinement import CPRRefinementParams
from tests.modeling import fixtures

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
CHECKPOINT = os.path.join(DATA, "tiny_cprnet.pth")
NUM_CLASSES = 2


def tiny_cprnet(load: bool = True) -> CPRNet:
    """The tiny CPRNet of the shared fixtures (K = 2, R = 1, u0 = 4, refinement score threshold
    0.05); with ``load`` the checked-in weights."""
    model = fixtures.tiny_cprnet(NUM_CLASSES, refinement=CPRRefinementParams(score_threshold=0.05))
    if load:
        state = torch.load(CHECKPOINT, map_location="cpu")
        model.load_state_dict(state["model"])
    return model.eval()


#: image id -> (file name, height, width)
IMAGES = {1: ("a.png", 40, 56), 2: ("b.png", 32, 32), 3: ("c.png", 48, 40), 4: ("d.png", 24, 24)}


def point_annotations():
    """Point annotations of the tiny file: two categories (ids 3, 7), one crowd, image 4 empty."""
    rng = np.random.RandomState(7)
    anns, aid = [], 100
    for iid, (_, h, w) in sorted(IMAGES.items()):
        if iid == 4:
            continue
        for k in range(4):
            x, y = float(rng.uniform(2, w - 2)), float(rng.uniform(2, h - 2))
            bw, bh = 10.0 + k, 8.0 + k
            aid += 1
            anns.append({"id": aid, "image_id": iid, "category_id": (3, 7)[k % 2], "iscrowd": int(aid == 104),
                         "point": [round(x, 3), round(y, 3)],
                         "true_bbox": [round(x - bw / 2 + 1.5, 3), round(y - bh / 2 - 1.0, 3), bw, bh]})
    return anns


def write_tiny_dataset(folder, annotations=None, name="tiny_points.json"):
    """Write the tiny images (seeded noise + bright blobs) and point file; returns (json, image_root)."""
    import cv2

    root = os.path.join(str(folder), "images")
    os.makedirs(root, exist_ok=True)
    rng = np.random.RandomState(0)
    for iid, (fname, h, w) in sorted(IMAGES.items()):
        img = rng.randint(0, 120, size=(h, w, 3)).astype(np.uint8)
        img[h // 4: h // 2, w // 3: w // 2] = 230
        cv2.imwrite(os.path.join(root, fname), img)
    coco = {
        "info": {"generator": "tests.engine.tiny_cpr"},
        "images": [{"id": i, "file_name": f, "height": h, "width": w} for i, (f, h, w) in sorted(IMAGES.items())],
        "categories": [{"id": 3, "name": "p"}, {"id": 7, "name": "q"}],
        "annotations": point_annotations() if annotations is None else annotations,
    }
    path = os.path.join(str(folder), name)
    with open(path, "w") as f:
        json.dump(coco, f)
    return path, root


def tiny_mapper():
    """The refinement mapper of the tiny tests: short side 48 (upsamples every image)."""
    from detectron2.data import transforms as T

    from pointdet.engine.refinement import build_refinement_mapper

    return build_refinement_mapper([T.ResizeShortestEdge(48, 1000)], "RGB")


def make_checkpoint():  # pragma: no cover - run once by hand to create data/tiny_cprnet.pth
    torch.manual_seed(0)
    model = tiny_cprnet(load=False)
    with torch.no_grad():
        model.head.cls_out.bias.zero_()  # class scores spread around 0.5 so that points do move
        model.head.cls_out.weight.mul_(300.0)
    os.makedirs(DATA, exist_ok=True)
    torch.save({"model": model.state_dict()}, CHECKPOINT)
