"""Score-aware COCO detection evaluation (SIOD, Li et al. CVPR 2022, Sec. 4 / Eq. 7-8).

AP@S_i is the standard COCO AP computed on the detections whose score is ``>= t_i``, with
``t = numpy.arange(0, 1, 0.1)`` exactly (the reference oracle's float values, so 0.3, 0.6 and
0.7 are the slightly-larger doubles ``0.30000000000000004`` etc.); AP@S is the mean of the
ten (Eq. 8). The paper writes strict inequalities in Eq. 7; the reference code uses ``>=``
on both IoU and score, and only ``>=`` makes AP@S_0 the official COCO AP (see
``specs/siod_dminer.md`` section 5), so ``>=`` is used here.

Implementation: ONE per-image matching pass (pycocotools ``COCOeval.evaluate``) and one
thresholded accumulation per score threshold (:func:`accumulate_score_aware`). Filtering the
tail of a score-sorted list changes no greedy match (a detection's match depends only on the
higher-scored detections before it), so the detections kept at threshold ``t`` are a prefix
of every per-image and every per-category score-sorted list, and COCOeval on the filtered
detections is the accumulation restricted to that prefix. The accumulation is a vectorised
re-implementation of ``COCOeval.accumulate`` that reproduces its floating-point operations
exactly, so AP@S_0 is bit-identical to Detectron2's :class:`COCOEvaluator` (official
pycocotools path) on the same predictions.

Engine: faster-coco-eval's ``COCOeval_faster`` keeps its per-image results in opaque C++
objects (``_evalImgs_cpp``; no Python-readable ``dtScores``/``dtMatches``/``dtIgnore``) and
its C++ accumulation differs from pycocotools in the last bit of some precisions, so the
matching pass uses pycocotools (:class:`ScoreAwareCOCOeval`: pycocotools' matcher, plus a
shortcut returning the identical per-image dict for (image, category) pairs without GT,
where there is nothing to match). Detectron2's compiled ``COCOeval_opt`` is never used.

Public API:

- :class:`ScoreAwareCOCOEvaluator`: a Detectron2 ``DatasetEvaluator`` (subclass of
  ``COCOEvaluator``) adding ``AP@S`` and ``AP@S_0..AP@S_9`` for bbox and segm.
- :func:`evaluate_score_aware`: the same on a COCO GT file and a COCO results file/list.
- :func:`accumulate_score_aware`, :func:`summarize_score_aware`: the building blocks.
- :func:`plot_ap_vs_score_threshold`: AP versus score threshold as a PNG.
"""
import contextlib
import copy
import io
import itertools
import json
import math
import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detectron2.config import configurable
from detectron2.evaluation import COCOEvaluator
from detectron2.utils.file_io import PathManager

from ..data.coco_io import CocoFormatError, atomic_write_json, load_coco_dict

__all__ = [
    "SCORE_THRESHOLDS",
    "STAT_NAMES",
    "ScoreAwareCOCOEvaluator",
    "add_score_aware_config",
    "evaluate_score_aware",
    "run_score_aware_cocoeval",
    "ScoreAwareCOCOeval",
    "accumulate_score_aware",
    "summarize_score_aware",
    "score_aware_metrics",
    "validate_coco_results",
    "round_result_scores",
    "plot_ap_vs_score_threshold",
]

# The reference oracle's thresholds (SIOD ``Params.setDetParams``): exactly np.arange(0, 1, 0.1).
SCORE_THRESHOLDS = np.arange(0, 1, 0.1)

# The 12 COCO summary statistics, in COCOeval.stats order.
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]

_IOU_TYPES = ("bbox", "segm")


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------
def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)


