"""Readable per-image reference implementation of point localization AP.

This is the straightforward loop form of the rules in :mod:`pointdet.evaluation.point_ap_core`
(the CPR authors' LocationEvaluator's, see ``projects/CPR/README.md``): for every category,
area range, tau and max-dets value it walks the images one by one, matches each image's detections with plain Python loops, pools the
detections and computes AP. It exists to check the vectorised :func:`evaluate_point_ap`
(tests assert equal outputs on random data) and as the baseline of
``tools/benchmark_evaluators.py``. Use :func:`evaluate_point_ap` for real evaluations.

Only input parsing (:func:`prepare_point_eval_inputs`) and the result container (with its
``empty_class_rule``) are shared with the vectorised code; matching and AP are written out
independently here. To reproduce the reference evaluator's numbers, pass
``empty_class_rule="reference"`` and ``ignore_rule="reference"``.
"""
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np

from .point_ap_core import (
    DEFAULT_MAX_DETS,
    DEFAULT_TAUS,
    RECALL_THRESHOLDS,
    SCORE_GROUP_EPS,
    check_params,
    match_value_threshold,
    resolve_area_ranges,
    size_bounds,
)
from .point_ap_inputs import PointEvalInputs, check_ignore_rule, prepare_point_eval_inputs
from .point_ap_result import PointAPResult

__all__ = ["evaluate_point_ap_reference", "match_image_reference", "pr_ap_reference"]


def match_image_reference(points, scores, gt_center, gt_wh, gt_ignored, tau):
    """Match one image's detections of one category.

    Args:
        points: (D, 2) float32 predicted points, already sorted by descending score.
        scores: (D,) float32 sorted scores.
        gt_center, gt_wh: (G, 2) float32 GT box centres and sizes.
        gt_ignored: (G,) bool, GT is crowd/ignore or outside the area range.
        tau: distance threshold (CPR Eq. 12).
    Returns:
        (is_tp, is_ignored): (D,) bool arrays.
    """
    D = len(points)
    vth = match_value_threshold(tau)
    is_tp = np.zeros(D, dtype=bool)
    is_ign = np.zeros(D, dtype=bool)
    reg = np.flatnonzero(~gt_ignored)
    ign = np.flatnonzero(gt_ignored)

    def match_values(gt_idx):
        # [i, j] = 1 / (1 + d^2), d from CPR Eq. 12 computed in float32
        d2 = np.empty((D, len(gt_idx)))
        for i in range(D):
            d = (points[i][None, :] - gt_center[gt_idx]) / gt_wh[gt_idx]
            d2[i] = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]
        return 1.0 / (1.0 + d2)

    if len(reg):
        value = match_values(reg)
        # score groups: a group ends where the score leaves its first score by >= eps
        groups, start = [], 0
        for i in range(1, D):
            if abs(scores[i] - scores[start]) >= SCORE_GROUP_EPS:
                groups.append((start, i))
                start = i
        groups.append((start, D))
        gt_free = [True] * len(reg)
        for s, e in groups:
            det_free = [True] * (e - s)
            while any(gt_free) and any(det_free):
                best, best_pair = -1.0, None
                for i in range(s, e):  # first maximum in (det, gt) order
                    if not det_free[i - s]:
                        continue
                    for j in range(len(reg)):
                        if gt_free[j] and value[i, j] > best:
                            best, best_pair = value[i, j], (i, j)
                if best < vth:
                    break
                i, j = best_pair
                is_tp[i] = True
                det_free[i - s] = False
                gt_free[j] = False
            if not any(gt_free):
                break
    if len(ign):
        ignored_value = match_values(ign)
        for i in range(D):
            if not is_tp[i] and ignored_value[i].max() >= vth:
                is_ign[i] = True
    return is_tp, is_ign


