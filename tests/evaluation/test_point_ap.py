"""Point localization mAP: hand-computed rule cases, vectorised == reference, evaluator, errors."""
import json
import logging
import math
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pointdet.data.coco_io import CocoFormatError
from pointdet.evaluation.point_ap import (
    COCO_AREA_RANGES,
    PointAPEvaluator,
    evaluate_point_ap,
    prepare_point_eval_inputs,
)
from pointdet.evaluation.point_ap_core import _greedy_match
from pointdet.evaluation.point_ap_reference import evaluate_point_ap_reference
from pointdet.utils.comm import close_process_group

ALL = [("all", 0.0, 1e10)]
BOTH = [evaluate_point_ap, evaluate_point_ap_reference]
# the reference evaluator's rules, for the cases that check its numbers
REFERENCE = dict(empty_class_rule="reference", ignore_rule="reference")


def _gt(anns, n_images=1, n_cats=1):
    images = [{"id": i + 1, "width": 200, "height": 200, "file_name": f"{i}.png"} for i in range(n_images)]
    cats = [{"id": c + 1, "name": f"c{c + 1}"} for c in range(n_cats)]
    out = []
    for i, a in enumerate(anns):
        a = dict(a)
        a.setdefault("id", i + 1)
        a.setdefault("image_id", 1)
        a.setdefault("category_id", 1)
        a.setdefault("iscrowd", 0)
        out.append(a)
    return {"images": images, "categories": cats, "annotations": out}


def _det(x, y, s, image_id=1, category_id=1):
    return {"image_id": image_id, "category_id": category_id, "point": [x, y], "score": s}


def _ap(fn, gt, dets, **kw):
    kw.setdefault("taus", [1.0])
    kw.setdefault("area_ranges", ALL)
    return fn(gt, dets, **kw)


# ---------------------------------------------------------------------------------------- toy: class A and an empty class B
@pytest.mark.parametrize("fn", BOTH)
def test_cpr_toy_0_7475(fn):
    gt = _gt(
        [
            {"bbox": [10, 10, 20, 20]},
            {"bbox": [50, 50, 10, 10]},
            {"bbox": [70, 10, 10, 10], "iscrowd": 1},
        ],
        n_cats=2,
    )
    dets = [
        _det(150, 150, 0.9),  # FP
        _det(20, 20, 0.8),  # TP
        _det(21, 21, 0.7),  # duplicate -> FP
        _det(75, 15, 0.6),  # on the crowd box -> ignored
        _det(55, 55, 0.5),  # TP
    ]
    r = _ap(fn, gt, dets, **REFERENCE)
    # class A: PR points (0,0),(0.5,0.5),(1,0.5): AP = 100 * 0.5 / 101; class B empty: AP 1
    assert r.ap[0, 0, 0, 0] == pytest.approx(50 / 101, abs=1e-12)
    assert r.ap[1, 0, 0, 0] == 1.0
    assert round(float(r.mean_ap[0, 0, 0]), 4) == 0.7475
    assert r.metrics()["AP@1.0"] == pytest.approx(100 * (50 / 101 + 1) / 2)
    # COCO's convention (default): class B has no GT and is left out of the mean
    r = _ap(fn, gt, dets)
    assert math.isnan(r.ap[1, 0, 0, 0]) and r.mean_ap[0, 0, 0] == pytest.approx(50 / 101, abs=1e-12)


# ---------------------------------------------------------------------------------------- distance
@pytest.mark.parametrize("fn", BOTH)
def test_distance_threshold_inclusive_and_continuous_centre(fn):
    gt = _gt([{"bbox": [0, 0, 10, 20]}])  # centre (5, 10) in the continuous convention
    assert _ap(fn, gt, [_det(10, 10, 0.9)], taus=[0.5]).ap[0, 0, 0, 0] == 1.0  # d = 0.5 exactly
    assert _ap(fn, gt, [_det(10.2, 10, 0.9)], taus=[0.5]).ap[0, 0, 0, 0] == 0.0  # d = 0.52
    assert _ap(fn, gt, [_det(5, 20, 0.9)], taus=[0.5]).ap[0, 0, 0, 0] == 1.0  # dy / h = 0.5
    # d = 1 exactly: matched at tau 1, not at 0.5, matched at 2
    r = _ap(fn, gt, [_det(15, 10, 0.9)], taus=[0.5, 1.0, 2.0])
    assert r.ap[0, 0, :, 0].tolist() == [0.0, 1.0, 1.0]
    # a box prediction uses its centre (x + w/2, y + h/2)
    box = {"image_id": 1, "category_id": 1, "bbox": [1, 2, 8, 16], "score": 0.5}
    assert _ap(fn, gt, [box], taus=[0.01]).ap[0, 0, 0, 0] == 1.0


