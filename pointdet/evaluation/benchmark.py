"""Benchmark of pointdet's evaluators against their straightforward baselines
(``tools/benchmark_evaluators.py``).

On a synthetic, COCO-val-sized input (:func:`make_synthetic_coco`; default 5,000 images,
80 classes, 100 detections per image, deterministic for the seed), measured side by side
in one run by :func:`run_evaluator_benchmark`:

1. Score-aware AP (AP@S over ten thresholds, one matching pass + ten accumulations) vs ten
   separate pycocotools COCOeval runs on score-filtered detections (target >= 5x faster) and
   vs one plain pycocotools run (target <= 1.5x its time). The AP values of both routes are
   compared too (they must agree exactly).
2. PointAP over three tau (:func:`pointdet.evaluation.point_ap.evaluate_point_ap`) vs the
   per-image Python loop (:func:`pointdet.evaluation.point_ap_reference.evaluate_point_ap_reference`)
   (target >= 10x faster).
3. Loading the results into pycocotools (:func:`load_results_into_coco`, which leaves the
   caller's list unchanged) vs pycocotools' own ``loadRes`` on a list it may modify (target
   <= 2x its time: the result dicts are copied; a deep copy of the list, shown beside it,
   costs about 7x on 500,000 detections).

Times are this process's CPU time by default (``clock="cpu"``): the benchmark machines are
shared, and wall time then measures the neighbours as much as the code.
"""
import contextlib
import copy
import gc
import io
import logging
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from pointdet.data.coco_io import atomic_write_json

from .point_ap import evaluate_point_ap
from .point_ap_reference import evaluate_point_ap_reference
from .score_aware import coco_from_dict, load_results_into_coco, run_score_aware_cocoeval
from .score_aware_core import SCORE_THRESHOLDS

__all__ = ["make_synthetic_coco", "run_evaluator_benchmark", "format_evaluator_benchmark", "POINT_TAUS"]

logger = logging.getLogger(__name__)

#: the tau values of the PointAP comparison
POINT_TAUS = (0.5, 1.0, 2.0)


def make_synthetic_coco(
    num_images: int = 5000,
    num_classes: int = 80,
    dets_per_image: int = 100,
    seed: int = 0,
    width: int = 640,
    height: int = 480,
    gt_per_image: float = 7.3,
) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """A COCO GT dict and a COCO results list (boxes, scores), deterministic for ``seed``.

    Ground truth per image ~ Poisson(``gt_per_image``) (COCO val2017 has 7.3 instances per
    image), box sides log-uniform in [4, 400] px, 1% crowd. Detections: per GT box, with
    probability 0.8 a jittered box of the same class (score ~ Beta(4, 2)); the rest of the
    ``dets_per_image`` are random boxes of random classes (score ~ Beta(1, 4)).
    """
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "width": width, "height": height, "file_name": f"{i + 1:012d}.jpg"} for i in range(num_images)]
    categories = [{"id": c + 1, "name": f"class{c + 1}"} for c in range(num_classes)]
    anns: List[Dict[str, Any]] = []
    dets: List[Dict[str, Any]] = []

    def rand_boxes(n):
        w = np.minimum(np.exp(rng.uniform(np.log(4), np.log(400), n)), width - 1)
        h = np.minimum(np.exp(rng.uniform(np.log(4), np.log(400), n)), height - 1)
        return np.stack([rng.uniform(0, width - w), rng.uniform(0, height - h), w, h], 1)

    def add_dets(image_id, boxes, classes, scores):
        for b, c, s in zip(boxes, classes, scores):
            dets.append({"image_id": image_id, "category_id": int(c), "bbox": [float(v) for v in b], "score": float(s)})

    for img in images:
        n_gt = int(rng.poisson(gt_per_image))
        boxes = rand_boxes(n_gt)
        classes = rng.integers(1, num_classes + 1, n_gt)
        crowd = rng.random(n_gt) < 0.01
        for b, c, cr in zip(boxes, classes, crowd):
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": int(c),
                         "bbox": [float(v) for v in b], "area": float(b[2] * b[3]), "iscrowd": int(cr)})
        hit = rng.random(n_gt) < 0.8
        n_tp = min(int(hit.sum()), dets_per_image)
        tp_boxes = boxes[hit][:n_tp].copy()
        tp_boxes += rng.normal(0, 0.1, (n_tp, 4)) * np.concatenate([tp_boxes[:, 2:], tp_boxes[:, 2:]], 1)
        tp_boxes[:, 2:] = np.maximum(tp_boxes[:, 2:], 1.0)
        tp_scores = rng.beta(4, 2, n_tp)
        n_fp = dets_per_image - n_tp
        fp_boxes = rand_boxes(n_fp)
        fp_classes = rng.integers(1, num_classes + 1, n_fp)
        fp_scores = rng.beta(1, 4, n_fp)
        add_dets(img["id"], tp_boxes, classes[hit][:n_tp], tp_scores)
        add_dets(img["id"], fp_boxes, fp_classes, fp_scores)
    gt = {"info": {"generator": "benchmark_evaluators", "seed": seed}, "images": images, "categories": categories,
          "annotations": anns}
    return gt, dets


