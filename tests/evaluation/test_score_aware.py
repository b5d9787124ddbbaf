"""Tests of pointdet.evaluation.score_aware (SIOD score-aware AP) and its CLI."""
import contextlib
import copy
import io
import json
import math
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_util
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances
from detectron2.evaluation import COCOEvaluator
from detectron2.evaluation.coco_evaluation import COCOevalMaxDets
from detectron2.structures import Boxes, Instances

from pointdet.data.coco_io import CocoFormatError
from pointdet.utils.comm import close_process_group
from pointdet.evaluation.score_aware import (
    SCORE_THRESHOLDS,
    ScoreAwareCOCOeval,
    STAT_NAMES,
    ScoreAwareCOCOEvaluator,
    evaluate_score_aware,
    evaluate_score_aware_tasks,
    format_score_aware_table,
    plot_ap_vs_score_threshold,
    round_result_scores,
)

IMG = 160  # synthetic image side (px): boxes up to 150 px so small/medium/large all occur


# --------------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------------
def _rect_poly(x, y, w, h):
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def make_gt(rng, num_images=3, num_cats=2, with_masks=False):
    images = [{"id": i + 1, "width": IMG, "height": IMG, "file_name": f"im{i + 1}.png"} for i in range(num_images)]
    cats = [{"id": c + 1, "name": f"c{c + 1}"} for c in range(num_cats)]
    anns = []
    for img in images:
        for _ in range(int(rng.integers(0, 5))):
            w, h = rng.uniform(4, 120, 2)
            x, y = rng.uniform(0, IMG - w), rng.uniform(0, IMG - h)
            a = {
                "id": len(anns) + 1,
                "image_id": img["id"],
                "category_id": int(rng.integers(1, num_cats + 1)),
                "bbox": [float(x), float(y), float(w), float(h)],
                "area": float(w * h),
                "iscrowd": int(rng.random() < 0.15),
            }
            if with_masks:
                a["segmentation"] = _rect_poly(float(x), float(y), float(w), float(h))
            anns.append(a)
    return {"images": images, "categories": cats, "annotations": anns}


# Scores: exact threshold values (incl. 0.3/0.6/0.7, which np.arange puts slightly above),
# 2-decimal values and ties, and arbitrary floats.
_SPECIAL_SCORES = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]


def _score(rng):
    u = rng.random()
    if u < 0.4:
        return float(rng.choice(_SPECIAL_SCORES))
    if u < 0.7:
        return float(round(rng.random(), 2))
    return float(rng.random())


def _rect_rle(x, y, w, h):
    m = np.zeros((IMG, IMG), dtype=np.uint8)
    x0, y0 = int(max(0, round(x))), int(max(0, round(y)))
    x1, y1 = int(min(IMG, round(x + w))), int(min(IMG, round(y + h)))
    m[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)] = 1
    rle = mask_util.encode(np.asfortranarray(m))
    rle["counts"] = rle["counts"].decode("utf-8")
    return rle


def make_dets(rng, gt, max_per_gt=3, num_random=3, with_masks=False):
    dets = []
    ncat = len(gt["categories"])
    for a in gt["annotations"]:
        for _ in range(int(rng.integers(0, max_per_gt + 1))):
            x, y, w, h = a["bbox"]
            j = rng.normal(0, 0.15, 4) * np.array([w, h, w, h])
            b = [x + j[0], y + j[1], max(1.0, w + j[2]), max(1.0, h + j[3])]
            cat = a["category_id"] if rng.random() < 0.8 else int(rng.integers(1, ncat + 1))
            dets.append({"image_id": a["image_id"], "category_id": cat, "bbox": [float(v) for v in b], "score": _score(rng)})
    for img in gt["images"]:
        for _ in range(int(rng.integers(0, num_random + 1))):
            w, h = rng.uniform(3, 100, 2)
            x, y = rng.uniform(0, IMG - w), rng.uniform(0, IMG - h)
            dets.append(
                {"image_id": img["id"], "category_id": int(rng.integers(1, ncat + 1)),
                 "bbox": [float(x), float(y), float(w), float(h)], "score": _score(rng)}
            )
    if with_masks:
        for d in dets:
            d["segmentation"] = _rect_rle(*d["bbox"])
    return dets


def _coco(d):
    c = COCO()
    c.dataset = copy.deepcopy(d)
    with contextlib.redirect_stdout(io.StringIO()):
        c.createIndex()
    return c


