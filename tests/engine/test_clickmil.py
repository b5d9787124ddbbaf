"""Click-supervised MIL end to end on tiny images (pointdet.engine.clickmil), the proposal
sources (pointdet.modeling.clickmil.proposals) and the appearance model's linear fit."""
import json
import logging
import os

import numpy as np
import pytest
import torch

from pointdet.data.annotations.clicks import run_center_clicks
from pointdet.data.proposals import ProposalFileError, load_proposals, save_detectron2_proposals
from pointdet.engine.clickmil import ClickMIL, ClickMILConfig, run_click_mil
from pointdet.modeling.clickmil.appearance import ClickMILAppearanceModel, fit_linear_classifier
from pointdet.modeling.clickmil.calibration import fit_mu_on_calibration
from pointdet.modeling.clickmil.proposals import (
    PrecomputedSource,
    SelectiveSearchSource,
    load_image_proposals,
    make_click_proposals,
)
from tests.modeling.fixtures import TinyFPN

SIZE = 64
# image id -> object boxes [x, y, w, h]; image 3 gets no proposals; image 4 has no objects
OBJECTS = {1: [[8, 8, 16, 16], [36, 30, 20, 20]], 2: [[20, 20, 24, 24]], 3: [[10, 40, 12, 12]], 4: []}


def _write_images(root):
    import cv2

    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(0)
    images = []
    for iid, boxes in OBJECTS.items():
        img = (rng.random((SIZE, SIZE, 3)) * 60).astype(np.uint8)
        for x, y, w, h in boxes:
            img[y:y + h, x:x + w] = (40, 200, 80)
        name = f"im{iid}.png"
        cv2.imwrite(os.path.join(root, name), img)
        images.append({"id": iid, "file_name": name, "width": SIZE, "height": SIZE})
    return images


@pytest.fixture
def tiny(tmp_path):
    images = _write_images(str(tmp_path / "images"))
    anns, aid = [], 1
    for iid, boxes in OBJECTS.items():
        for b in boxes:
            anns.append({"id": aid, "image_id": iid, "category_id": 1, "bbox": b, "area": b[2] * b[3], "iscrowd": 0})
            aid += 1
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "thing"}]}
    gt_path = str(tmp_path / "gt.json")
    with open(gt_path, "w") as f:
        json.dump(gt, f)
    clicks = run_center_clicks(gt_path, str(tmp_path / "clicks2.json"), seed=0, num_annotators=2, verbose=False)
    with open(clicks) as f:
        c = json.load(f)
    c["annotations"][1]["clicks"] = [[SIZE + 5.0, 40.0], [SIZE + 6.0, 41.0]]  # annotation id 2: outside image 1
    with open(clicks, "w") as f:
        json.dump(c, f)
    # proposals: each object's true box, a shifted copy, a big window; image 3 none
    rng = np.random.default_rng(1)
    d2 = {"ids": [], "boxes": [], "objectness_logits": []}
    for iid, boxes in OBJECTS.items():
        props = [] if iid == 3 else [[0, 0, SIZE, SIZE], [0, 0, 40, 40], [48, 0, SIZE, 14]]
        if iid != 3:
            for x, y, w, h in boxes:
                props += [[x, y, x + w, y + h], [x + 4, y + 4, x + w + 4, y + h + 4]]
        d2["ids"].append(iid)
        d2["boxes"].append(np.asarray(props, dtype=np.float32).reshape(-1, 4))
        d2["objectness_logits"].append(rng.random(len(props)).astype(np.float32))
    pkl = str(tmp_path / "props.pkl")
    save_detectron2_proposals(d2, pkl)
    return dict(root=str(tmp_path / "images"), gt=gt_path, clicks=clicks, pkl=pkl, tmp=tmp_path)


def _model():
    torch.manual_seed(0)
    return ClickMILAppearanceModel(backbone=TinyFPN(), in_features=["p2", "p3"], num_classes=1,
                                   pixel_mean=[100.0] * 3, pixel_std=[50.0] * 3, pooler_resolution=2)