# ---------------------------------------------------------------------------------------- greedy matching
@pytest.mark.parametrize("fn", BOTH)
def test_greedy_nearest_unmatched_gt(fn):
    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [10, 0, 10, 10]}])  # centres (5,5), (15,5)
    dets = [_det(11, 5, 0.9), _det(13, 5, 0.8)]  # det1: dA .6, dB .4 -> B; det2 then A at d .8
    r = _ap(fn, gt, dets, taus=[0.5, 1.0])
    assert r.ap[0, 0, 1, 0] == 1.0
    # tau 0.5: TP then FP -> kept (0.5, 1.0): thresholds 0..0.50 -> 51 / 101
    assert r.ap[0, 0, 0, 0] == pytest.approx(51 / 101, abs=1e-12)
    assert r.ar[0, 0, 0, 0] == 0.5


@pytest.mark.parametrize("fn", BOTH)
def test_score_groups_take_best_pair_first(fn):
    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [20, 0, 10, 10]}])  # centres (5,5), (25,5)
    # det1: dA .7, dB 1.3; det2: dA .1, dB 1.9; tau 1.5
    # distinct scores: det1 -> A, det2 -> B? 1.9 > 1.5 -> FP: 1 TP
    r = _ap(fn, gt, [_det(12, 5, 0.9), _det(6, 5, 0.8)], taus=[1.5])
    assert r.ap[0, 0, 0, 0] == pytest.approx(51 / 101, abs=1e-12)
    # equal scores: the group takes the pair det2-A (0.1) first, then det1-B (1.3): 2 TPs
    r = _ap(fn, gt, [_det(12, 5, 0.9), _det(6, 5, 0.9)], taus=[1.5])
    assert r.ap[0, 0, 0, 0] == 1.0
    # scores within 1e-8 of each other form one group too
    s1, s2 = 0.001000005, 0.001
    assert np.float32(s1) != np.float32(s2) and abs(np.float32(s1) - np.float32(s2)) < 1e-8
    r = _ap(fn, gt, [_det(12, 5, s1), _det(6, 5, s2)], taus=[1.5])
    assert r.ap[0, 0, 0, 0] == 1.0


# ---------------------------------------------------------------------------------------- ignore / crowd
@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("flag", [{"iscrowd": 1}, {"ignore": 1}])
def test_ignored_gt_absorbs_detections(fn, flag):
    gt = _gt([{"bbox": [0, 0, 10, 10]}, dict({"bbox": [50, 50, 10, 10]}, **flag)])
    dets = [_det(55, 55, 0.9), _det(56, 56, 0.85), _det(5, 5, 0.8)]  # two on the ignored GT, one TP
    r = _ap(fn, gt, dets)
    assert r.npos[0, 0] == 1
    assert r.ap[0, 0, 0, 0] == 1.0  # absorbed dets are neither TP nor FP
    # as a regular GT instead: npos 2, TP(0.9), FP(dup), TP -> (0.5,1), (1, 2/3)
    plain = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [50, 50, 10, 10]}])
    r = _ap(fn, plain, dets)
    assert r.ap[0, 0, 0, 0] == pytest.approx((51 * 1.0 + 50 * 2 / 3) / 101, abs=1e-12)


@pytest.mark.parametrize("fn", BOTH)
def test_regular_match_has_priority_over_ignore_and_duplicates_stay_fp(fn):
    # regular GT and crowd GT overlap; the first det matches the regular GT (TP), the second
    # (near both) is absorbed by the crowd; a far duplicate of the regular GT stays FP
    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [0, 0, 12, 12], "iscrowd": 1}, {"bbox": [100, 100, 10, 10]}])
    dets = [_det(5, 5, 0.9), _det(6, 6, 0.8), _det(109, 105, 0.7), _det(101, 105, 0.6)]
    r = _ap(fn, gt, dets)
    # pooled: TP(.9), TP(.7), FP(.6): both GTs found before the FP -> AP 1
    assert r.ap[0, 0, 0, 0] == 1.0
    dets = [_det(5, 5, 0.9), _det(5.5, 5.5, 0.85, ), _det(40, 40, 0.8), _det(105, 105, 0.7)]
    r = _ap(fn, gt, dets)
    # (40, 40) is far from everything -> FP: TP, FP, TP -> (0.5, 1), (1, 2/3)
    assert r.ap[0, 0, 0, 0] == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-12)