def stock_stats(gt, dets, iou_type, thr, max_dets=(1, 10, 100)):
    """Stock pycocotools COCOeval on the detections with score >= thr (the definition)."""
    coco_gt = _coco(gt)
    kept = [copy.deepcopy(d) for d in dets if d["score"] >= thr]
    if iou_type == "segm":
        for d in kept:
            d.pop("bbox", None)
    with contextlib.redirect_stdout(io.StringIO()):
        if kept:
            coco_dt = coco_gt.loadRes(kept)
        else:  # loadRes cannot take an empty list; an empty result COCO is the same thing
            coco_dt = _coco({"images": gt["images"], "categories": gt["categories"], "annotations": []})
        # Detectron2's COCOevalMaxDets when maxDets[2] != 100 (stock summarize hard-codes 100 for AP)
        E = (COCOeval if max_dets[2] == 100 else COCOevalMaxDets)(coco_gt, coco_dt, iou_type)
        E.params.maxDets = list(max_dets)
        E.evaluate()
        E.accumulate()
        E.summarize()
    return np.asarray(E.stats)


# --------------------------------------------------------------------------------------------
# Equivalence with stock COCOeval on score-filtered detections (the definition of AP@S_i)
# --------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    num_images=st.integers(1, 4),
    num_cats=st.integers(1, 3),
    iou_type=st.sampled_from(["bbox", "segm"]),
)
def test_equals_stock_cocoeval_on_filtered_detections(seed, num_images, num_cats, iou_type):
    rng = np.random.default_rng(seed)
    segm = iou_type == "segm"
    gt = make_gt(rng, num_images, num_cats, with_masks=segm)
    dets = make_dets(rng, gt, with_masks=segm)
    dets_before = copy.deepcopy(dets)
    out = evaluate_score_aware(gt, dets, iou_type=iou_type)
    assert dets == dets_before  # the input list is not mutated (loadRes would)
    assert out["stats"].shape == (10, 12)
    for i, t in enumerate(SCORE_THRESHOLDS):
        np.testing.assert_array_equal(out["stats"][i], stock_stats(gt, dets, iou_type, t), err_msg=f"S_{i}")
    ap = out["stats"][:, 0]
    if np.all(ap >= 0):
        assert out["metrics"]["AP@S"] == pytest.approx(ap.mean() * 100, abs=1e-12)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), iou_type=st.sampled_from(["bbox", "segm"]))
def test_no_gt_shortcut_gives_pycocotools_eval_imgs(seed, iou_type):
    # ScoreAwareCOCOeval's per-image results are pycocotools' exactly (values, dtypes, shapes).
    rng = np.random.default_rng(seed)
    segm = iou_type == "segm"
    gt = make_gt(rng, 4, 3, with_masks=segm)
    dets = make_dets(rng, gt, num_random=6, with_masks=segm)
    if segm:
        dets = [{k: v for k, v in d.items() if k != "bbox"} for d in dets]
    if not dets:
        return
    coco_gt = _coco(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(copy.deepcopy(dets))
        ref, ours = COCOeval(coco_gt, coco_dt, iou_type), ScoreAwareCOCOeval(coco_gt, coco_dt, iou_type)
        ref.params.maxDets = ours.params.maxDets = [1, 2, 3]
        ref.evaluate()
        ours.evaluate()
    assert len(ref.evalImgs) == len(ours.evalImgs)
    for a, b in zip(ref.evalImgs, ours.evalImgs):
        assert (a is None) == (b is None)
        if a is None:
            continue
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], np.ndarray):
                assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
                np.testing.assert_array_equal(a[k], b[k], err_msg=k)
            else:
                assert a[k] == b[k], k


def test_equals_stock_with_small_max_dets():
    rng = np.random.default_rng(3)
    gt = make_gt(rng, 4, 2)
    dets = make_dets(rng, gt, max_per_gt=4, num_random=5)
    out = evaluate_score_aware(gt, dets, "bbox", max_dets=(1, 2, 3))
    for i, t in enumerate(SCORE_THRESHOLDS):
        np.testing.assert_array_equal(out["stats"][i], stock_stats(gt, dets, "bbox", t, (1, 2, 3)))


# --------------------------------------------------------------------------------------------
# Hand-computed values
# --------------------------------------------------------------------------------------------
def _one_gt():
    return {
        "images": [{"id": 1, "width": 100, "height": 100, "file_name": "a.png"}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0}],
    }