class _Timer:
    """Runs callables and keeps both clocks per label; returns the selected one."""

    def __init__(self, clock: str):
        if clock not in ("cpu", "wall"):
            raise ValueError(f"clock must be 'cpu' or 'wall', got {clock!r}")
        self.clock = clock
        self.times: Dict[str, Dict[str, float]] = {}

    def __call__(self, fn: Callable[[], Any], label: str) -> Tuple[float, Any]:
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        self.times[label] = {"cpu_s": cpu, "wall_s": wall}
        logger.info(f"  {label}: cpu {cpu:.2f} s, wall {wall:.2f} s")
        return (cpu if self.clock == "cpu" else wall), out


def _pycocotools_run(coco_gt, dets: List[Dict[str, Any]], iou_type: str = "bbox") -> np.ndarray:
    """One stock pycocotools COCOeval run (loadRes on a copy, evaluate, accumulate, summarize)."""
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(copy.deepcopy(dets))
        E = COCOeval(coco_gt, coco_dt, iou_type)
        E.evaluate()
        E.accumulate()
        E.summarize()
    return np.asarray(E.stats)


def _ten_pycocotools_runs(coco_gt, dets, thresholds=SCORE_THRESHOLDS) -> np.ndarray:
    stats = []
    for t in thresholds:
        kept = [d for d in dets if d["score"] >= t]
        stats.append(_pycocotools_run(coco_gt, kept) if kept else np.zeros(12))
    return np.stack(stats)


def _load_results_pycocotools(coco_gt, dets_to_consume):
    with contextlib.redirect_stdout(io.StringIO()):
        return coco_gt.loadRes(dets_to_consume)


def _row(comparison, ours, base, ratio, target, passed) -> Dict[str, Any]:
    return {"comparison": comparison, "ours_s": ours, "base_s": base, "ratio": ratio, "target": target,
            "pass": None if passed is None else bool(passed)}