def validate_coco_results(
    results: Sequence[Dict[str, Any]],
    coco_gt: COCO,
    iou_type: str = "bbox",
    source: str = "<results>",
) -> None:
    """Check a COCO results list against the GT; raise :class:`CocoFormatError` on the first problem.

    Each result must be a dict with an ``image_id`` and a ``category_id`` present in the GT,
    a finite numeric ``score``, and a ``bbox`` of 4 finite numbers (bbox) or a
    ``segmentation`` (segm). The message names ``source``, the result index and its image id.
    """
    if not isinstance(results, (list, tuple)):
        raise CocoFormatError(f"{source}: COCO results must be a JSON list, got {type(results).__name__}")
    img_ids = set(coco_gt.getImgIds())
    cat_ids = set(coco_gt.getCatIds())
    for i, r in enumerate(results):
        if not isinstance(r, dict):
            raise CocoFormatError(f"{source}: result [{i}] is not a JSON object")
        for key in ("image_id", "category_id", "score"):
            if key not in r:
                raise CocoFormatError(f"{source}: result [{i}] (image id {r.get('image_id')!r}) has no '{key}'")
        img_id = r["image_id"]
        if img_id not in img_ids:
            raise CocoFormatError(
                f"{source}: result [{i}] refers to image id {img_id!r}, which is not in the ground truth"
            )
        if r["category_id"] not in cat_ids:
            raise CocoFormatError(
                f"{source}: result [{i}] (image id {img_id}) has unknown category id "
                f"{r['category_id']!r} (ground-truth categories: {sorted(cat_ids)})"
            )
        s = r["score"]
        if not _is_number(s) or not math.isfinite(float(s)):
            raise CocoFormatError(f"{source}: result [{i}] (image id {img_id}) has a non-finite score {s!r}")
        if iou_type == "bbox":
            b = r.get("bbox")
            if (
                not isinstance(b, (list, tuple))
                or len(b) != 4
                or not all(_is_number(v) and math.isfinite(float(v)) for v in b)
            ):
                raise CocoFormatError(f"{source}: result [{i}] (image id {img_id}) has a malformed bbox {b!r}")
        elif iou_type == "segm":
            seg = r.get("segmentation")
            if not isinstance(seg, (dict, list)) or (isinstance(seg, dict) and not {"size", "counts"} <= set(seg)):
                raise CocoFormatError(
                    f"{source}: result [{i}] (image id {img_id}) has no valid 'segmentation' (RLE dict or polygons)"
                )


def _validate_gt_for_eval(coco_gt: COCO, iou_type: str, source: str) -> None:
    for ann in coco_gt.dataset.get("annotations", []):
        for key in ("area", "iscrowd"):
            if key not in ann:
                raise CocoFormatError(f"{source}: annotation id {ann.get('id')} has no '{key}' (needed by COCOeval)")
        if iou_type == "segm" and "segmentation" not in ann:
            raise CocoFormatError(f"{source}: annotation id {ann.get('id')} has no 'segmentation' (iou_type segm)")
        if iou_type == "bbox" and "bbox" not in ann:
            raise CocoFormatError(f"{source}: annotation id {ann.get('id')} has no 'bbox' (iou_type bbox)")


def round_result_scores(results: Sequence[Dict[str, Any]], decimals: int = 2) -> List[Dict[str, Any]]:
    """Copy of ``results`` with scores rounded as the CenterNet/SIOD exporter does
    (``float("{:.2f}".format(score))``), for parity with numbers reported by that code."""
    fmt = "{:.%df}" % decimals
    out = []
    for r in results:
        r = dict(r)
        r["score"] = float(fmt.format(r["score"]))
        out.append(r)
    return out


def _coco_from_dict(d: Dict[str, Any]) -> COCO:
    coco = COCO()
    coco.dataset = d
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _load_results(coco_gt: COCO, results: List[Dict[str, Any]], iou_type: str) -> COCO:
    """``coco_gt.loadRes`` on a deep copy (loadRes mutates its input), empty lists allowed."""
    results = copy.deepcopy(list(results))
    if iou_type == "segm":
        # As Detectron2: drop boxes so that pycocotools uses the mask area for the area ranges.
        for r in results:
            r.pop("bbox", None)
    if len(results) == 0:
        # pycocotools cannot load an empty list: an empty result set scores 0 wherever GT exists.
        return _coco_from_dict(
            {
                "images": list(coco_gt.dataset["images"]),
                "categories": copy.deepcopy(coco_gt.dataset["categories"]),
                "annotations": [],
            }
        )
    with contextlib.redirect_stdout(io.StringIO()):
        return coco_gt.loadRes(results)