def test_hand_computed_fp_before_tp():
    # FP at 0.95 (no overlap) then TP at 0.5 (IoU 1). t <= 0.5: ranks [FP, TP] -> precision
    # envelope 0.5 at every recall level -> AP 0.5. t >= 0.6: only the FP -> AP 0.
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [60, 60, 20, 20], "score": 0.95},
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.5},
    ]
    out = evaluate_score_aware(_one_gt(), dets)
    expected = [0.5] * 6 + [0.0] * 4
    np.testing.assert_allclose(out["stats"][:, 0], expected, rtol=0, atol=1e-12)
    assert out["metrics"]["AP@S"] == pytest.approx(30.0)
    assert out["metrics"]["AP@S_5"] == pytest.approx(50.0)
    assert out["metrics"]["AP@S_6"] == 0.0
    # AR100 is 1 while the TP is kept, 0 after
    np.testing.assert_array_equal(out["stats"][:, STAT_NAMES.index("AR100")], [1] * 6 + [0] * 4)


def test_reference_float_thresholds_exclude_exact_0p3():
    # np.arange(0, 1, 0.1)[3] is 0.30000000000000004: a score of exactly 0.3 is dropped at S_3
    # (the reference oracle's behaviour), while 0.2 at S_2 and 0.5 at S_5 are kept (>=).
    assert SCORE_THRESHOLDS[3] > 0.3 and SCORE_THRESHOLDS[2] == 0.2
    tp = {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.3}
    out = evaluate_score_aware(_one_gt(), [tp])
    np.testing.assert_allclose(out["stats"][:, 0], rtol=0, atol=1e-12, desired=[1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    tp["score"] = 0.2
    out = evaluate_score_aware(_one_gt(), [tp])
    np.testing.assert_allclose(out["stats"][:, 0], rtol=0, atol=1e-12, desired=[1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    tp["score"] = 0.5
    out = evaluate_score_aware(_one_gt(), [tp])
    np.testing.assert_allclose(out["stats"][:, 0], rtol=0, atol=1e-12, desired=[1] * 6 + [0] * 4)


def test_round_scores_option():
    # 0.296 rounds to 0.30 (dropped at S_3); 0.304 rounds to 0.30 too; unrounded 0.304 is kept.
    tp = {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.304}
    assert round_result_scores([tp])[0]["score"] == 0.3 and tp["score"] == 0.304
    plain = evaluate_score_aware(_one_gt(), [tp])
    rounded = evaluate_score_aware(_one_gt(), [tp], round_scores=True)
    assert plain["stats"][3, 0] == pytest.approx(1) and rounded["stats"][3, 0] == 0


def test_custom_thresholds_and_empty_results():
    out = evaluate_score_aware(_one_gt(), [], thresholds=[0.0, 0.5])
    assert out["stats"].shape == (2, 12)
    np.testing.assert_array_equal(out["stats"][:, 0], [0, 0])
    assert list(out["metrics"]) == [f"{n}@S" for n in STAT_NAMES] + ["AP@S_0", "AP@S_1"]


# --------------------------------------------------------------------------------------------
# Files, CLI and plot
# --------------------------------------------------------------------------------------------
def _write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)
    return str(path)


def test_files_function_writes_table_and_plot(tmp_path):
    rng = np.random.default_rng(0)
    gt = make_gt(rng, 3, 2)
    dets = make_dets(rng, gt)
    gp, rp = _write(tmp_path / "gt.json", gt), _write(tmp_path / "res.json", dets)
    out_json, png = tmp_path / "out" / "sa.json", tmp_path / "out" / "sa.png"
    out = evaluate_score_aware_tasks(gp, rp, iou_types=["bbox"], output_json=str(out_json), plot_path=str(png))
    printed = format_score_aware_table(out["bbox"]["table"])
    assert "| AP@S |" in printed and "| S_9 |" in printed and "percent" in printed
    # the exact thresholds are printed: a score of exactly 0.3 is below S_3
    assert "| S_3 | 0.30000000000000004 |" in printed and "| S_5 | 0.5 |" in printed
    table = json.load(open(out_json))["bbox"]
    assert table == json.loads(json.dumps(out["bbox"]["table"]))
    assert table["thresholds"] == [float(t) for t in SCORE_THRESHOLDS]
    assert len(table["per_threshold"]) == 10 and set(STAT_NAMES) <= set(table["per_threshold"][4])
    ref = stock_stats(gt, dets, "bbox", SCORE_THRESHOLDS[4])
    assert table["per_threshold"][4]["AP75"] == pytest.approx(ref[2] * 100, abs=1e-12)
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_rejects_bad_shape(tmp_path):
    with pytest.raises(ValueError):
        plot_ap_vs_score_threshold(np.zeros((3, 12)), SCORE_THRESHOLDS, str(tmp_path / "x.png"))


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d[0].update(image_id=999), "image id 999"),
        (lambda d: d[0].update(category_id=7), "unknown category id 7"),
        (lambda d: d[0].update(score=float("nan")), "non-finite score"),
        (lambda d: d[0].pop("score"), "has no 'score'"),
        (lambda d: d[0].update(bbox=[1, 2, 3]), "malformed bbox"),
    ],
)
def test_bad_results_raise_naming_entry(tmp_path, mutate, match):
    dets = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.5}]
    mutate(dets)
    gp = _write(tmp_path / "gt.json", _one_gt())
    rp = _write(tmp_path / "res.json", dets) if not any(isinstance(d.get("score"), float) and math.isnan(d["score"]) for d in dets) else None
    if rp is None:  # json.dump writes NaN as a bare token, which json.load accepts: test the file too
        rp = str(tmp_path / "res.json")
        with open(rp, "w") as f:
            f.write(json.dumps(dets))
    with pytest.raises(CocoFormatError, match=match) as e:
        evaluate_score_aware(gp, rp)
    assert "res.json" in str(e.value) and "result #0" in str(e.value)
    with pytest.raises(CocoFormatError, match=match):
        evaluate_score_aware(gp, dets)