# ---------------------------------------------------------------------------------------- area ranges
@pytest.mark.parametrize("fn", BOTH)
def test_area_ranges_on_sqrt_wh(fn):
    # sizes: 10 (small), 32 (exactly sqrt(32^2): medium, not small), 100 (large)
    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [50, 0, 32, 32]}, {"bbox": [0, 50, 100, 100]}])
    dets = [_det(5, 5, 0.9), _det(66, 16, 0.8), _det(50, 100, 0.7), _det(190, 5, 0.95)]  # last: FP far away
    r = _ap(fn, gt, dets, area_ranges=COCO_AREA_RANGES)
    assert r.npos[0].tolist() == [3, 1, 1, 1]
    # all: FP, TP, TP, TP -> kept (0,0),(1/3,.5),(2/3,2/3),(1,.75)
    p = np.zeros(101)
    t = np.linspace(0, 1, 101)
    p[(t > 0) & (t <= np.float32(1 / 3))] = 0.5
    p[(t > np.float32(1 / 3)) & (t <= np.float32(2 / 3))] = 2 / 3
    p[t > np.float32(2 / 3)] = 0.75
    assert r.ap[0, 0, 0, 0] == pytest.approx(p.sum() / 101, abs=1e-12)
    # each size range: the out-of-range GTs absorb their dets; the far FP still counts
    for a in (1, 2, 3):
        assert r.ap[0, a, 0, 0] == pytest.approx(50 / 101, abs=1e-12)  # FP first, then the TP
    assert set(r.metrics()) >= {"AP@1.0", "AP@1.0-small", "AP@1.0-medium", "AP@1.0-large", "AR@1.0-large"}


@pytest.mark.parametrize("fn", BOTH)
def test_empty_class_rules(fn):
    # class 1: GT only; class 2: nothing; class 3: dets only; class 4: large GT only
    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [0, 0, 100, 100], "category_id": 4}], n_cats=4)
    dets = [_det(50, 50, 0.9, category_id=3), _det(50, 50, 0.9, category_id=4)]
    r = _ap(fn, gt, dets, area_ranges=COCO_AREA_RANGES, empty_class_rule="reference")
    assert r.ap[:, 0, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert r.ar[:, 0, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    # 'small': class 4's GT is out of range and absorbs its det -> no GT, no det -> 1
    assert r.ap[:, 1, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert r.mean_ap[0, 0, 0] == 0.5


@pytest.mark.parametrize("fn", BOTH)
def test_empty_class_with_far_detection_is_zero(fn):
    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [0, 0, 100, 100], "category_id": 2}], n_cats=2)
    dets = [_det(5, 5, 0.9), _det(190, 190, 0.9, category_id=2)]
    r = _ap(fn, gt, dets, area_ranges=COCO_AREA_RANGES, empty_class_rule="reference")
    # 'small': class 2 has no GT in range, but its det is not absorbed -> AP 0
    assert r.ap[:, 1, 0, 0].tolist() == [1.0, 0.0]
    # COCO's convention: class 2 is missing in 'small' (not 0), class 1 missing in 'large'
    r = _ap(fn, gt, dets, area_ranges=COCO_AREA_RANGES)
    assert r.ap[0, 1, 0, 0] == 1.0 and math.isnan(r.ap[1, 1, 0, 0])
    assert r.missing_categories() == {"all": [], "small": ["c2"], "medium": ["c1", "c2"], "large": ["c1"]}
    assert r.missing_area_ranges() == ["medium"]
    assert r.mean_ap[:, 0, 0].tolist()[:2] == [pytest.approx((1 + 0) / 2), 1.0]


# ---------------------------------------------------------------------------------------- maxDets, FPs
@pytest.mark.parametrize("fn", BOTH)
def test_max_dets_truncation_per_image_and_class(fn):
    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [20, 0, 10, 10]}, {"bbox": [40, 0, 10, 10]}], n_cats=2)
    dets = [_det(5, 5, 0.9), _det(25, 5, 0.8), _det(45, 5, 0.7)]
    dets += [_det(150, 150, 0.99, category_id=2)] * 3  # other class: does not use up the budget
    r = _ap(fn, gt, dets, max_dets=[2, 3])
    # maxDets 2: recall 2/3 in float32 (0.6666667) covers thresholds 0..0.66 -> 67 / 101
    assert r.ap[0, 0, 0, 0] == pytest.approx(67 / 101, abs=1e-12)
    assert r.ar[0, 0, 0, 0] == pytest.approx(2 / 3, abs=1e-7)
    assert r.ap[0, 0, 0, 1] == 1.0  # float32 recall reaches exactly 1.0 (NumPy 1.x semantics)
    assert "AP@1.0/md2" in r.metrics() and "AP@1.0" in r.metrics()


@pytest.mark.parametrize("fn", BOTH)
def test_detection_on_image_without_gt_is_fp(fn):
    gt = _gt([{"bbox": [0, 0, 10, 10]}], n_images=2)
    r = _ap(fn, gt, [_det(5, 5, 0.8), _det(5, 5, 0.9, image_id=2)])
    assert r.ap[0, 0, 0, 0] == pytest.approx(100 * 0.5 / 101, abs=1e-12)