# --------------------------------------------------------------------------------------------
# Math: one matching pass, thresholded accumulations, summaries
# --------------------------------------------------------------------------------------------
class ScoreAwareCOCOeval(COCOeval):
    """pycocotools ``COCOeval`` with a shortcut for (image, category) pairs without GT.

    Such pairs need no matching (every detection is unmatched, ignored only when its area is
    outside the range) yet are most of the ``evaluateImg`` calls on COCO-like data (a
    detector spreads 100 detections over many categories); ``computeIoU`` likewise returns
    pycocotools' ``[]`` at once when either side is empty. The shortcut returns the same
    dict, with the same dtypes, that ``COCOeval.evaluateImg`` returns; every pair with GT
    goes through pycocotools' own greedy matcher unchanged.
    """

    def computeIoU(self, imgId, catId):  # noqa: N802 (pycocotools' name)
        # pycocotools returns [] (maskUtils.iou of an empty list) when either side is empty.
        if self.params.useCats and (not self._gts.get((imgId, catId)) or not self._dts.get((imgId, catId))):
            return []
        return super().computeIoU(imgId, catId)

    def evaluateImg(self, imgId, catId, aRng, maxDet):  # noqa: N802 (pycocotools' name)
        p = self.params
        if not p.useCats or self._gts.get((imgId, catId)):
            return super().evaluateImg(imgId, catId, aRng, maxDet)
        # The score-sorted top-maxDet list (mergesort, as pycocotools) does not depend on the
        # area range: compute it once per (image, category) for the A area ranges.
        key = (imgId, catId, maxDet)
        entry = self._no_gt_cache.get(key)
        if entry is None:
            dt = self._dts.get((imgId, catId))
            if not dt:
                return None
            dtind = np.argsort([-d["score"] for d in dt], kind="mergesort")
            dt = [dt[i] for i in dtind[0:maxDet]]
            entry = self._no_gt_cache[key] = (
                [d["id"] for d in dt],
                [d["score"] for d in dt],
                np.array([d["area"] for d in dt], dtype=np.float64),
            )
        dt_ids, dt_scores, dt_area = entry
        T, D = len(p.iouThrs), len(dt_ids)
        dt_ignore = np.empty((T, D), dtype=bool)
        dt_ignore[:] = (dt_area < aRng[0]) | (dt_area > aRng[1])
        return {
            "image_id": imgId,
            "category_id": catId,
            "aRng": aRng,
            "maxDet": maxDet,
            "dtIds": dt_ids,
            "gtIds": [],
            "dtMatches": np.zeros((T, D)),
            "gtMatches": np.zeros((T, 0)),
            "dtScores": dt_scores,
            "gtIgnore": np.array([]),
            "dtIgnore": dt_ignore,
        }

    def evaluate(self):
        self._no_gt_cache = {}
        try:
            super().evaluate()
        finally:
            self._no_gt_cache = {}


def run_score_aware_cocoeval(
    coco_gt: COCO,
    results: List[Dict[str, Any]],
    iou_type: str = "bbox",
    thresholds: Sequence[float] = SCORE_THRESHOLDS,
    max_dets: Sequence[int] = (1, 10, 100),
    img_ids: Optional[Sequence[int]] = None,
):
    """Run the single COCO matching pass and the score-thresholded accumulations.

    Args:
        coco_gt: ground truth COCO api.
        results: COCO results list (not modified).
        iou_type: "bbox" or "segm".
        thresholds: score thresholds t_i, shape (S,).
        max_dets: COCOeval maxDets (>= 3 entries; AP uses the third, as Detectron2).
        img_ids: evaluate on these images only (default: all GT images).

    Returns:
        (coco_eval, eval_sa, stats): the pycocotools ``COCOeval`` after ``evaluate()`` with
        ``.eval``/``.stats`` set to those of threshold index 0 (so that Detectron2 code that
        reads them works); the dict of :func:`accumulate_score_aware`; and the (S, 12) stats.
    """
    if iou_type not in _IOU_TYPES:
        raise ValueError(f"iou_type must be one of {_IOU_TYPES}, got {iou_type!r}")
    max_dets = [int(m) for m in max_dets]
    if len(max_dets) < 3:
        raise ValueError(f"max_dets needs at least 3 entries (COCOeval), got {max_dets}")
    coco_dt = _load_results(coco_gt, results, iou_type)
    coco_eval = ScoreAwareCOCOeval(coco_gt, coco_dt, iou_type)
    coco_eval.params.maxDets = max_dets
    if img_ids is not None:
        coco_eval.params.imgIds = list(img_ids)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval.evaluate()
    eval_sa = accumulate_score_aware(coco_eval, thresholds)
    stats = summarize_score_aware(eval_sa, coco_eval.params)
    coco_eval.eval = {
        "params": coco_eval.params,
        "counts": eval_sa["counts"][1:],
        "precision": eval_sa["precision"][0],
        "recall": eval_sa["recall"][0],
        "scores": eval_sa["scores0"],
    }
    coco_eval.stats = stats[0].copy()
    return coco_eval, eval_sa, stats