def pr_ap_reference(tp_flags, scores, npos):
    """Recall/precision points and (AP, AR) of one category.

    Args:
        tp_flags: (N,) bool of pooled non-ignored detections (any order).
        scores: (N,) float32 their scores.
        npos: number of regular GTs.
    Returns:
        recall (float32 array), precision (float64 array), AP, AR.
    """
    if len(scores) == 0:
        recall = np.array([1.0 if npos == 0 else 0.0], dtype=np.float32)
        precision = np.array([1.0 if npos == 0 else 0.0])
    else:
        order = np.argsort(-scores)
        tp = tp_flags[order]
        recall, precision = [], []
        count = np.float32(0)
        last = -1.0
        for i in range(len(tp)):
            count = count + np.float32(tp[i])
            r = np.float32(count / np.float32(npos + 1e-12))  # float32 recall (NumPy 1.x semantics)
            if abs(float(r) - last) < 1e-10:
                continue
            recall.append(r)
            precision.append(float(count) / (i + 1))
            last = float(r)
        recall = np.array(recall, dtype=np.float32)
        precision = np.array(precision, dtype=np.float64)
    chosen = []
    for t in RECALL_THRESHOLDS:
        idx = None
        for i, r in enumerate(recall):
            if float(r) >= t:
                idx = i
                break
        chosen.append(precision[idx] if idx is not None else 0.0)
    ap = np.sum(np.array(chosen, dtype=np.float64)) / len(RECALL_THRESHOLDS)
    return recall, precision, float(ap), float(np.max(recall))


def evaluate_point_ap_reference(
    gt: Union[str, Dict[str, Any]],
    results: Union[str, List[Dict[str, Any]]],
    taus: Sequence[float] = DEFAULT_TAUS,
    max_dets: Sequence[int] = DEFAULT_MAX_DETS,
    area_ranges: Union[str, Sequence[Tuple[str, float, float]]] = "coco",
    *,
    empty_class_rule: str = "coco",
    ignore_rule: str = "iscrowd_or_ignore",
) -> PointAPResult:
    """Same signature and output as :func:`pointdet.evaluation.evaluate_point_ap`, slow and plain."""
    taus, max_dets = check_params(taus, max_dets)
    area_ranges = resolve_area_ranges(area_ranges)
    check_ignore_rule(ignore_rule)
    inp = gt if isinstance(gt, PointEvalInputs) else prepare_point_eval_inputs(gt, results)
    gt_ignore_region = inp.gt_ignored(ignore_rule)
    K, A, T, M = len(inp.category_ids), len(area_ranges), len(taus), len(max_dets)
    bounds = size_bounds(area_ranges)
    size = inp.gt_size
    ap = np.zeros((K, A, T, M))
    ar = np.zeros((K, A, T, M))
    npos_all = np.zeros((K, A), dtype=np.int64)
    curves = {}
    for k in range(K):
        gts_by_img = {i: [] for i in range(len(inp.image_ids))}
        for g in np.flatnonzero(inp.gt_cat == k):
            gts_by_img[int(inp.gt_img[g])].append(g)
        dets_by_img = {i: [] for i in range(len(inp.image_ids))}
        for d in np.flatnonzero(inp.det_cat == k):  # results order
            dets_by_img[int(inp.det_img[d])].append(d)
        for a in range(A):
            lo, hi = bounds[a]
            for t, tau in enumerate(taus):
                for m, md in enumerate(max_dets):
                    npos = 0
                    pooled_tp, pooled_scores = [], []
                    for img in range(len(inp.image_ids)):
                        g = np.array(gts_by_img[img], dtype=np.int64)
                        ignored = gt_ignore_region[g] | (size[g] < lo) | (size[g] >= hi)
                        npos += int((~ignored).sum())
                        d = np.array(dets_by_img[img], dtype=np.int64)
                        if len(d) == 0:
                            continue
                        s = inp.det_score[d]
                        order = np.argsort(-s)[:md]
                        pts, s = inp.det_point[d][order], s[order]
                        is_tp, is_ign = match_image_reference(
                            pts, s, inp.gt_center[g], inp.gt_wh[g], ignored, tau
                        )
                        pooled_tp.append(is_tp[~is_ign])
                        pooled_scores.append(s[~is_ign])
                    tp = np.concatenate(pooled_tp) if pooled_tp else np.zeros(0, bool)
                    sc = np.concatenate(pooled_scores) if pooled_scores else np.zeros(0, np.float32)
                    rec, prec, ap_k, ar_k = pr_ap_reference(tp, sc, npos)
                    ap[k, a, t, m], ar[k, a, t, m] = ap_k, ar_k
                    curves[(k, a, t, m)] = (rec, prec)
                    npos_all[k, a] = npos
    return PointAPResult.from_reference_values(
        ap,
        ar,
        npos_all,
        empty_class_rule=empty_class_rule,
        ignore_rule=ignore_rule,
        category_ids=list(inp.category_ids),
        category_names=list(inp.category_names),
        area_ranges=tuple(area_ranges),
        taus=tuple(taus),
        max_dets=tuple(max_dets),
        curves=curves,
    )