def test_two_mil_iterations_end_to_end(tiny, caplog):
    out = str(tiny["tmp"] / "boxes.json")
    cfg = ClickMILConfig(num_iterations=2, num_folds=2, sigma_bc=8.0, lbfgs_iters=10)
    with caplog.at_level(logging.WARNING):
        stats = run_click_mil(_model(), tiny["clicks"], tiny["root"], tiny["pkl"], out, cfg, gt_json=tiny["gt"],
                              progress=False)
    log = caplog.text
    assert "image id 1 (im1.png), annotation id 2" in log and "outside the image" in log
    assert "image id 3 (im3.png) has no proposals" in log
    assert "category id 1 has no negative images" not in log  # image 4 has no objects: a negative image
    hist = stats["history"]
    assert [h["iteration"] for h in hist] == [0, 1, 2]
    assert all(h["num_gt"] == 4 and h["num_missing"] == 1 for h in hist)  # the outside click is missed
    # best proposal per object: objects 1 and 3 have their true box; 2 is left out, 4 has no proposals
    assert hist[0]["proposal_upper_bound"] == pytest.approx(0.5)
    with open(out) as f:
        boxes = json.load(f)
    by_id = {a["id"]: a for a in boxes["annotations"]}
    assert "bbox" not in by_id[2] and "clicks" in by_id[2]
    assert all("bbox" in by_id[i] and len(by_id[i]["clicks"]) == 2 for i in (1, 3, 4))
    # image 3 (no proposals) keeps the window centred on its click mean, inside the image
    c = np.mean(by_id[4]["clicks"], 0)
    half = np.minimum(c, SIZE - c)
    assert by_id[4]["bbox"] == pytest.approx([*(c - half), *(2 * half)])
    assert boxes["info"]["generator"] == "pointdet.clickmil"
    assert os.path.isfile(tiny["tmp"] / "corloc.png")
    assert len(json.load(open(tiny["tmp"] / "clickmil_history.json"))["history"]) == 3


def test_reference_mil_shares_one_box_per_image_and_single_class_negatives(tiny, caplog):
    # without image 4 every image holds the class: negatives are the unclicked proposals
    with open(tiny["clicks"]) as f:
        c = json.load(f)
    c["images"] = [im for im in c["images"] if im["id"] != 4]
    c["annotations"][1]["clicks"] = [[40.0, 34.0], [48.0, 42.0]]  # annotation id 2 back inside image 1
    path = str(tiny["tmp"] / "clicks_no_neg.json")
    with open(path, "w") as f:
        json.dump(c, f)
    cfg = ClickMILConfig(use_clicks=False, num_iterations=1, num_folds=1, lbfgs_iters=5)
    mil = ClickMIL(_model(), path, tiny["root"], tiny["pkl"], cfg, gt_json=tiny["gt"], progress=False)
    with caplog.at_level(logging.WARNING):
        mil.run()
    assert "category id 1 has no negative images" in caplog.text
    # reference MIL initializes with the whole image and localizes one box per image and class
    assert mil.history[0]["corloc"] == 0.0
    assert np.allclose(mil.boxes[1], mil.boxes[2])
    # with clicks the two objects of image 1 get their own windows
    mil = ClickMIL(_model(), path, tiny["root"], tiny["pkl"], ClickMILConfig(num_iterations=1, num_folds=1, sigma_bc=8.0),
                   gt_json=tiny["gt"], progress=False)
    mil.run()
    assert not np.allclose(mil.boxes[1], mil.boxes[2])


def test_no_negatives_at_all_is_an_error(tiny):
    with open(tiny["clicks"]) as f:
        c = json.load(f)
    c["images"] = [im for im in c["images"] if im["id"] == 2]
    c["annotations"] = [a for a in c["annotations"] if a["image_id"] == 2]
    path = str(tiny["tmp"] / "one.json")
    with open(path, "w") as f:
        json.dump(c, f)
    d2 = {"ids": [2], "boxes": [np.array([[20, 20, 44, 44]], np.float32)], "objectness_logits": [np.zeros(1, np.float32)]}
    save_detectron2_proposals(d2, str(tiny["tmp"] / "one.pkl"))
    mil = ClickMIL(_model(), path, tiny["root"], str(tiny["tmp"] / "one.pkl"), ClickMILConfig(num_iterations=1),
                   progress=False)
    with pytest.raises(ValueError, match="category id 1 has no negatives"):
        mil.run()


def test_proposal_file_missing_an_image_is_an_error(tiny):
    with open(tiny["clicks"]) as f:
        coco = json.load(f)
    d2 = {"ids": [1, 2, 4], "boxes": [np.zeros((0, 4), np.float32)] * 3, "objectness_logits": [np.zeros(0, np.float32)] * 3}
    save_detectron2_proposals(d2, str(tiny["tmp"] / "miss.pkl"))
    with pytest.raises(ProposalFileError, match=r"image id 3 \(im3.png\)"):
        load_image_proposals(str(tiny["tmp"] / "miss.pkl"), coco)