def _benchmark_score_aware(gt, dets, timer: _Timer, rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    coco_gt = coco_from_dict(copy.deepcopy(gt))
    logger.info("loading the results: ours (input unchanged) vs pycocotools loadRes (input consumed) ...")
    t_load_ref, t_load, t_load_old = [], [], []
    for _ in range(3):
        # alternating, best of three, garbage collector paused as ``timeit`` does: loading is
        # short, and a full collection of the large heap otherwise lands in either route at random
        consumable = copy.deepcopy(dets)  # loadRes adds keys to these dicts; prepared outside the timing
        gc.collect()
        gc.disable()
        try:
            t_load_ref.append(timer(lambda c=consumable: _load_results_pycocotools(coco_gt, c), "load_pycocotools")[0])
            t_load.append(timer(lambda: load_results_into_coco(coco_gt, dets, "bbox"), "load_ours")[0])
            t_load_old.append(
                timer(lambda: _load_results_pycocotools(coco_gt, copy.deepcopy(dets)), "load_deepcopy")[0]
            )
        finally:
            gc.enable()
        del consumable
    t_load_ref, t_load, t_load_old = min(t_load_ref), min(t_load), min(t_load_old)
    rows.append(_row("results loading (ours) time / pycocotools loadRes", t_load, t_load_ref, t_load / t_load_ref,
                     "<= 2x", t_load / t_load_ref <= 2))
    rows.append(_row("  (a deep copy + loadRes, for comparison)", t_load_old, t_load_ref, t_load_old / t_load_ref,
                     "-", None))
    logger.info("one pycocotools COCOeval run ...")
    t_one, st_one = timer(lambda: _pycocotools_run(coco_gt, dets), "one_pycocotools")
    logger.info("score-aware AP (one matching pass + ten accumulations) ...")
    t_sa, st_sa = timer(lambda: run_score_aware_cocoeval(coco_gt, dets, "bbox", SCORE_THRESHOLDS)[2], "score_aware")
    logger.info("ten pycocotools COCOeval runs on score-filtered detections ...")
    t_ten, st_ten = timer(lambda: _ten_pycocotools_runs(coco_gt, dets), "ten_pycocotools")
    max_diff = float(np.abs(st_sa - st_ten).max())
    s0_diff = float(np.abs(st_sa[0] - st_one).max())
    logger.info(f"max |stats difference| score-aware vs ten runs: {max_diff:.3g}; S_0 vs one run: {s0_diff:.3g}")
    logger.info(f"AP@S = {st_sa[:, 0].mean() * 100:.3f}, AP@S_0 = {st_sa[0, 0] * 100:.3f}")
    rows.append(_row("AP@S (ours) vs 10 x pycocotools COCOeval", t_sa, t_ten, t_ten / t_sa, ">= 5x", t_ten / t_sa >= 5))
    rows.append(_row("AP@S (ours) time / 1 x pycocotools COCOeval", t_sa, t_one, t_sa / t_one, "<= 1.5x",
                     t_sa / t_one <= 1.5))
    return {
        "seconds_load_ours": t_load,
        "seconds_load_pycocotools": t_load_ref,
        "load_time_ratio": t_load / t_load_ref,
        "seconds_load_deepcopy": t_load_old,
        "seconds_score_aware": t_sa,
        "seconds_one_pycocotools": t_one,
        "seconds_ten_pycocotools": t_ten,
        "speedup_vs_ten": t_ten / t_sa,
        "time_ratio_vs_one": t_sa / t_one,
        "max_abs_stats_diff_vs_ten": max_diff,
        "max_abs_stats_diff_s0_vs_one": s0_diff,
        "AP@S": float(st_sa[:, 0].mean() * 100),
    }


def _point_results_from_boxes(dets: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Point results: ``point`` = centre of each detection box (continuous convention).

    PointAP's GT is the box file itself (boxes define the normalised distance, CPR Eq. 12).
    """
    return [{"image_id": d["image_id"], "category_id": d["category_id"],
             "point": [d["bbox"][0] + d["bbox"][2] / 2, d["bbox"][1] + d["bbox"][3] / 2], "score": d["score"]}
            for d in dets]


def _benchmark_point_ap(gt, dets, timer: _Timer, rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    results = _point_results_from_boxes(dets)
    logger.info(f"PointAP over tau={POINT_TAUS}: evaluate_point_ap vs evaluate_point_ap_reference")
    # each route gets its own copies: neither may rely on the other having parsed the inputs
    t_fast, r_fast = timer(lambda: evaluate_point_ap(copy.deepcopy(gt), copy.deepcopy(results), POINT_TAUS),
                           "point_ap_fast")
    t_ref, r_ref = timer(lambda: evaluate_point_ap_reference(copy.deepcopy(gt), copy.deepcopy(results), POINT_TAUS),
                         "point_ap_loop")
    rows.append(_row("PointAP (3 tau) vs per-image Python loop", t_fast, t_ref, t_ref / t_fast, ">= 10x",
                     t_ref / t_fast >= 10))
    ap_f, ap_r = np.asarray(r_fast.ap), np.asarray(r_ref.ap)
    same_missing = bool((np.isnan(ap_f) == np.isnan(ap_r)).all())
    both = ~np.isnan(ap_f) & ~np.isnan(ap_r)
    diff = float(np.abs(ap_f[both] - ap_r[both]).max()) if same_missing and both.any() else float("nan")
    logger.info(f"  max |AP difference| fast vs loop: {diff:.3g}")
    return {"seconds_fast": t_fast, "seconds_loop": t_ref, "speedup": t_ref / t_fast, "max_abs_ap_diff": diff}


def run_evaluator_benchmark(
    num_images: int = 5000,
    num_classes: int = 80,
    dets_per_image: int = 100,
    seed: int = 0,
    *,
    score_aware: bool = True,
    point_ap: bool = True,
    clock: str = "cpu",
    output_json: Optional[str] = None,
) -> Dict[str, Any]:
    """Run the comparisons of the module docstring on :func:`make_synthetic_coco` data.

    Args:
        score_aware, point_ap: run the score-aware AP (and results loading) / PointAP part.
        clock: "cpu" (this process's CPU time) or "wall": the clock of the ratios; both are
            kept in ``times``.
        output_json: if given, the report is also written there (atomically).
    Returns:
        The report: ``args``, ``score_aware`` and ``point_ap`` (seconds, ratios, max value
        differences between the routes; present when run), ``times`` (both clocks per timed
        call) and ``rows`` (one per comparison: ``comparison, ours_s, base_s, ratio, target,
        pass``; ``pass`` None for an informative row), as :func:`format_evaluator_benchmark` prints.
    """
    timer = _Timer(clock)
    gt, dets = make_synthetic_coco(num_images, num_classes, dets_per_image, seed)
    logger.info(
        f"synthetic data: {len(gt['images'])} images, {len(gt['categories'])} classes, "
        f"{len(gt['annotations'])} GT, {len(dets)} detections (seed {seed})"
    )
    report: Dict[str, Any] = {
        "args": {"num_images": num_images, "num_classes": num_classes, "dets_per_image": dets_per_image,
                 "seed": seed, "score_aware": score_aware, "point_ap": point_ap, "clock": clock},
    }
    rows: List[Dict[str, Any]] = []
    if score_aware:
        report["score_aware"] = _benchmark_score_aware(gt, dets, timer, rows)
    if point_ap:
        report["point_ap"] = _benchmark_point_ap(gt, dets, timer, rows)
    report["times"] = timer.times
    report["rows"] = rows
    if output_json:
        atomic_write_json(report, output_json, indent=2)
    return report


def format_evaluator_benchmark(report: Dict[str, Any]) -> str:
    """The comparison table of a :func:`run_evaluator_benchmark` report (Markdown)."""
    a = report["args"]
    lines = [
        f"Evaluator benchmark: {a['num_images']} images, {a['num_classes']} classes, "
        f"{a['dets_per_image']} detections/image, seed {a['seed']}; times are {a['clock']} seconds",
        f"| {'comparison':<52} | {'ours (s)':>9} | {'base (s)':>9} | {'ratio':>8} | {'target':<10} | result |",
        f"|{'-' * 54}|{'-' * 11}|{'-' * 11}|{'-' * 10}|{'-' * 12}|--------|",
    ]
    for r in report["rows"]:
        result = "info" if r["pass"] is None else ("PASS" if r["pass"] else "MISS")
        lines.append(f"| {r['comparison']:<52} | {r['ours_s']:9.2f} | {r['base_s']:9.2f} | {r['ratio']:7.2f}x "
                     f"| {r['target']:<10} | {result:<6} |")
    return "\n".join(lines)