# ---------------------------------------------------------------------------------------- vectorised == reference
def _random_problem(seed, n_img=4, n_cat=3, max_gt=6, max_det=20, tie_levels=None):
    rng = np.random.RandomState(seed)
    anns, dets = [], []
    for i in range(n_img):
        for c in range(n_cat):
            for _ in range(rng.randint(0, max_gt + 1)):
                w, h = rng.uniform(2, 120, 2)
                x, y = rng.uniform(0, 150, 2)
                a = {"image_id": i + 1, "category_id": c + 1, "bbox": [float(x), float(y), float(w), float(h)],
                     "iscrowd": int(rng.rand() < 0.1)}
                if rng.rand() < 0.1:
                    a["ignore"] = 1
                anns.append(a)
    boxes = [a["bbox"] for a in anns]
    for i in range(n_img):
        for c in range(n_cat):
            for _ in range(rng.randint(0, max_det + 1)):
                if boxes and rng.rand() < 0.7:
                    b = boxes[rng.randint(len(boxes))]
                    p = [b[0] + b[2] / 2 + rng.randn() * b[2] * 0.6, b[1] + b[3] / 2 + rng.randn() * b[3] * 0.6]
                else:
                    p = list(rng.uniform(0, 200, 2))
                if tie_levels == "eps":
                    s = 0.001 + rng.randint(0, 4) * 3e-9
                elif tie_levels:
                    s = rng.randint(0, tie_levels) / tie_levels
                else:
                    s = rng.rand()
                dets.append(_det(float(p[0]), float(p[1]), float(s), i + 1, c + 1))
    rng.shuffle(dets)
    return _gt(anns, n_images=n_img, n_cats=n_cat), dets