def accumulate_score_aware(coco_eval: COCOeval, thresholds: Sequence[float] = SCORE_THRESHOLDS) -> Dict[str, Any]:
    """Accumulate ``coco_eval.evalImgs`` once per score threshold (SIOD Eq. 7).

    For every (category k, area range a, maxDet m) the per-image top-m detections are merged
    and stably sorted by descending score exactly as ``COCOeval.accumulate`` does; the
    detections with score >= t_s form a prefix of that list, and precision/recall at
    threshold s are those of the prefix. Arithmetic (cumulative TP/FP counts, ``tp / npig``,
    ``tp / (tp + fp + eps)``, the monotone precision envelope, ``searchsorted`` on the
    101 recall thresholds) follows pycocotools operation by operation, so index 0 with
    t_0 = 0 (and non-negative scores) equals ``COCOeval.accumulate`` bit for bit.

    Args:
        coco_eval: a pycocotools COCOeval after ``evaluate()``.
        thresholds: score thresholds, shape (S,).

    Returns:
        dict with ``precision`` (S, T, R, K, A, M), ``recall`` (S, T, K, A, M) (-1 where
        undefined, as COCOeval), ``scores0`` (T, R, K, A, M) (COCOeval's ``scores`` at
        threshold index 0), ``thresholds`` (S,), ``counts`` [S, T, R, K, A, M].
    """
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if thresholds.size == 0 or not np.all(np.isfinite(thresholds)):
        raise ValueError(f"score thresholds must be a non-empty list of finite numbers, got {thresholds}")
    if not coco_eval.evalImgs:
        raise RuntimeError("accumulate_score_aware: run coco_eval.evaluate() first")
    p = coco_eval.params
    p.catIds = p.catIds if p.useCats == 1 else [-1]
    S = len(thresholds)
    T = len(p.iouThrs)
    R = len(p.recThrs)
    K = len(p.catIds) if p.useCats else 1
    A = len(p.areaRng)
    M = len(p.maxDets)
    precision = -np.ones((S, T, R, K, A, M))
    recall = -np.ones((S, T, K, A, M))
    scores0 = -np.ones((T, R, K, A, M))

    pe = coco_eval._paramsEval
    set_k = set(pe.catIds if pe.useCats else [-1])
    set_a = set(map(tuple, pe.areaRng))
    set_m = set(pe.maxDets)
    set_i = set(pe.imgIds)
    k_list = [n for n, k in enumerate(p.catIds) if k in set_k]
    m_list = [m for n, m in enumerate(p.maxDets) if m in set_m]
    a_list = [n for n, a in enumerate(map(tuple, p.areaRng)) if a in set_a]
    i_list = [n for n, i in enumerate(p.imgIds) if i in set_i]
    I0 = len(pe.imgIds)
    A0 = len(pe.areaRng)
    rec_thrs = p.recThrs
    # Thresholds as negated values: the kept prefix has -score <= -t (negation is exact).
    neg_thr = -thresholds
    eps = np.spacing(1)
    eval_imgs = coco_eval.evalImgs

    for k, k0 in enumerate(k_list):
        Nk = k0 * A0 * I0
        for a, a0 in enumerate(a_list):
            Na = a0 * I0
            E = [eval_imgs[Nk + Na + i] for i in i_list]
            E = [e for e in E if e is not None]
            if len(E) == 0:
                continue
            gt_ig = np.concatenate([e["gtIgnore"] for e in E])
            npig = np.count_nonzero(gt_ig == 0)
            if npig == 0:
                continue
            # rc = tp / npig >= r  <=>  tp >= c_r (float division is monotone in tp), with
            # c_r the first integer j whose j / npig (the same float division) reaches r.
            c_r = np.searchsorted(np.arange(npig + 1, dtype=float) / npig, rec_thrs, side="left")
            # All evaluated detections once; per image they are already sorted by score and
            # truncated to maxDets[-1], so their rank is their position.
            scores_all = np.concatenate([e["dtScores"] for e in E]).astype(np.float64, copy=False)
            rank = np.concatenate([np.arange(len(e["dtScores"])) for e in E])
            dtm_all = np.concatenate([e["dtMatches"] for e in E], axis=1) != 0
            dtig_all = np.concatenate([e["dtIgnore"] for e in E], axis=1) != 0
            # Stable sort of the full list restricted to rank < maxDet is the stable sort of
            # the restricted list (what COCOeval.accumulate computes per maxDet).
            order = np.argsort(-scores_all, kind="mergesort")
            rank_sorted = rank[order]
            for m, max_det in enumerate(m_list):
                sel = order[rank_sorted < max_det]
                sc = scores_all[sel]
                dtm = dtm_all[:, sel]
                dtig = dtig_all[:, sel]
                tps = np.logical_and(dtm, np.logical_not(dtig))
                fps = np.logical_and(np.logical_not(dtm), np.logical_not(dtig))
                tp_int = np.cumsum(tps, axis=1)
                tp_sum = tp_int.astype(dtype=float)
                fp_sum = np.cumsum(fps, axis=1).astype(dtype=float)
                rc = tp_sum / npig
                pr = tp_sum / (fp_sum + tp_sum + eps)
                nd = sc.shape[0]
                # First rank reaching each recall threshold, for all IoU thresholds at once
                # (rows offset by t * (npig + 2) so one searchsorted serves the T rows); on a
                # prefix of length n the same index is valid iff it is < n.
                off = np.arange(T)[:, None] * (npig + 2)
                inds = np.searchsorted((tp_int + off).ravel(), (c_r[None, :] + off).ravel(), side="left")
                inds = inds.reshape(T, R) - np.arange(T)[:, None] * nd
                # Number of detections with score >= t_s: a prefix of the sorted list.
                n_keep = np.searchsorted(-sc, neg_thr, side="right")
                for s in range(S):
                    n = int(n_keep[s])
                    if n == 0:
                        recall[s, :, k, a, m] = 0
                        precision[s, :, :, k, a, m] = 0
                        if s == 0:
                            scores0[:, :, k, a, m] = 0
                        continue
                    recall[s, :, k, a, m] = rc[:, n - 1]
                    # Monotone envelope of precision (pycocotools' backward max loop).
                    env = np.maximum.accumulate(pr[:, n - 1 :: -1], axis=1)[:, ::-1]
                    valid = inds < n
                    idx = np.minimum(inds, n - 1)
                    precision[s, :, :, k, a, m] = np.where(valid, np.take_along_axis(env, idx, axis=1), 0.0)
                    if s == 0:
                        scores0[:, :, k, a, m] = np.where(valid, sc[idx], 0.0)
    return {
        "params": p,
        "counts": [S, T, R, K, A, M],
        "thresholds": thresholds,
        "precision": precision,
        "recall": recall,
        "scores0": scores0,
    }