def test_malformed_json_and_missing_files(tmp_path):
    gp = _write(tmp_path / "gt.json", _one_gt())
    bad = tmp_path / "bad.json"
    bad.write_text('[{"image_id": 1, ')
    with pytest.raises(CocoFormatError, match="bad.json: not valid JSON"):
        evaluate_score_aware(gp, str(bad))
    notlist = _write(tmp_path / "obj.json", {"annotations": []})
    with pytest.raises(CocoFormatError, match="must be a JSON list"):
        evaluate_score_aware(gp, notlist)
    with pytest.raises(FileNotFoundError, match="nope.json"):
        evaluate_score_aware(gp, str(tmp_path / "nope.json"))
    badgt = tmp_path / "badgt.json"
    badgt.write_text("{")
    with pytest.raises(CocoFormatError, match="badgt.json"):
        evaluate_score_aware(str(badgt), [])
    with pytest.raises(ValueError, match="iou_type"):
        evaluate_score_aware(gp, [], iou_type="keypoints")


def test_bad_input_writes_nothing(tmp_path):
    gp = _write(tmp_path / "gt.json", _one_gt())
    rp = _write(tmp_path / "res.json", [{"image_id": 5, "category_id": 1, "bbox": [0, 0, 2, 2], "score": 0.1}])
    out_json, png = tmp_path / "o.json", tmp_path / "o.png"
    with pytest.raises(CocoFormatError, match="image id 5"):
        evaluate_score_aware_tasks(gp, rp, output_json=str(out_json), plot_path=str(png))
    assert not out_json.exists() and not png.exists()


# --------------------------------------------------------------------------------------------
# DatasetEvaluator API against Detectron2's COCOEvaluator
# --------------------------------------------------------------------------------------------
def _register(name, json_path):
    if name not in DatasetCatalog.list():
        register_coco_instances(name, {}, json_path, os.path.dirname(json_path))
    DatasetCatalog.get(name)  # fills thing_dataset_id_to_contiguous_id
    return name


def make_d2_predictions(gt, seed):
    """(inputs, outputs) pairs with Instances (boxes, scores, classes, masks) for every image."""
    rng = np.random.default_rng(seed)
    dets = make_dets(rng, gt, max_per_gt=3, num_random=4)
    pairs = []
    for img in gt["images"]:
        ds = [d for d in dets if d["image_id"] == img["id"]]
        inst = Instances((IMG, IMG))
        xyxy = [[d["bbox"][0], d["bbox"][1], d["bbox"][0] + d["bbox"][2], d["bbox"][1] + d["bbox"][3]] for d in ds]
        inst.pred_boxes = Boxes(torch.tensor(xyxy, dtype=torch.float32).reshape(-1, 4))
        inst.scores = torch.tensor([d["score"] for d in ds], dtype=torch.float32)
        inst.pred_classes = torch.tensor([d["category_id"] - 1 for d in ds], dtype=torch.int64)
        masks = torch.zeros((len(ds), IMG, IMG), dtype=torch.bool)
        for k, b in enumerate(xyxy):
            x0, y0 = int(b[0]), int(b[1])
            masks[k, y0 : max(int(b[3]), y0 + 1), x0 : max(int(b[2]), x0 + 1)] = True
        inst.pred_masks = masks
        pairs.append(({"image_id": img["id"], "height": IMG, "width": IMG}, {"instances": inst}))
    return pairs