def _assert_same(a, b):
    np.testing.assert_array_equal(a.ap, b.ap)
    np.testing.assert_array_equal(a.ar, b.ar)
    np.testing.assert_array_equal(a.npos, b.npos)
    for key in b.curves:
        np.testing.assert_array_equal(a.curves[key][0], b.curves[key][0])
        np.testing.assert_array_equal(a.curves[key][1], b.curves[key][1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    tie_levels=st.sampled_from([None, 2, 5, "eps"]),
    max_dets=st.sampled_from([[100], [3, 10]]),
    taus=st.sampled_from([[0.5, 1.0, 2.0], [0.3], [1.0, 4.0]]),
    ignore_rule=st.sampled_from(["reference", "iscrowd_or_ignore"]),
)
def test_vectorized_equals_reference_random(seed, tie_levels, max_dets, taus, ignore_rule):
    gt, dets = _random_problem(seed, tie_levels=tie_levels)
    kw = dict(taus=taus, max_dets=max_dets, area_ranges=[("all", 0, 1e10), ("s", 0, 40**2), ("l", 40**2, 1e10)],
              empty_class_rule="reference", ignore_rule=ignore_rule)
    inp = prepare_point_eval_inputs(gt, dets)
    _assert_same(evaluate_point_ap(inp, None, **kw), evaluate_point_ap_reference(inp, None, **kw))


@pytest.mark.parametrize("tie_levels", [None, 3])
def test_vectorized_equals_reference_large_blocks_and_small_chunks(tie_levels):
    # > 32 detections per block (several greedy windows), > 16 tied scores (non-stable sort),
    # and a tiny chunk budget (many chunks)
    gt, dets = _random_problem(7, n_img=3, n_cat=2, max_gt=25, max_det=70, tie_levels=tie_levels)
    kw = dict(taus=[0.5, 1.0, 2.0], max_dets=[50, 100], area_ranges="coco", **REFERENCE)
    ref = evaluate_point_ap_reference(gt, dets, **kw)
    _assert_same(evaluate_point_ap(gt, dets, **kw), ref)
    _assert_same(evaluate_point_ap(gt, dets, chunk_elements=1000, **kw), ref)


def test_greedy_window_sizes_agree():
    rng = np.random.RandomState(0)
    V = rng.rand(3, 12, 5)
    gid = np.tile(np.array([0, 1, 2, 2, 3, 4, 5, 6, 7, 7, 7, 8]), (3, 1))
    cand = rng.rand(6, 12) < 0.8
    avail = rng.rand(6, 5) < 0.9
    args = (V, np.tile(np.arange(3), 2), np.full(6, 0.3), avail, cand, gid)
    base = _greedy_match(*args, window=1)
    for w in (2, 3, 32):
        np.testing.assert_array_equal(_greedy_match(*args, window=w), base)


# ---------------------------------------------------------------------------------------- bad input
def test_errors_name_file_and_id(tmp_path):
    gt = _gt([{"bbox": [0, 0, 10, 10]}])
    with pytest.raises(CocoFormatError, match="image id 7"):
        evaluate_point_ap(gt, [_det(1, 1, 0.5, image_id=7)])
    with pytest.raises(CocoFormatError, match="category id 9"):
        evaluate_point_ap(gt, [_det(1, 1, 0.5, category_id=9)])
    with pytest.raises(CocoFormatError, match="non-finite score"):
        evaluate_point_ap(gt, [_det(1, 1, float("nan"))])
    with pytest.raises(CocoFormatError, match="malformed point"):
        evaluate_point_ap(gt, [_det(float("inf"), 1, 0.5)])
    with pytest.raises(CocoFormatError, match="neither 'point' nor 'bbox'"):
        evaluate_point_ap(gt, [{"image_id": 1, "category_id": 1, "score": 0.5}])
    bad = tmp_path / "res.json"
    bad.write_text("[{")
    with pytest.raises(CocoFormatError, match="res.json: not valid JSON"):
        evaluate_point_ap(gt, str(bad))
    res = tmp_path / "r2.json"
    res.write_text(json.dumps([_det(1, 1, 0.5, image_id=3)]))
    with pytest.raises(CocoFormatError, match="r2.json: result #0 has image id 3"):
        evaluate_point_ap(gt, str(res))
    points_file = {**gt, "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "point": [1, 1]}]}
    with pytest.raises(CocoFormatError, match="annotation id 1 has no 'bbox'"):
        evaluate_point_ap(points_file, [])
    with pytest.raises(CocoFormatError, match="annotation id 1 has a degenerate bbox"):
        evaluate_point_ap(_gt([{"bbox": [0, 0, 0, 10]}]), [])
    with pytest.raises(CocoFormatError, match="duplicate annotation id 1"):
        evaluate_point_ap(_gt([{"bbox": [0, 0, 5, 10], "id": 1}, {"bbox": [0, 0, 5, 10], "id": 1}]), [])
    with pytest.raises(CocoFormatError, match="annotation id 1 refers to unknown image id 4"):
        evaluate_point_ap(_gt([{"bbox": [0, 0, 5, 10], "image_id": 4}]), [])
    with pytest.raises(ValueError, match="preset"):
        evaluate_point_ap(gt, [], area_ranges="nope")
    with pytest.raises(ValueError, match="taus"):
        evaluate_point_ap(gt, [], taus=[0])


def test_no_detections_at_all():
    gt = _gt([{"bbox": [0, 0, 10, 10]}], n_cats=2)
    for fn in BOTH:
        r = fn(gt, [], taus=[1.0], area_ranges=ALL, empty_class_rule="reference")
        assert r.ap[:, 0, 0, 0].tolist() == [0.0, 1.0]
        r = fn(gt, [], taus=[1.0], area_ranges=ALL)
        assert r.ap[0, 0, 0, 0] == 0.0 and math.isnan(r.ap[1, 0, 0, 0]) and r.mean_ap[0, 0, 0] == 0.0


# ---------------------------------------------------------------------------------------- evaluator
def _instances(points, scores, classes, as_boxes=False):
    from detectron2.structures import Boxes, Instances

    inst = Instances((200, 200))
    p = torch.tensor(points, dtype=torch.float32).reshape(-1, 2)
    if as_boxes:
        inst.pred_boxes = Boxes(torch.cat([p - 2, p + 2], dim=1))
    else:
        inst.pred_points = p
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    inst.pred_classes = torch.tensor(classes, dtype=torch.int64)
    return inst


def _evaluator_problem():
    gt, dets = _random_problem(3, n_img=4, n_cat=2, max_gt=5, max_det=8)
    # dataset category ids 1, 2 -> contiguous 0, 1
    outputs = {}
    for d in dets:
        outputs.setdefault(d["image_id"], []).append(d)
    return gt, dets, outputs


def _run_evaluator(ev, image_ids, outputs, as_boxes=False):
    ev.reset()
    for iid in image_ids:
        ds = outputs.get(iid, [])
        inst = _instances([d["point"] for d in ds], [d["score"] for d in ds], [d["category_id"] - 1 for d in ds],
                          as_boxes=as_boxes)
        ev.process([{"image_id": iid}], [{"instances": inst}])
    return ev.evaluate()


def _register(name, gt, tmp_path):
    from detectron2.data import MetadataCatalog

    path = os.path.join(str(tmp_path), f"{name}.json")
    with open(path, "w") as f:
        json.dump(gt, f)
    if name not in MetadataCatalog.list():
        MetadataCatalog.get(name).set(json_file=path, thing_classes=["c1", "c2"],
                                      thing_dataset_id_to_contiguous_id={1: 0, 2: 1})
    return path


def test_evaluator_matches_function_and_writes_files(tmp_path):
    gt, dets, outputs = _evaluator_problem()
    _register("pointdet_test_pointap_eval", gt, tmp_path)
    out_dir = str(tmp_path / "out")
    ev = PointAPEvaluator("pointdet_test_pointap_eval", out_dir, distributed=False)
    res = _run_evaluator(ev, [1, 2, 3, 4], outputs)
    # the evaluator stores float32 points; evaluate the same rounded list with the function
    with open(os.path.join(out_dir, "point_results.json")) as f:
        written = json.load(f)
    assert len(written) == len(dets) and set(written[0]) == {"image_id", "category_id", "point", "score"}
    expected = evaluate_point_ap(gt, written).metrics()
    assert res["points"] == pytest.approx(expected)
    assert os.path.isfile(os.path.join(out_dir, "point_ap_metrics.json"))
    # pred_boxes: the centre is used -> same points
    res_b = _run_evaluator(PointAPEvaluator("pointdet_test_pointap_eval", None, distributed=False),
                           [1, 2, 3, 4], outputs, as_boxes=True)
    assert res_b["points"] == pytest.approx(expected)


def test_evaluator_from_config():
    from detectron2.config import get_cfg

    from pointdet.evaluation.point_ap import add_point_eval_config

    cfg = get_cfg()
    add_point_eval_config(cfg)
    cfg.TEST.POINT_EVAL.TAUS = [1.0]
    cfg.TEST.POINT_EVAL.AREA_PRESET = "tiny"
    ev = PointAPEvaluator(cfg, "pointdet_test_pointap_cfg")
    assert ev._taus == (1.0,) and ev._area_ranges[1][0] == "tiny"


def _dist_worker(tmp_dir, gt, outputs):
    from detectron2.utils import comm

    name = "pointdet_test_pointap_dist"
    _register(name, gt, tmp_dir)
    ev = PointAPEvaluator(name, os.path.join(tmp_dir, "dist_out"))
    rank = comm.get_rank()
    image_ids = [1, 3] if rank == 0 else [2, 4]  # each process sees half of the images
    res = _run_evaluator(ev, image_ids, outputs)
    if comm.is_main_process():
        with open(os.path.join(tmp_dir, "dist_metrics.json"), "w") as f:
            json.dump(res["points"], f)
    else:
        assert res == {}
    close_process_group()


@pytest.mark.timeout(300)
def test_evaluator_two_gloo_processes(tmp_path):
    from detectron2.engine import launch

    gt, dets, outputs = _evaluator_problem()
    launch(_dist_worker, 2, dist_url="auto", args=(str(tmp_path), gt, outputs))
    with open(tmp_path / "dist_metrics.json") as f:
        got = json.load(f)
    with open(tmp_path / "dist_out" / "point_results.json") as f:
        written = json.load(f)
    assert len(written) == len(dets)
    _register("pointdet_test_pointap_eval2", gt, tmp_path)
    single = _run_evaluator(PointAPEvaluator("pointdet_test_pointap_eval2", None, distributed=False, gt=gt),
                            [1, 2, 3, 4], outputs)
    assert got == pytest.approx(single["points"])
    assert got == pytest.approx(evaluate_point_ap(gt, written).metrics())


def test_pr_curve_plot(tmp_path):
    from pointdet.evaluation.plots import plot_point_pr_curves

    gt, dets = _random_problem(1, n_img=2, n_cat=2)
    r = evaluate_point_ap(gt, dets)
    path = plot_point_pr_curves(r, str(tmp_path / "pr.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_files_function_prints_the_tables_and_writes_the_outputs(tmp_path):
    from pointdet.evaluation.point_ap import evaluate_point_ap_files

    gt, dets = _random_problem(2, n_img=2, n_cat=2)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(dets))
    lines = []
    r = evaluate_point_ap_files(str(tmp_path / "gt.json"), str(tmp_path / "res.json"), taus=(0.5, 1), area_ranges="tiny",
                                output_dir=str(tmp_path / "o"), print_fn=lines.append)
    out = "\n".join(lines)
    assert "Location eval: (AP/AR) @[ dis=1.0 | area=tiny" in out
    with open(tmp_path / "o" / "point_ap_metrics.json") as f:
        m = json.load(f)
    assert m["metrics"]["AP@1.0"] == pytest.approx(r.metrics()["AP@1.0"])
    assert r.metrics() == pytest.approx(evaluate_point_ap(gt, dets, (0.5, 1), area_ranges="tiny").metrics(), nan_ok=True)
    assert (tmp_path / "o" / "point_pr_curves.png").is_file()
    # a readable table: one row per (area range, maxDets), one column per tau
    header = next(line for line in out.splitlines() if line.startswith("| area"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "area", "maxDets", "GT", "categories", "AP@0.5", "AP@1.0", "AR@0.5", "AR@1.0"]
    assert sum(line.startswith("| tiny1 ") for line in out.splitlines()) == 1


def test_custom_area_ranges_and_rules(tmp_path):
    from pointdet.evaluation.point_ap import evaluate_point_ap_files, resolve_area_ranges

    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [50, 50, 40, 40], "ignore": 1}], n_cats=2)
    dets = [_det(5, 5, 0.9), _det(70, 70, 0.8)]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(dets))
    ranges = resolve_area_ranges([("everything", "0", "1e10"), ("big", "400", "1e10")])
    assert ranges == (("everything", 0.0, 1e10), ("big", 400.0, 1e10))
    lines = []
    args = (str(tmp_path / "gt.json"), str(tmp_path / "res.json"), (1.0,))
    r = evaluate_point_ap_files(*args, area_ranges=ranges, print_fn=lines.append)
    assert r.area_labels == ["everything", "big"]
    assert r.npos[0].tolist() == [1, 0]  # the ignore GT is an ignore region by default
    assert r.ap[0, 0, 0, 0] == 1.0 and math.isnan(r.mean_ap[1, 0, 0])
    out = "\n".join(lines)
    assert "area ranges without any GT" in out and "big" in out
    assert "left out of the mean: c2" in out
    r = evaluate_point_ap_files(*args, area_ranges=ranges, print_fn=lines.append, **REFERENCE)
    assert r.npos[0].tolist() == [2, 1]  # only iscrowd is honoured: the 'ignore' GT is regular
    assert r.ap[1, 0, 0, 0] == 1.0  # no GT, no detection: AP 1 under the reference rule
    with pytest.raises(ValueError, match="min_area < max_area"):
        resolve_area_ranges([("bad", "10", "5")])