def _summarize_one(precision, recall, p, ap, iou_thr=None, area_rng="all", max_dets=100) -> float:
    """One COCO summary number (pycocotools ``_summarize`` arithmetic, no printing)."""
    aind = [i for i, lbl in enumerate(p.areaRngLbl) if lbl == area_rng]
    mind = [i for i, m in enumerate(p.maxDets) if m == max_dets]
    if ap == 1:
        s = precision  # (T, R, K, A, M)
        if iou_thr is not None:
            s = s[np.where(iou_thr == p.iouThrs)[0]]
        s = s[:, :, :, aind, mind]
    else:
        s = recall  # (T, K, A, M)
        if iou_thr is not None:
            s = s[np.where(iou_thr == p.iouThrs)[0]]
        s = s[:, :, aind, mind]
    if len(s[s > -1]) == 0:
        return -1.0
    return float(np.mean(s[s > -1]))


def summarize_score_aware(eval_sa: Dict[str, Any], params) -> np.ndarray:
    """The 12 COCO detection stats for every score threshold.

    Same definitions as Detectron2's evaluation (pycocotools ``summarize``; AP and the
    area-range ARs use ``maxDets[2]``, which is 100 by default).

    Returns:
        (S, 12) float array in [0, 1], -1 where a stat is undefined; columns in
        :data:`STAT_NAMES` order.
    """
    md = params.maxDets
    specs = [
        (1, None, "all", md[2]),
        (1, 0.5, "all", md[2]),
        (1, 0.75, "all", md[2]),
        (1, None, "small", md[2]),
        (1, None, "medium", md[2]),
        (1, None, "large", md[2]),
        (0, None, "all", md[0]),
        (0, None, "all", md[1]),
        (0, None, "all", md[2]),
        (0, None, "small", md[2]),
        (0, None, "medium", md[2]),
        (0, None, "large", md[2]),
    ]
    S = eval_sa["precision"].shape[0]
    stats = np.zeros((S, len(specs)))
    for s in range(S):
        for j, (ap, iou, area, m) in enumerate(specs):
            stats[s, j] = _summarize_one(eval_sa["precision"][s], eval_sa["recall"][s], params, ap, iou, area, m)
    return stats


def score_aware_metrics(stats: np.ndarray) -> "OrderedDict[str, float]":
    """``AP@S`` (Eq. 8: mean of the per-threshold APs) and ``AP@S_i``, in percent (NaN if undefined)."""
    ap = np.asarray(stats)[:, 0]
    out = OrderedDict()
    out["AP@S"] = float(np.mean(ap) * 100) if np.all(ap >= 0) else float("nan")
    for i, v in enumerate(ap):
        out[f"AP@S_{i}"] = float(v * 100) if v >= 0 else float("nan")
    return out