def _same(a, b):
    assert set(a) == set(b)
    for task in a:
        assert set(a[task]) == set(b[task]), task
        for k in a[task]:
            x, y = a[task][k], b[task][k]
            assert (math.isnan(x) and math.isnan(y)) or x == y, (task, k, x, y)


@pytest.fixture
def tiny_dataset(tmp_path):
    rng = np.random.default_rng(11)
    gt = make_gt(rng, num_images=5, num_cats=3, with_masks=True)
    path = _write(tmp_path / "tiny_gt.json", gt)
    name = f"pointdet_test_score_aware_{abs(hash(str(tmp_path)))}"
    _register(name, path)
    yield name, gt, path
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def test_ap_s0_equals_detectron2_coco_evaluator(tiny_dataset, tmp_path):
    name, gt, _ = tiny_dataset
    pairs = make_d2_predictions(gt, seed=5)
    stock = COCOEvaluator(name, tasks=("bbox", "segm"), distributed=False, use_fast_impl=False)
    ours = ScoreAwareCOCOEvaluator(name, tasks=("bbox", "segm"), distributed=False, output_dir=str(tmp_path / "ev"))
    for ev in (stock, ours):
        ev.reset()
        for inp, out in pairs:
            ev.process([inp], [out])
    r_stock, r_ours = stock.evaluate(), ours.evaluate()
    for task in ("bbox", "segm"):
        # Every Detectron2 metric (incl. per-category AP) is identical, and AP@S_0 == AP exactly.
        for k, v in r_stock[task].items():
            assert (math.isnan(v) and math.isnan(r_ours[task][k])) or r_ours[task][k] == v, (task, k)
        assert r_ours[task]["AP@S_0"] == r_stock[task]["AP"]
        aps = [r_ours[task][f"AP@S_{i}"] for i in range(10)]
        assert r_ours[task]["AP@S"] == pytest.approx(np.mean(aps), abs=1e-9)
        assert os.path.isfile(tmp_path / "ev" / f"score_aware_{task}.json")
        assert os.path.isfile(tmp_path / "ev" / f"score_aware_{task}.png")
        table = ours.score_aware_tables[task]
        assert table["per_threshold"][0]["AP"] == r_stock[task]["AP"]
    # The function form on the dumped results agrees with the evaluator.
    fn = evaluate_score_aware(tiny_dataset[2], str(tmp_path / "ev" / "coco_instances_results.json"), "bbox")
    assert fn["metrics"]["AP@S"] == r_ours["bbox"]["AP@S"]


def test_evaluator_rejects_nan_scores(tiny_dataset):
    name, gt, _ = tiny_dataset
    pairs = make_d2_predictions(gt, seed=2)
    ev = ScoreAwareCOCOEvaluator(name, tasks=("bbox",), distributed=False)
    ev.reset()
    with pytest.raises(CocoFormatError, match="image id [0-9]+ has a non-finite score"):
        for inp, out in pairs:
            if len(out["instances"]):
                out["instances"].scores[0] = float("nan")
            ev.process([inp], [out])


def test_evaluator_rejects_keypoints_task(tiny_dataset):
    with pytest.raises(ValueError, match="supports tasks"):
        ScoreAwareCOCOEvaluator(tiny_dataset[0], tasks=("keypoints",), distributed=False)


# --------------------------------------------------------------------------------------------
# Multi-process (2 gloo processes) gives the single-process result
# --------------------------------------------------------------------------------------------
def _mp_worker(name, json_path, seed, out_path):
    from detectron2.utils import comm

    _register(name, json_path)
    gt = json.load(open(json_path))
    pairs = make_d2_predictions(gt, seed)
    ev = ScoreAwareCOCOEvaluator(name, tasks=("bbox", "segm"), distributed=True)
    ev.reset()
    for i, (inp, out) in enumerate(pairs):
        if i % comm.get_world_size() == comm.get_rank():
            ev.process([inp], [out])
    res = ev.evaluate()
    if comm.is_main_process():
        torch.save(res, out_path)
    else:
        assert res == {}
    close_process_group()