def test_make_click_proposals_selective_search_and_precomputed(tiny):
    out_json, out_pkl = str(tiny["tmp"] / "ss.json"), str(tiny["tmp"] / "ss.pkl")
    stats = make_click_proposals(tiny["clicks"], tiny["root"], out_json, out_pkl,
                                 SelectiveSearchSource(max_proposals=50), progress=False)
    assert stats["images"] == 4
    ps = load_proposals(out_json, tiny["clicks"])
    e = next(iter(ps.by_annotation.values()))
    assert e.scores is not None and ((e.scores > 0) & (e.scores <= 1)).all()
    per_image = load_image_proposals(out_pkl, json.load(open(tiny["clicks"])))
    b, o = per_image[1]
    assert len(b) > 0 and o[0] == pytest.approx(1.0) and (np.diff(o) < 0).all()  # rank objectness
    # the precomputed source: O = sigmoid(logit), an image it lacks is an error naming it
    src = PrecomputedSource(tiny["pkl"])
    boxes, obj = src(1, "im1.png", (SIZE, SIZE))
    assert ((obj > 0.5) & (obj < 1)).all()  # logits in [0, 1) -> sigmoid in [0.5, 0.73]
    with pytest.raises(ProposalFileError, match="image id 99"):
        src(99, "x.png", (SIZE, SIZE))


def test_fit_mu_on_calibration_and_linear_classifier(tiny):
    with open(tiny["clicks"]) as f:
        c = json.load(f)
    c["annotations"][1]["clicks"] = [[40.0, 34.0], [48.0, 42.0]]  # back inside
    path = str(tiny["tmp"] / "calib.json")
    with open(path, "w") as f:
        json.dump(c, f)
    mu = fit_mu_on_calibration(path, tiny["gt"], output=str(tiny["tmp"] / "mu.json"))
    assert mu.fit["n"] == 4 and os.path.isfile(tiny["tmp"] / "mu.json")
    # separable features: positives along +x, negatives along -x
    pos, neg = torch.tensor([[2.0, 0.0], [3.0, 1.0]]), torch.tensor([[-2.0, 0.0], [-3.0, -1.0], [-1.0, 1.0]])
    w, b = fit_linear_classifier(pos, neg, l2=1e-3, max_iter=50)
    assert (torch.sigmoid(pos @ w + b) > 0.9).all() and (torch.sigmoid(neg @ w + b) < 0.1).all()


class _CountingSource(SelectiveSearchSource):
    """Selective search that records the images it ran on and can fail after some (a killed run)."""

    def __init__(self, fail_after=None):
        super().__init__(max_proposals=20)
        self.calls, self.fail_after = [], fail_after

    def __call__(self, image_id, image_path, image_hw):
        if self.fail_after is not None and len(self.calls) == self.fail_after:
            raise KeyboardInterrupt("killed")
        self.calls.append(image_id)
        return super().__call__(image_id, image_path, image_hw)


def test_make_click_proposals_resumes_a_killed_run(tiny):
    out_json, out_pkl = str(tiny["tmp"] / "r.json"), str(tiny["tmp"] / "r.pkl")
    with pytest.raises(KeyboardInterrupt):
        make_click_proposals(tiny["clicks"], tiny["root"], out_json, out_pkl, _CountingSource(fail_after=2),
                             progress=False)
    assert not os.path.exists(out_json) and not os.path.exists(out_pkl)  # nothing half-written
    src = _CountingSource()
    make_click_proposals(tiny["clicks"], tiny["root"], out_json, out_pkl, src, progress=False)
    assert src.calls == [3, 4]  # images 1 and 2 came from the partial record
    full = _CountingSource()
    make_click_proposals(tiny["clicks"], tiny["root"], str(tiny["tmp"] / "f.json"), str(tiny["tmp"] / "f.pkl"), full,
                         progress=False)
    assert full.calls == [1, 2, 3, 4]
    a = load_image_proposals(out_pkl, json.load(open(tiny["clicks"])))
    b = load_image_proposals(str(tiny["tmp"] / "f.pkl"), json.load(open(tiny["clicks"])))
    assert all(np.allclose(a[i][0], b[i][0]) and np.allclose(a[i][1], b[i][1]) for i in a)
    with pytest.raises(ValueError):  # outputs must not be inputs
        make_click_proposals(tiny["clicks"], tiny["root"], tiny["clicks"], out_pkl, src, progress=False)