@pytest.mark.parametrize("which", ["gt", "results"])
def test_output_dir_never_replaces_an_input(tmp_path, which):
    from pointdet.evaluation.point_ap import evaluate_point_ap_files

    gt = _gt([{"bbox": [0, 0, 10, 10]}])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # an input that sits where an output would be written
    gt_path = out_dir / "point_ap_metrics.json" if which == "gt" else tmp_path / "gt.json"
    res_path = out_dir / "point_pr_curves.png" if which == "results" else tmp_path / "res.json"
    gt_path.write_text(json.dumps(gt))
    res_path.write_text(json.dumps([_det(5, 5, 0.9)]))
    before = (gt_path.read_bytes(), res_path.read_bytes())
    with pytest.raises(ValueError, match="would overwrite the input file"):
        evaluate_point_ap_files(str(gt_path), str(res_path), output_dir=str(out_dir), print_fn=lambda s: None)
    assert (gt_path.read_bytes(), res_path.read_bytes()) == before
    with pytest.raises(ValueError, match="would overwrite the input file"):
        evaluate_point_ap_files(str(gt_path), str(res_path), output_dir=str(res_path), print_fn=lambda s: None)


# ---------------------------------------------------------------------------------------- categories without GT
def test_categories_without_gt_do_not_raise_the_mean(caplog):
    # 20 categories, 6 of them annotated, no detections: every annotated category scores 0.
    # The reference rule gives 14 / 20 = 70 mAP; COCO's convention (default) gives 0.
    anns = [{"bbox": [10 * c, 0, 10, 10], "category_id": c + 1} for c in range(6)]
    gt = _gt(anns, n_cats=20)
    with caplog.at_level(logging.INFO, logger="pointdet.evaluation.point_ap"):
        r = evaluate_point_ap(gt, [], taus=[1.0], area_ranges=ALL)
    assert r.metrics()["AP@1.0"] == 0.0 and r.metrics()["AR@1.0"] == 0.0
    assert r.missing_categories()["all"] == [f"c{c}" for c in range(7, 21)]
    assert math.isnan(r.metrics()["AP-c7"]) and r.metrics()["AP-c1"] == 0.0
    assert "14 of 20 categories have no GT and are left out of the mean: c7, c8" in caplog.text
    assert evaluate_point_ap(gt, [], taus=[1.0], area_ranges=ALL,
                             empty_class_rule="reference").metrics()["AP@1.0"] == pytest.approx(70.0)
    # the JSON form stores missing values as null
    d = r.to_json_dict()
    json.dumps(d, allow_nan=False)
    assert d["metrics"]["AP-c7"] is None and d["ap"][6][0][0][0] is None