@pytest.mark.timeout(300)
def test_multiprocess_gloo_matches_single_process(tiny_dataset, tmp_path):
    from detectron2.engine import launch

    name, gt, path = tiny_dataset
    out_path = str(tmp_path / "mp.pth")
    launch(_mp_worker, 2, num_machines=1, machine_rank=0, dist_url="auto", args=(name, path, 9, out_path))
    r_mp = torch.load(out_path, weights_only=False)
    ev = ScoreAwareCOCOEvaluator(name, tasks=("bbox", "segm"), distributed=False)
    ev.reset()
    for inp, out in make_d2_predictions(gt, 9):
        ev.process([inp], [out])
    _same(r_mp, ev.evaluate())
    assert "AP@S" in r_mp["bbox"] and "AP@S" in r_mp["segm"]


def test_yacs_config_route(tiny_dataset, tmp_path):
    from detectron2.config import get_cfg

    from pointdet.evaluation.score_aware import add_score_aware_config

    cfg = add_score_aware_config(get_cfg())
    assert cfg.TEST.SCORE_AWARE.THRESHOLDS == [float(t) for t in SCORE_THRESHOLDS]  # exact doubles
    cfg.TEST.SCORE_AWARE.THRESHOLDS = [0.0, 0.5]
    cfg.TEST.SCORE_AWARE.PLOT = False
    ev = ScoreAwareCOCOEvaluator(cfg, tiny_dataset[0], str(tmp_path / "ev"))
    ev.reset()
    for inp, out in make_d2_predictions(tiny_dataset[1], seed=1):
        ev.process([inp], [out])
    res = ev.evaluate()
    assert set(k for k in res["bbox"] if k.startswith("AP@S")) == {"AP@S", "AP@S_0", "AP@S_1"}
    assert {f"{n}@S" for n in STAT_NAMES} <= set(res["bbox"])
    assert not os.path.exists(tmp_path / "ev" / "score_aware_bbox.png")
    assert os.path.exists(tmp_path / "ev" / "score_aware_bbox.json")


def test_yacs_config_without_keys_names_the_fix(tiny_dataset):
    from detectron2.config import get_cfg

    with pytest.raises(KeyError, match="add_score_aware_config"):
        ScoreAwareCOCOEvaluator(get_cfg(), tiny_dataset[0])


# --------------------------------------------------------------------------------------------
# The AP@S row, bbox + segm in one call, loading, outputs
# --------------------------------------------------------------------------------------------
def test_ap_at_s_row_has_all_twelve_stats_pooled_over_thresholds():
    # hand-computed case: FP at 0.95 then TP at 0.5 -> AR100 is 1 at S_0..S_5 and 0 after
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [60, 60, 20, 20], "score": 0.95},
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.5},
    ]
    out = evaluate_score_aware(_one_gt(), dets)
    m = out["metrics"]
    assert [k for k in m][:12] == [f"{n}@S" for n in STAT_NAMES]
    assert m["AP@S"] == pytest.approx(30.0) and m["AR100@S"] == pytest.approx(60.0)
    assert m["AR1@S"] == pytest.approx(0.0)  # the top-1 detection is always the FP
    assert math.isnan(m["APl@S"]) and math.isnan(m["ARl@S"])  # no large GT: undefined, as COCO
    assert out["table"]["pooled"]["AR100"] == pytest.approx(60.0)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1))
def test_pooled_row_is_the_mean_over_every_defined_entry(seed):
    # the SIOD code's summary row: mean over all (threshold, IoU, recall, category) entries > -1
    from pointdet.evaluation.score_aware import run_score_aware_cocoeval, summarize_score_aware_pooled

    rng = np.random.default_rng(seed)
    gt = make_gt(rng, 4, 3)
    dets = make_dets(rng, gt)
    if not dets:
        return
    coco_eval, eval_sa, stats = run_score_aware_cocoeval(_coco(gt), dets)
    pooled = summarize_score_aware_pooled(eval_sa, coco_eval.params)
    p = eval_sa["precision"][:, :, :, :, 0, 2]  # area 'all', maxDets 100
    expected_ap = p[p > -1].mean() if (p > -1).any() else -1
    assert pooled[0] == pytest.approx(expected_ap, abs=1e-12)
    r = eval_sa["recall"][:, :, :, 0, 2]
    expected_ar100 = r[r > -1].mean() if (r > -1).any() else -1
    assert pooled[STAT_NAMES.index("AR100")] == pytest.approx(expected_ar100, abs=1e-12)
    for j in range(12):  # equal to the mean of the per-threshold stats
        col = stats[:, j]
        assert pooled[j] == pytest.approx(col.mean() if (col >= 0).all() else -1, abs=1e-12)


