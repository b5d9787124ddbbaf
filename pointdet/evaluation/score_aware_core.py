"""Score-aware COCO AP (SIOD, Li et al. CVPR 2022, Sec. 4, Eq. 7-8): matching and accumulation.

AP@S_i is the standard COCO AP computed on the detections whose score is ``>= t_i``, with
``t = numpy.arange(0, 1, 0.1)`` exactly, the SIOD authors' code's values: 0.3, 0.6 and 0.7
are the slightly larger doubles ``0.30000000000000004``, ``0.6000000000000001`` and
``0.7000000000000001``, so a score of exactly 0.3 is *below* S_3 (and exactly 0.6 / 0.7 below
S_6 / S_7), while a score of exactly 0.2 or 0.5 is kept at S_2 / S_5. The paper's Eq. 7
writes ``s_d > t_s``; the SIOD code uses ``>=`` on score and IoU, and only ``>=`` makes
AP@S_0 the official COCO AP, so ``>=`` with the code's thresholds is used here. AP@S
(Eq. 8) is the mean over the thresholds; the whole AP@S row (all 12 COCO statistics) is,
as in the SIOD code's summary, the mean over every threshold, IoU, recall level and
category at once (:func:`summarize_score_aware_pooled`).

Implementation: ONE per-image matching pass (pycocotools ``COCOeval.evaluate``) and one
thresholded accumulation per score threshold (:func:`accumulate_score_aware`). Filtering the
tail of a score-sorted list changes no greedy match (a detection's match depends only on the
higher-scored detections before it), so the detections kept at threshold ``t`` are a prefix
of every per-image and every per-category score-sorted list, and COCOeval on the filtered
detections is the accumulation restricted to that prefix. The accumulation re-implements
``COCOeval.accumulate`` vectorised, with the same floating-point operations, so AP@S_0 is
bit-identical to Detectron2's :class:`COCOEvaluator` (official pycocotools path).

faster-coco-eval's ``COCOeval_faster`` keeps its per-image results in opaque C++ objects
and its C++ accumulation differs from pycocotools in the last bit of some precisions, so the
matching pass uses pycocotools (:class:`ScoreAwareCOCOeval`: pycocotools' matcher plus a
shortcut for (image, category) pairs without GT, where there is nothing to match).
"""
import math
from collections import OrderedDict
from typing import Any, Dict, Optional, Sequence

import numpy as np
from pycocotools.cocoeval import COCOeval

__all__ = [
    "SCORE_THRESHOLDS",
    "STAT_NAMES",
    "ScoreAwareCOCOeval",
    "accumulate_score_aware",
    "summarize_score_aware",
    "summarize_score_aware_pooled",
    "score_aware_metrics",
    "score_aware_table",
    "format_score_aware_table",
    "round_score",
]

#: The SIOD code's thresholds (``Params.setDetParams``): exactly ``np.arange(0, 1, 0.1)``.
SCORE_THRESHOLDS = np.arange(0, 1, 0.1)

#: The 12 COCO summary statistics, in ``COCOeval.stats`` order.
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


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


def round_score(score: float, decimals: int = 2) -> float:
    """A score rounded as the SIOD (CenterNet) exporter does (``float("{:.2f}".format(score))``)."""
    return float(f"{score:.{decimals}f}")