def test_area_range_without_gt_is_missing_not_perfect():
    gt = _gt([{"bbox": [0, 0, 10, 10]}])  # one small GT
    r = evaluate_point_ap(gt, [_det(5, 5, 0.9)], taus=[1.0], area_ranges="coco")
    m = r.metrics()
    assert m["AP@1.0"] == 100.0 and m["AP@1.0-small"] == 100.0
    assert math.isnan(m["AP@1.0-medium"]) and math.isnan(m["AP@1.0-large"])
    assert r.missing_area_ranges() == ["medium", "large"]
    ref = evaluate_point_ap(gt, [_det(5, 5, 0.9)], taus=[1.0], area_ranges="coco", empty_class_rule="reference")
    assert ref.metrics()["AP@1.0-medium"] == 100.0  # the reference's AP 1 for "no GT, no detection"


def test_rule_names_are_checked():
    gt = _gt([{"bbox": [0, 0, 10, 10]}])
    with pytest.raises(ValueError, match="empty_class_rule"):
        evaluate_point_ap(gt, [], empty_class_rule="voc")
    with pytest.raises(ValueError, match="ignore_rule"):
        evaluate_point_ap(gt, [], ignore_rule="crowd")


# ---------------------------------------------------------------------------------------- reference ignore rule
@pytest.mark.parametrize("fn", BOTH)
def test_reference_ignore_rule_honours_only_iscrowd(fn):
    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [50, 50, 10, 10], "ignore": 1},
              {"bbox": [100, 100, 10, 10], "iscrowd": 1}])
    dets = [_det(55, 55, 0.9), _det(105, 105, 0.85), _det(5, 5, 0.8)]
    r = _ap(fn, gt, dets, ignore_rule="reference")
    assert r.npos[0, 0] == 2  # the 'ignore' GT is a regular GT; the crowd one still absorbs
    assert r.ap[0, 0, 0, 0] == 1.0
    r = _ap(fn, gt, dets)
    assert r.npos[0, 0] == 1 and r.ap[0, 0, 0, 0] == 1.0