def _result_table(stats: np.ndarray, thresholds: np.ndarray, iou_type: str) -> Dict[str, Any]:
    """JSON-serialisable table of all 12 stats (percent, null if undefined) per threshold."""
    metrics = score_aware_metrics(stats)
    rows = []
    for i, t in enumerate(thresholds):
        row = OrderedDict(name=f"S_{i}", threshold=float(t))
        for name, v in zip(STAT_NAMES, stats[i]):
            row[name] = float(v * 100) if v >= 0 else None
        rows.append(row)
    return OrderedDict(
        iou_type=iou_type,
        thresholds=[float(t) for t in thresholds],
        stat_names=list(STAT_NAMES),
        metrics=OrderedDict((k, (v if math.isfinite(v) else None)) for k, v in metrics.items()),
        per_threshold=rows,
    )


# --------------------------------------------------------------------------------------------
# Function form
# --------------------------------------------------------------------------------------------
def evaluate_score_aware(
    gt_json: Union[str, Dict[str, Any], COCO],
    results_json_or_list: Union[str, List[Dict[str, Any]]],
    iou_type: str = "bbox",
    thresholds: Sequence[float] = SCORE_THRESHOLDS,
    *,
    round_scores: bool = False,
    max_dets: Sequence[int] = (1, 10, 100),
    img_ids: Optional[Sequence[int]] = None,
    output_json: Optional[str] = None,
    plot_path: Optional[str] = None,
) -> Dict[str, Any]:
    """Score-aware AP of a COCO results file against a COCO ground-truth file.

    Args:
        gt_json: path of a COCO instances file (validated with ``load_coco_dict``), a dict,
            or a pycocotools ``COCO``.
        results_json_or_list: path of a COCO results JSON (a list of detections) or the list.
            The list is not modified.
        iou_type: "bbox" or "segm".
        thresholds: score thresholds t_i (default ``np.arange(0, 1, 0.1)``, the reference's).
        round_scores: round scores to 2 decimals first (CenterNet/SIOD exporter parity).
        max_dets: COCOeval maxDets.
        img_ids: restrict to these image ids.
        output_json: if given, write the table (all 12 stats per threshold) there, atomically.
        plot_path: if given, save AP/AP50/AP75 versus score threshold as a PNG there.

    Returns:
        dict with ``metrics`` (OrderedDict ``AP@S``, ``AP@S_0``.. in percent), ``stats``
        ((S, 12) array, fractions, -1 undefined), ``thresholds`` ((S,) array), ``iou_type``,
        ``table`` (the JSON-serialisable table).
    """
    if iou_type not in _IOU_TYPES:
        raise ValueError(f"iou_type must be one of {_IOU_TYPES}, got {iou_type!r}")
    if isinstance(gt_json, COCO):
        coco_gt, gt_src = gt_json, "<COCO>"
    elif isinstance(gt_json, dict):
        from ..data.coco_io import validate_coco_dict

        validate_coco_dict(gt_json, "<gt dict>")
        coco_gt, gt_src = _coco_from_dict(copy.deepcopy(gt_json)), "<gt dict>"
    else:
        coco_gt, gt_src = _coco_from_dict(load_coco_dict(gt_json)), str(gt_json)
    _validate_gt_for_eval(coco_gt, iou_type, gt_src)

    if isinstance(results_json_or_list, (str, os.PathLike)):
        src = str(results_json_or_list)
        if not PathManager.exists(src):
            raise FileNotFoundError(f"COCO results file not found: {src}")
        with PathManager.open(src, "r") as f:
            try:
                results = json.load(f)
            except json.JSONDecodeError as e:
                raise CocoFormatError(f"{src}: not valid JSON ({e})") from None
    else:
        src = "<results list>"
        results = results_json_or_list
    validate_coco_results(results, coco_gt, iou_type, src)
    if round_scores:
        results = round_result_scores(results)

    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    _, _, stats = run_score_aware_cocoeval(coco_gt, results, iou_type, thresholds, max_dets, img_ids)
    table = _result_table(stats, thresholds, iou_type)
    if output_json:
        atomic_write_json(table, output_json, indent=2)
    if plot_path:
        plot_ap_vs_score_threshold(stats, thresholds, plot_path, title=f"score-aware AP ({iou_type})")
    return {
        "iou_type": iou_type,
        "thresholds": thresholds,
        "stats": stats,
        "metrics": score_aware_metrics(stats),
        "table": table,
    }