def test_bbox_and_segm_in_one_call(tmp_path):
    from pointdet.evaluation.score_aware import evaluate_score_aware_tasks

    rng = np.random.default_rng(4)
    gt = make_gt(rng, 3, 2, with_masks=True)
    dets = make_dets(rng, gt, with_masks=True)
    both = evaluate_score_aware_tasks(gt, dets, ("bbox", "segm"), output_json=str(tmp_path / "t.json"),
                                      plot_path=str(tmp_path / "p.png"))
    assert list(both) == ["bbox", "segm"]
    for task in ("bbox", "segm"):
        np.testing.assert_array_equal(both[task]["stats"], evaluate_score_aware(gt, dets, task)["stats"])
    assert set(json.load(open(tmp_path / "t.json"))) == {"bbox", "segm"}
    assert open(tmp_path / "p.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_loading_copies_only_the_result_dicts():
    # loadRes adds keys to each result dict: those dicts are copied, their contents are not
    from pointdet.evaluation.score_aware import load_results_into_coco

    dets = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.5}]
    coco_dt = load_results_into_coco(_coco(_one_gt()), dets, "bbox")
    assert set(dets[0]) == {"image_id", "category_id", "bbox", "score"}
    assert coco_dt.anns[1]["area"] == 400 and coco_dt.anns[1]["bbox"] is dets[0]["bbox"]


@pytest.mark.parametrize("option", ["output_json", "plot_path"])
def test_outputs_never_replace_an_input(tmp_path, option):
    dets = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.5}]
    gp, rp = _write(tmp_path / "gt.json", _one_gt()), _write(tmp_path / "res.json", dets)
    before = (open(gp, "rb").read(), open(rp, "rb").read())
    for target in (gp, rp):
        with pytest.raises(ValueError, match="would overwrite the input file"):
            evaluate_score_aware(gp, rp, **{option: target})
    assert (open(gp, "rb").read(), open(rp, "rb").read()) == before


def test_bbox_and_segm_from_one_results_file(tmp_path):
    rng = np.random.default_rng(6)
    gt = make_gt(rng, 3, 2, with_masks=True)
    dets = make_dets(rng, gt, with_masks=True)
    gp, rp = _write(tmp_path / "gt.json", gt), _write(tmp_path / "res.json", dets)
    out = evaluate_score_aware_tasks(gp, rp, iou_types=("bbox", "segm"))
    assert list(out) == ["bbox", "segm"]
    for task in out:
        assert f"(SIOD), {task}, values in percent" in format_score_aware_table(out[task]["table"])
        single = evaluate_score_aware(gp, rp, task)
        np.testing.assert_array_equal(out[task]["stats"], single["stats"])


def test_evaluator_does_not_override_private_eval_predictions():
    # the evaluator extends COCOEvaluator through process / _derive_coco_results only
    assert "_eval_predictions" not in ScoreAwareCOCOEvaluator.__dict__


def test_evaluator_reports_ap_at_s_row_and_rounds_scores(tiny_dataset, tmp_path):
    name, gt, path = tiny_dataset
    ev = ScoreAwareCOCOEvaluator(name, tasks=("bbox",), distributed=False, output_dir=str(tmp_path / "ev"),
                                 round_scores=True, plot=False)
    ev.reset()
    for inp, out in make_d2_predictions(gt, seed=3):
        ev.process([inp], [out])
    res = ev.evaluate()["bbox"]
    written = json.load(open(tmp_path / "ev" / "coco_instances_results.json"))
    assert all(d["score"] == round(d["score"], 2) for d in written)
    fn = evaluate_score_aware(path, written, "bbox")
    for k, v in fn["metrics"].items():
        assert (math.isnan(v) and math.isnan(res[k])) or res[k] == pytest.approx(v, abs=1e-12), k
    assert {f"{n}@S" for n in STAT_NAMES} <= set(res)