def _summary_specs(max_dets):
    """(ap, iou, area, maxDets) of the 12 stats, as Detectron2 / pycocotools ``summarize``
    (AP and the area-range ARs use ``maxDets[2]``, 100 by default)."""
    md = max_dets
    return [
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


def summarize_score_aware(eval_sa: Dict[str, Any], params) -> np.ndarray:
    """The 12 COCO detection stats for every score threshold.

    Returns:
        (S, 12) float array in [0, 1], -1 where a stat is undefined; columns in
        :data:`STAT_NAMES` order.
    """
    specs = _summary_specs(params.maxDets)
    num_thresholds = eval_sa["precision"].shape[0]
    stats = np.zeros((num_thresholds, len(specs)))
    for s in range(num_thresholds):
        for j, (ap, iou, area, m) in enumerate(specs):
            stats[s, j] = _summarize_one(eval_sa["precision"][s], eval_sa["recall"][s], params, ap, iou, area, m)
    return stats


def summarize_score_aware_pooled(eval_sa: Dict[str, Any], params) -> np.ndarray:
    """The AP@S row: each of the 12 stats averaged over all thresholds at once (SIOD Eq. 8).

    As the SIOD code's summary, the mean runs over every (threshold, IoU, recall level,
    category) entry that is defined, which equals the mean of the per-threshold stats (the
    undefined entries are the same at every threshold).

    Returns:
        (12,) float array in [0, 1], -1 where undefined.
    """
    precision, recall = eval_sa["precision"], eval_sa["recall"]  # (S, T, R, K, A, M), (S, T, K, A, M)
    S, T, R, K, A, M = precision.shape
    # fold the threshold axis into the recall / category axis: the mean over defined entries is unchanged
    precision = precision.transpose(1, 0, 2, 3, 4, 5).reshape(T, S * R, K, A, M)
    recall = recall.transpose(1, 0, 2, 3, 4).reshape(T, S * K, A, M)
    return np.array([
        _summarize_one(precision, recall, params, ap, iou, area, m) for ap, iou, area, m in _summary_specs(params.maxDets)
    ])


def score_aware_metrics(stats: np.ndarray, pooled: Optional[np.ndarray] = None) -> "OrderedDict[str, float]":
    """Metrics in percent (NaN if undefined): the AP@S row (``AP@S``, ``AP50@S``, ..., ``ARl@S``)
    and ``AP@S_0`` .. ``AP@S_{S-1}``.

    Args:
        stats: (S, 12) per-threshold stats from :func:`summarize_score_aware`.
        pooled: (12,) from :func:`summarize_score_aware_pooled`; by default the mean of
            ``stats`` over the thresholds.
    """
    stats = np.asarray(stats, dtype=np.float64)
    if pooled is None:
        pooled = np.where(np.all(stats >= 0, axis=0), stats.mean(0), -1.0)
    out = OrderedDict()
    for name, v in zip(STAT_NAMES, pooled):
        out[f"{name}@S"] = float(v * 100) if v >= 0 else float("nan")
    for i, v in enumerate(stats[:, 0]):
        out[f"AP@S_{i}"] = float(v * 100) if v >= 0 else float("nan")
    return out


def _percent_or_none(v: float) -> Optional[float]:
    return float(v * 100) if v >= 0 else None


def score_aware_table(stats: np.ndarray, pooled: np.ndarray, thresholds: Sequence[float], iou_type: str) -> Dict[str, Any]:
    """JSON-serialisable table (percent, null if undefined): the AP@S row and each threshold's row."""
    metrics = score_aware_metrics(stats, pooled)
    rows = []
    for i, t in enumerate(thresholds):
        row = OrderedDict(name=f"S_{i}", threshold=float(t))
        for name, v in zip(STAT_NAMES, stats[i]):
            row[name] = _percent_or_none(v)
        rows.append(row)
    return OrderedDict(
        iou_type=iou_type,
        units="percent",
        rule="S_i keeps the detections with score >= thresholds[i] (exact doubles)",
        thresholds=[float(t) for t in thresholds],
        stat_names=list(STAT_NAMES),
        metrics=OrderedDict((k, (v if math.isfinite(v) else None)) for k, v in metrics.items()),
        pooled=OrderedDict((name, _percent_or_none(v)) for name, v in zip(STAT_NAMES, pooled)),
        per_threshold=rows,
    )


def format_score_aware_table(table: Dict[str, Any]) -> str:
    """Markdown table of a :func:`score_aware_table`: the AP@S row, then one row per threshold
    with its exact value; every number is in percent."""
    thresholds = table["thresholds"]
    note = ""
    if list(thresholds) == [float(t) for t in SCORE_THRESHOLDS]:
        note = " (a score of exactly 0.5 is kept at S_5; one of exactly 0.3 is below S_3, t_3 = 0.30000000000000004)"
    lines = [
        f"Score-aware AP (SIOD), {table['iou_type']}, values in percent. Row S_i keeps the detections with "
        f"score >= t_i, t_i printed exactly{note}. The AP@S row averages every threshold (Eq. 8).",
        "| row | t | " + " | ".join(STAT_NAMES) + " |",
        "|" + "---|" * (len(STAT_NAMES) + 2),
    ]

    def cells(row):
        return " | ".join("nan" if row[n] is None else f"{row[n]:.2f}" for n in STAT_NAMES)

    span = f"{thresholds[0]!r}..{thresholds[-1]!r}" if thresholds else "-"
    lines.append(f"| AP@S | {span} | {cells(table['pooled'])} |")
    for row in table["per_threshold"]:
        lines.append(f"| {row['name']} | {row['threshold']!r} | {cells(row)} |")
    return "\n".join(lines)