def test_image_class_corloc_by_hand():
    from pointdet.engine.clickmil import image_class_corloc

    gt = {"annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10]},
        {"id": 3, "image_id": 1, "category_id": 2, "bbox": [0, 20, 10, 10]},
        {"id": 4, "image_id": 2, "category_id": 1, "bbox": [5, 5, 10, 10]},
        {"id": 5, "image_id": 2, "category_id": 2, "bbox": [0, 0, 9, 9], "iscrowd": 1},
    ]}
    pseudo = {"annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10], "clickmil_score": 0.9},  # hits GT 2
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 50, 5, 5], "clickmil_score": 0.1},
        {"id": 3, "image_id": 1, "category_id": 2, "bbox": [40, 40, 10, 10], "clickmil_score": None},
        {"id": 4, "image_id": 2, "category_id": 1},  # no box: the pair is missed
    ]}
    # pairs (1, 1) hit, (1, 2) miss, (2, 1) miss; the crowd-only pair (2, 2) is not counted
    assert image_class_corloc(pseudo, gt) == pytest.approx(1 / 3)
    pseudo["annotations"][1]["clickmil_score"] = 0.95  # now the pair's window is the far one
    assert image_class_corloc(pseudo, gt) == pytest.approx(0.0)
    pseudo["annotations"][1]["clickmil_score"] = float("nan")  # nan ranks last
    assert image_class_corloc(pseudo, gt) == pytest.approx(1 / 3)


def test_selective_search_order_is_seeded(tiny):
    """OpenCV's selective search draws its ranking noise from the C library's rand(): without
    seeding, two calls on one image order the proposals differently (rank objectness changes)."""
    import cv2

    path = os.path.join(tiny["root"], "im1.png")
    src = SelectiveSearchSource(max_proposals=None, min_side=0)
    a, oa = src(1, path, (SIZE, SIZE))
    for _ in range(3):  # advance the C library's generator through unseeded runs
        ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
        ss.setBaseImage(cv2.imread(path))
        ss.switchToSelectiveSearchFast()
        ss.process()
    b, ob = src(1, path, (SIZE, SIZE))
    assert len(a) > 3 and np.array_equal(a, b) and np.array_equal(oa, ob)
    c, _ = SelectiveSearchSource(max_proposals=None, min_side=0, seed=1)(1, path, (SIZE, SIZE))
    assert sorted(map(tuple, c)) == sorted(map(tuple, a))  # the same boxes, ranked with other noise


def test_precomputed_objectness_modes_and_per_annotation_input(tiny):
    d2 = {"ids": [1], "boxes": [np.array([[0, 0, 10, 10], [5, 5, 30, 30], [0, 0, 100, 100]], np.float32)],
          "objectness_logits": [np.array([0.2, 0.9, 0.0], np.float32)]}
    boxes, o = PrecomputedSource(d2, objectness="rank")(1, "im1.png", (SIZE, SIZE))
    # sorted by score: box 1 (0.9), box 0 (0.2), box 2 (0.0, clipped to the image); O = 1 - r / 3
    assert boxes.tolist() == [[5, 5, 25, 25], [0, 0, 10, 10], [0, 0, SIZE, SIZE]]
    assert o == pytest.approx([1.0, 2 / 3, 1 / 3])
    assert PrecomputedSource(d2, objectness="raw")(1, "im1.png", (SIZE, SIZE))[1] == pytest.approx([0.9, 0.2, 0.0])
    assert PrecomputedSource(d2)(1, "im1.png", (SIZE, SIZE))[1] == pytest.approx(1 / (1 + np.exp(-np.array([0.9, 0.2, 0.0]))))
    d2["objectness_logits"] = [np.array([2.0, 0.5, 0.1], np.float32)]
    with pytest.raises(ProposalFileError, match="image id 1"):
        PrecomputedSource(d2, objectness="raw")(1, "im1.png", (SIZE, SIZE))
    # the per-annotation file as MIL input: an image's proposals = the union of its bags, no duplicates
    out_json, out_pkl = str(tiny["tmp"] / "u.json"), str(tiny["tmp"] / "u.pkl")
    make_click_proposals(tiny["clicks"], tiny["root"], out_json, out_pkl, PrecomputedSource(tiny["pkl"]), progress=False)
    coco = json.load(open(tiny["clicks"]))
    from_json = load_image_proposals(out_json, coco)
    from_pkl = load_image_proposals(out_pkl, coco)
    for iid in (1, 2):
        bj = {tuple(np.round(b, 3)) for b in from_json[iid][0]}
        bp = {tuple(np.round(b, 3)) for b in from_pkl[iid][0]}
        assert len(bj) == len(from_json[iid][0]) and bj <= bp and bj
    assert len(from_json[3][0]) == 0