def test_reference_ignore_rule_averages_ar_in_float32():
    # AR 1/3 (one of three GTs found) and 1: float32 mean differs from the float64 mean
    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [20, 0, 10, 10]}, {"bbox": [40, 0, 10, 10]},
              {"bbox": [0, 0, 10, 10], "category_id": 2}], n_cats=2)
    dets = [_det(5, 5, 0.9), _det(5, 5, 0.9, category_id=2)]
    ar32 = float(np.mean(np.array([np.float32(1 / 3), 1.0], dtype=np.float32), dtype=np.float32))
    ar64 = (float(np.float32(1 / 3)) + 1.0) / 2
    assert ar32 != ar64
    r = evaluate_point_ap(gt, dets, taus=[1.0], area_ranges=ALL, ignore_rule="reference")
    assert r.mean_ar[0, 0, 0] == ar32
    assert evaluate_point_ap(gt, dets, taus=[1.0], area_ranges=ALL).mean_ar[0, 0, 0] == ar64


def test_evaluator_from_dataset_dicts_without_json():
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.structures import BoxMode

    def dicts():
        return [{"file_name": "a.png", "image_id": 1, "height": 100, "width": 100, "annotations": [
            {"bbox": [0, 0, 10, 10], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0, "iscrowd": 0},
            {"bbox": [20, 20, 60, 60], "bbox_mode": BoxMode.XYXY_ABS, "category_id": 1, "iscrowd": 0}]}]

    outputs = [{"instances": _instances([[5, 5], [55, 40], [90, 90]], [0.9, 0.8, 0.95], [0, 1, 1])}]
    # no id mapping: Detectron2's convert_to_coco_dict gives 0-based category ids -> a clear error
    name = "pointdet_test_pointap_dicts_0based"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, dicts)
        MetadataCatalog.get(name).set(thing_classes=["a", "b"])
    ev = PointAPEvaluator(name, None, distributed=False, area_ranges=ALL, taus=[0.5])
    ev.reset()
    ev.process([{"image_id": 1}], outputs)
    with pytest.raises(CocoFormatError, match=f"{name}.*ids < 1.*thing_dataset_id_to_contiguous_id"):
        ev.evaluate()
    # with the mapping (COCO ids 1, 2), the dicts are evaluated
    name = "pointdet_test_pointap_dicts"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, dicts)
        MetadataCatalog.get(name).set(thing_classes=["a", "b"], thing_dataset_id_to_contiguous_id={1: 0, 2: 1})
    ev = PointAPEvaluator(name, None, distributed=False, area_ranges=ALL, taus=[0.5])
    ev.reset()
    # class a: TP; class b: centre (40, 40), size 40: (55, 40) is at d = 0.375 -> TP, then a FP
    ev.process([{"image_id": 1}], outputs)
    m = ev.evaluate()["points"]
    assert m["AP-a"] == 100.0
    assert m["AP-b"] == pytest.approx(100 * 100 * 0.5 / 101)


def test_evaluator_gt_dict_with_zero_based_ids_is_an_error(tmp_path):
    gt = _gt([{"bbox": [0, 0, 10, 10]}], n_cats=2)
    for c in gt["categories"]:
        c["id"] -= 1
    gt["annotations"][0]["category_id"] = 0
    _register("pointdet_test_pointap_zero", _gt([{"bbox": [0, 0, 10, 10]}], n_cats=2), tmp_path)
    ev = PointAPEvaluator("pointdet_test_pointap_zero", None, distributed=False, gt=gt)
    ev.reset()
    ev.process([{"image_id": 1}], [{"instances": _instances([[5, 5]], [0.9], [0])}])
    with pytest.raises(CocoFormatError, match="category id 0 is < 1"):
        ev.evaluate()