# --------------------------------------------------------------------------------------------
# Plot
# --------------------------------------------------------------------------------------------
def plot_ap_vs_score_threshold(
    stats: np.ndarray,
    thresholds: Sequence[float],
    path: str,
    title: str = "score-aware AP",
    stat_names: Sequence[str] = ("AP", "AP50", "AP75"),
) -> str:
    """Save a PNG of COCO stats (percent) versus the score threshold.

    Args:
        stats: (S, 12) array from :func:`summarize_score_aware` (fractions, -1 undefined).
        thresholds: (S,) score thresholds.
        path: output PNG path (folders are created).
        stat_names: which of :data:`STAT_NAMES` to draw.

    Returns:
        ``path``.
    """
    # Figure + Agg canvas directly: no pyplot, no change of the process-wide backend.
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    stats = np.asarray(stats, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if stats.ndim != 2 or stats.shape[0] != len(thresholds):
        raise ValueError(f"stats must be (S, 12) with S = len(thresholds) = {len(thresholds)}, got {stats.shape}")
    fig = Figure(figsize=(5, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name in stat_names:
        j = STAT_NAMES.index(name)
        v = np.where(stats[:, j] >= 0, stats[:, j] * 100, np.nan)
        ax.plot(thresholds, v, marker="o", label=name)
    ap = stats[:, 0]
    if np.all(ap >= 0):
        ax.axhline(float(np.mean(ap) * 100), color="gray", linestyle="--", label="AP@S (mean)")
    ax.set_xlabel("score threshold t")
    ax.set_ylabel("AP (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, ".tmp_" + os.path.basename(path))
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------------------------
# DatasetEvaluator
# --------------------------------------------------------------------------------------------
def add_score_aware_config(cfg):
    """Add ``cfg.TEST.SCORE_AWARE`` keys (the SIOD reference's defaults) in place.

    ``THRESHOLDS`` are the exact doubles of ``np.arange(0, 1, 0.1)``; ``ROUND_SCORES`` rounds
    scores to 2 decimals (CenterNet/SIOD exporter parity, off by default); ``PLOT`` saves the
    AP-versus-threshold PNG in the evaluator's output folder.
    """
    from detectron2.config import CfgNode as CN

    cfg.TEST.SCORE_AWARE = CN()
    cfg.TEST.SCORE_AWARE.THRESHOLDS = [float(t) for t in SCORE_THRESHOLDS]
    cfg.TEST.SCORE_AWARE.ROUND_SCORES = False
    cfg.TEST.SCORE_AWARE.PLOT = True
    return cfg


class ScoreAwareCOCOEvaluator(COCOEvaluator):
    """:class:`COCOEvaluator` that also reports score-aware AP (SIOD) for bbox and segm.

    The returned dict holds, per task, Detectron2's usual metrics (``AP``, ``AP50``, ...,
    per-category AP; computed from threshold index 0, hence equal to ``COCOEvaluator``'s)
    plus ``AP@S`` and ``AP@S_0`` .. ``AP@S_{S-1}`` (percent). All 12 stats per threshold are
    kept in ``self.score_aware_tables[task]`` and, with ``output_dir``, written to
    ``score_aware_{task}.json`` (plus ``score_aware_{task}.png`` when ``plot``).
    Multi-process evaluation gathers on rank 0 exactly as ``COCOEvaluator`` does.
    """

    @configurable
    def __init__(
        self,
        dataset_name,
        tasks=None,
        distributed=True,
        output_dir=None,
        *,
        max_dets_per_image=None,
        score_thresholds: Sequence[float] = SCORE_THRESHOLDS,
        round_scores: bool = False,
        plot: bool = True,
        **kwargs,
    ):
        """
        Args:
            dataset_name, tasks, distributed, output_dir, max_dets_per_image: as
                :class:`COCOEvaluator` (keypoints are not supported).
            score_thresholds: t_i, default ``np.arange(0, 1, 0.1)``.
            round_scores: round scores to 2 decimals before evaluation (CenterNet parity;
                off by default, then AP@S_0 equals COCOEvaluator's AP exactly).
            plot: with ``output_dir``, save the AP-versus-threshold PNG per task.
            kwargs: other ``COCOEvaluator`` keyword arguments; ``use_fast_impl`` is forced
                to False (Detectron2's compiled evaluator is not used).
        """
        if kwargs.pop("use_fast_impl", False):
            import logging

            logging.getLogger(__name__).info("ScoreAwareCOCOEvaluator: use_fast_impl ignored (pycocotools is used)")
        super().__init__(
            dataset_name,
            tasks=tasks,
            distributed=distributed,
            output_dir=output_dir,
            max_dets_per_image=max_dets_per_image,
            use_fast_impl=False,
            **kwargs,
        )
        if self._tasks is not None:
            bad = set(self._tasks) - set(_IOU_TYPES)
            if bad:
                raise ValueError(f"ScoreAwareCOCOEvaluator supports tasks {_IOU_TYPES}, got {sorted(bad)}")
        thr = np.asarray(score_thresholds, dtype=np.float64).reshape(-1)
        if thr.size == 0 or not np.all(np.isfinite(thr)):
            raise ValueError(f"score_thresholds must be finite numbers, got {score_thresholds}")
        self._score_thresholds = thr
        self._round_scores = bool(round_scores)
        self._plot = bool(plot)
        self.score_aware_tables: Dict[str, Dict[str, Any]] = {}

    @classmethod
    def from_config(cls, cfg, dataset_name, output_dir=None):
        """``ScoreAwareCOCOEvaluator(cfg, dataset_name, output_dir)``: keys of :func:`add_score_aware_config`."""
        if "SCORE_AWARE" not in cfg.TEST:
            raise KeyError(
                "cfg.TEST.SCORE_AWARE is missing: call pointdet.evaluation.score_aware.add_score_aware_config(cfg) "
                "(or pointdet.add_pointdet_config(cfg)) before building ScoreAwareCOCOEvaluator from a config"
            )
        sa = cfg.TEST.SCORE_AWARE
        return {
            "dataset_name": dataset_name,
            "output_dir": output_dir,
            "max_dets_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "score_thresholds": tuple(sa.THRESHOLDS),
            "round_scores": sa.ROUND_SCORES,
            "plot": sa.PLOT,
        }

    def _eval_predictions(self, predictions, img_ids=None):
        """Like ``COCOEvaluator._eval_predictions`` but with the score-aware accumulation."""
        self._logger.info("Preparing results for COCO format ...")
        coco_results = list(itertools.chain(*[x["instances"] for x in predictions]))
        tasks = self._tasks or self._tasks_from_predictions(coco_results)

        if hasattr(self._metadata, "thing_dataset_id_to_contiguous_id"):
            dataset_id_to_contiguous_id = self._metadata.thing_dataset_id_to_contiguous_id
            num_classes = len(dataset_id_to_contiguous_id)
            reverse_id_mapping = {v: k for k, v in dataset_id_to_contiguous_id.items()}
            for result in coco_results:
                category_id = result["category_id"]
                if category_id not in reverse_id_mapping:
                    raise ValueError(
                        f"A prediction on image id {result['image_id']} has class={category_id}, but "
                        f"dataset {self._metadata.name} has {num_classes} classes [0, {num_classes - 1}]"
                    )
                result["category_id"] = reverse_id_mapping[category_id]

        if self._output_dir:
            file_path = os.path.join(self._output_dir, "coco_instances_results.json")
            self._logger.info("Saving results to {}".format(file_path))
            with PathManager.open(file_path, "w") as f:
                f.write(json.dumps(coco_results))
                f.flush()

        if not self._do_evaluation:
            self._logger.info("Annotations are not available for evaluation.")
            return

        skipped = sorted(set(tasks) - set(_IOU_TYPES))
        if skipped:
            self._logger.warning(f"ScoreAwareCOCOEvaluator evaluates bbox/segm only; not evaluated: {skipped}")
        tasks = [t for t in sorted(tasks) if t in _IOU_TYPES]
        if self._round_scores:
            coco_results = round_result_scores(coco_results)
        for task in tasks:
            if len(coco_results) == 0:
                res = self._derive_coco_results(None, task, class_names=self._metadata.get("thing_classes"))
                res.update({k: float("nan") for k in score_aware_metrics(np.full((len(self._score_thresholds), 12), -1.0))})
                self._results[task] = res
                continue
            validate_coco_results(coco_results, self._coco_api, task, f"predictions on {self._metadata.name}")
            coco_eval, _, stats = run_score_aware_cocoeval(
                self._coco_api,
                coco_results,
                task,
                self._score_thresholds,
                self._max_dets_per_image,
                img_ids,
            )
            res = self._derive_coco_results(coco_eval, task, class_names=self._metadata.get("thing_classes"))
            metrics = score_aware_metrics(stats)
            res.update(metrics)
            table = _result_table(stats, self._score_thresholds, task)
            self.score_aware_tables[task] = table
            self._logger.info(
                f"Score-aware {task} AP: "
                + ", ".join(f"{k}={v:.3f}" for k, v in metrics.items())
            )
            if self._output_dir:
                PathManager.mkdirs(self._output_dir)
                atomic_write_json(table, os.path.join(self._output_dir, f"score_aware_{task}.json"), indent=2)
                if self._plot:
                    plot_ap_vs_score_threshold(
                        stats,
                        self._score_thresholds,
                        os.path.join(self._output_dir, f"score_aware_{task}.png"),
                        title=f"score-aware AP ({task}, {self._metadata.name})",
                    )
            self._results[task] = res
