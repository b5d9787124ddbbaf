"""Point localization AP, vectorised: matching and accumulation (CPR paper Sec. 4.1, Eq. 12).

A predicted point p matches a GT box g (centre (xc, yc), size (w, h)) when the normalised
distance of CPR Eq. 12,

    d(p, g) = sqrt(((px - xc) / w)^2 + ((py - yc) / h)^2),

is at most tau. The rules are those of the reference ``LocationEvaluator`` of the CPR
authors (see ``projects/CPR/README.md``):

* per category, per image, detections are sorted by score (float32, NumPy ``argsort`` of
  the negated scores) and the first ``max_dets`` are kept;
* regular GTs are matched one-to-one, greedily by *score groups* (consecutive scores within
  ``1e-8`` of the group's first score form a group; inside a group the (detection, GT) pair
  with the smallest distance is taken first);
* an unmatched detection within tau of an ignored GT is removed (neither TP nor FP); a GT
  is ignored when it is an ignore region (``iscrowd``, and ``ignore`` unless
  ``ignore_rule="reference"``) or when its size sqrt(w*h) is outside ``[sqrt(amin), sqrt(amax))``;
* the pooled detections of a category give recall = cumTP / npos in float32 (so perfect
  recall is exactly 1.0) and precision = cumTP / rank (float64); only the first entry of
  every distinct recall value is kept, and AP is the mean precision at the 101 recall
  thresholds 0:0.01:1 without interpolation (0 past the last recall); AR is the maximum recall;
* a category without GT gets AP 1 without detections and 0 with some (the reference's
  values; :class:`~pointdet.evaluation.point_ap_result.PointAPResult` decides whether they
  enter the mean).

:func:`compute_point_ap` advances all (category, image) cells, area ranges, taus and
max-dets settings together, one greedy step per iteration.
"""
import math
from typing import Dict, NamedTuple, Sequence, Tuple

import numpy as np

from .point_ap_inputs import PointEvalInputs

__all__ = [
    "COCO_AREA_RANGES",
    "TINY_AREA_RANGES",
    "AREA_RANGE_PRESETS",
    "DEFAULT_TAUS",
    "DEFAULT_MAX_DETS",
    "RECALL_THRESHOLDS",
    "SCORE_GROUP_EPS",
    "resolve_area_ranges",
    "size_bounds",
    "match_value_threshold",
    "precision_recall_ap",
    "compute_point_ap",
]

#: (label, min area, max area) in px^2; a GT is in range when sqrt(min) <= sqrt(w*h) < sqrt(max).
#: The COCO preset of the reference P2PNet configs.
COCO_AREA_RANGES = (
    ("all", 0.0, 1e10),
    ("small", 0.0, 32.0**2),
    ("medium", 32.0**2, 96.0**2),
    ("large", 96.0**2, 1e10),
)
#: The reference LocationEvaluator's default ranges, used for TinyPerson / SeaPerson.
TINY_AREA_RANGES = (
    ("all", 1.0, 1e5**2),
    ("tiny", 1.0, 20.0**2),
    ("tiny1", 1.0, 8.0**2),
    ("tiny2", 8.0**2, 12.0**2),
    ("tiny3", 12.0**2, 20.0**2),
    ("small", 20.0**2, 32.0**2),
    ("reasonable", 32.0**2, 1e5**2),
)
AREA_RANGE_PRESETS = {"coco": COCO_AREA_RANGES, "tiny": TINY_AREA_RANGES}

DEFAULT_TAUS = (0.5, 1.0, 2.0)
DEFAULT_MAX_DETS = (100,)
#: recall thresholds 0:0.01:1 (101 points), as in the reference
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
#: scores closer than this to a score group's first score are one group (reference eps)
SCORE_GROUP_EPS = 1e-8

AreaRanges = Tuple[Tuple[str, float, float], ...]


def resolve_area_ranges(area_ranges) -> AreaRanges:
    """Accept a preset name ('coco' | 'tiny'), or a sequence of (label, min_area, max_area) in px^2."""
    if isinstance(area_ranges, str):
        if area_ranges not in AREA_RANGE_PRESETS:
            raise ValueError(f"unknown area-range preset {area_ranges!r}; known: {sorted(AREA_RANGE_PRESETS)}")
        return AREA_RANGE_PRESETS[area_ranges]
    out = []
    for r in area_ranges:
        if len(r) != 3:
            raise ValueError(f"an area range must be (label, min_area, max_area), got {r!r}")
        label, lo, hi = r
        try:
            lo, hi = float(lo), float(hi)
        except (TypeError, ValueError):
            raise ValueError(f"area range {r!r}: min_area and max_area must be numbers") from None
        if not (0 <= lo < hi):
            raise ValueError(f"area range {r!r} must satisfy 0 <= min_area < max_area")
        out.append((str(label), lo, hi))
    if not out:
        raise ValueError("at least one area range is required")
    labels = [r[0] for r in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"area range labels must be unique, got {labels}")
    return tuple(out)


def check_params(taus, max_dets) -> Tuple[Tuple[float, ...], Tuple[int, ...]]:
    taus = tuple(float(t) for t in taus)
    max_dets = tuple(int(m) for m in max_dets)
    if not taus or any(not (t > 0 and math.isfinite(t)) for t in taus):
        raise ValueError(f"taus must be positive finite numbers, got {taus}")
    if not max_dets or any(m < 1 for m in max_dets):
        raise ValueError(f"max_dets must be positive integers, got {max_dets}")
    return taus, max_dets


def size_bounds(area_ranges) -> np.ndarray:
    """(A, 2) float32 bounds [sqrt(min_area), sqrt(max_area)) compared with float32 sizes."""
    return np.array([[math.sqrt(lo), math.sqrt(hi)] for _, lo, hi in area_ranges], dtype=np.float64).astype(
        np.float32
    )


def match_value_threshold(tau: float) -> float:
    """V = 1 / (1 + d^2) >= 1 / (1 + tau^2)  <=>  d <= tau (the reference's comparison)."""
    return 1.0 / (tau * tau + 1.0)


def precision_recall_ap(tp_sorted: np.ndarray, npos: int):
    """Kept (recall, precision) points and (AP, AR) of one category.

    Args:
        tp_sorted: (N,) bool TP flags of the pooled, non-ignored detections sorted by
            descending score.
        npos: number of regular GTs.
    Returns:
        recall (float32), precision (float64) arrays, AP, AR (floats in [0, 1]).
    """
    n = len(tp_sorted)
    if n == 0:
        recall = np.ones(1, np.float32) if npos == 0 else np.zeros(1, np.float32)
        precision = recall.astype(np.float64)
    else:
        cum_tp = np.cumsum(tp_sorted.astype(np.float32))
        recall_all = cum_tp / np.float32(npos + 1e-12)  # float32, as the reference under NumPy 1.x
        precision_all = cum_tp.astype(np.float64) / np.arange(1, n + 1)
        keep = tp_sorted.copy()  # the first entry, then every TP (each adds a new recall value)
        if npos == 0:
            keep[:] = False
        keep[0] = True
        recall, precision = recall_all[keep], precision_all[keep]
    idx = np.searchsorted(recall.astype(np.float64), RECALL_THRESHOLDS, side="left")
    chosen = np.zeros(len(RECALL_THRESHOLDS), np.float64)
    reached = idx < len(recall)
    chosen[reached] = precision[idx[reached]]
    ap = np.sum(chosen) / len(RECALL_THRESHOLDS)
    return recall, precision, float(ap), float(np.max(recall))


# ----------------------------------------------------------------------------------------
# detection order and score groups
# ----------------------------------------------------------------------------------------
def _sort_dets_per_cell(cell: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Order detections by (category, image) cell, then by descending score as the reference.

    The reference calls ``np.argsort(-scores)`` (non-stable quicksort) on each cell's
    detections in results order. Without ties any sort gives that order; cells with tied
    scores are re-sorted with the same call on the same array.
    """
    order = np.lexsort((-score, cell))
    cell_sorted, score_sorted = cell[order], score[order]
    same_cell = cell_sorted[1:] == cell_sorted[:-1]
    tie = same_cell & (score_sorted[1:] == score_sorted[:-1])
    if tie.any():
        starts = np.flatnonzero(np.r_[True, ~same_cell])
        ends = np.r_[starts[1:], len(order)]
        cell_number = np.cumsum(np.r_[True, ~same_cell]) - 1
        for c in np.unique(cell_number[1:][tie]):
            s, e = starts[c], ends[c]
            results_order = np.sort(order[s:e])
            order[s:e] = results_order[np.argsort(-score[results_order])]
    return order


def _score_groups(score_sorted: np.ndarray, cell_start: np.ndarray) -> np.ndarray:
    """Score-group id (global, increasing) of each sorted detection.

    A new group starts at each cell start and where the score differs from the current
    group's first score by >= eps (reference semantics).
    """
    n = len(score_sorted)
    new_group = np.ones(n, dtype=bool)
    if n > 1:
        gap = np.abs(score_sorted[1:] - score_sorted[:-1])
        new_group[1:] = gap >= SCORE_GROUP_EPS
        new_group[cell_start] = True
        # chains of small non-zero gaps need the sequential rule (rare)
        fuzzy = np.flatnonzero((gap > 0) & (gap < SCORE_GROUP_EPS) & ~cell_start[1:]) + 1
        if len(fuzzy):
            cell_starts = np.flatnonzero(cell_start)
            for c in np.unique(np.searchsorted(cell_starts, fuzzy, side="right") - 1):
                s = cell_starts[c]
                e = cell_starts[c + 1] if c + 1 < len(cell_starts) else n
                first = score_sorted[s]
                for i in range(s + 1, e):
                    new_group[i] = abs(score_sorted[i] - first) >= SCORE_GROUP_EPS
                    if new_group[i]:
                        first = score_sorted[i]
    return np.cumsum(new_group) - 1


# ----------------------------------------------------------------------------------------
# greedy matching of many independent problems
# ----------------------------------------------------------------------------------------
def _greedy_match(match_value, problem_cell, problem_threshold, gt_available, candidates, score_group, window=8):
    """One-to-one greedy matching of many independent (cell, setting) problems at once.

    Args:
        match_value: (C, Dpad, Gpad) float64 1/(1+d^2) of each cell's sorted detections x GTs.
        problem_cell: (N,) cell index of each problem.
        problem_threshold: (N,) match threshold on the match value (1/(1+tau^2)).
        gt_available: (N, Gpad) bool, the regular GTs each problem may match.
        candidates: (N, Dpad) bool, detections that have an available GT within tau (the
            others can never match, so dropping them does not change the greedy result).
        score_group: (C, Dpad) int score-group id of each detection.
        window: detections examined per problem and iteration in runs of distinct scores.
    Returns:
        (N, Dpad) bool, the detection is a TP.
    """
    num_problems, det_pad = candidates.shape
    gt_pad = match_value.shape[2]
    is_tp = np.zeros((num_problems, det_pad), dtype=bool)
    num_candidates = candidates.sum(1)
    max_candidates = int(num_candidates.max()) if num_problems else 0
    if max_candidates == 0:
        return is_tp
    positions = np.arange(max_candidates)
    # candidate_det[n, k]: detection column of problem n's k-th candidate, in score order
    rows, cols = np.nonzero(candidates)
    rank_in_problem = (np.cumsum(candidates, axis=1) - 1)[rows, cols]
    candidate_det = np.zeros((num_problems, max_candidates), dtype=np.int64)
    candidate_det[rows, rank_in_problem] = cols
    padding = positions[None, :] >= num_candidates[:, None]
    candidate_group = score_group[problem_cell[:, None], candidate_det]
    candidate_group[padding] = -1
    # group_end[n, k]: end (exclusive) of the score group of candidate k
    is_last_of_group = np.ones((num_problems, max_candidates), dtype=bool)
    is_last_of_group[:, :-1] = candidate_group[:, 1:] != candidate_group[:, :-1]
    last_index = np.where(is_last_of_group, positions[None, :], max_candidates)
    group_end = np.minimum.accumulate(last_index[:, ::-1], axis=1)[:, ::-1] + 1
    is_first_of_group = np.ones((num_problems, max_candidates), dtype=bool)
    is_first_of_group[:, 1:] = candidate_group[:, 1:] != candidate_group[:, :-1]
    longest_group = int(((group_end - positions[None, :]) * (is_first_of_group & ~padding)).max())
    single_det_group = (group_end == positions[None, :] + 1) & ~padding

    next_candidate = np.zeros(num_problems, dtype=np.int64)
    gt_free = gt_available.copy()
    candidate_used = np.zeros((num_problems, max_candidates), dtype=bool)
    done = (num_candidates == 0) | ~gt_free.any(1)
    group_offsets = np.arange(longest_group)
    window = min(window, max_candidates)
    window_offsets = np.arange(window)
    earlier = np.tril(np.ones((window, window), dtype=bool), k=-1)  # [i, k]: k < i
    while True:
        active = np.flatnonzero(~done)
        if len(active) == 0:
            break
        at_single = single_det_group[active, next_candidate[active]]
        # Runs of one-detection groups: each detection's best free GT, computed for a window
        # at once, is what the sequential greedy gives up to the first repeated GT (earlier
        # detections only remove other GTs, and removing GTs keeps the first maximum first).
        singles = active[at_single]
        if len(singles):
            start = next_candidate[singles]
            rows = start[:, None] + window_offsets[None, :]
            in_bounds = rows < max_candidates
            rows = np.minimum(rows, max_candidates - 1)
            row_valid = np.logical_and.accumulate(in_bounds & single_det_group[singles[:, None], rows], axis=1)
            det_col = candidate_det[singles[:, None], rows]
            values = np.where(
                gt_free[singles][:, None, :], match_value[problem_cell[singles][:, None], det_col], -np.inf
            )  # (n, window, Gpad)
            best_gt = np.argmax(values, axis=2)
            best_value = np.take_along_axis(values, best_gt[:, :, None], axis=2)[:, :, 0]
            matched = (best_value >= problem_threshold[singles][:, None]) & row_valid
            gt_taken_earlier = (
                (best_gt[:, :, None] == best_gt[:, None, :]) & matched[:, :, None] & matched[:, None, :] & earlier[None]
            ).any(2)
            stop = ~row_valid | gt_taken_earlier
            # >= 1: the first row never clashes
            num_taken = np.where(stop.any(1), np.argmax(stop, axis=1), window)
            take = matched & (window_offsets[None, :] < num_taken[:, None])
            r, c = np.nonzero(take)
            problems = singles[r]
            candidate_used[problems, start[r] + c] = True
            gt_free[problems, best_gt[r, c]] = False
            is_tp[problems, det_col[r, c]] = True
            next_candidate[singles] = start + num_taken
        grouped = active[~at_single]
        if len(grouped):
            # a score group of several detections: take the best (detection, GT) pair of the group
            start = next_candidate[grouped]
            end = group_end[grouped, start]
            rows = start[:, None] + group_offsets[None, :]
            row_valid = rows < end[:, None]
            rows = np.minimum(rows, max_candidates - 1)
            row_valid &= ~candidate_used[grouped[:, None], rows]
            det_col = candidate_det[grouped[:, None], rows]  # (n, L)
            values = match_value[problem_cell[grouped][:, None], det_col]  # (n, L, Gpad)
            values = np.where(row_valid[:, :, None] & gt_free[grouped][:, None, :], values, -np.inf)
            flat = values.reshape(len(grouped), -1)
            best = np.argmax(flat, axis=1)  # first maximum in (det, gt) row-major order, as the reference
            matched = flat[np.arange(len(grouped)), best] >= problem_threshold[grouped]
            row_in_group, gt_col = np.divmod(best, gt_pad)
            problems, rows_m, gts_m = grouped[matched], row_in_group[matched], gt_col[matched]
            candidate_used[problems, start[matched] + rows_m] = True
            gt_free[problems, gts_m] = False
            is_tp[problems, candidate_det[problems, start[matched] + rows_m]] = True
            row_valid[np.flatnonzero(matched), rows_m] = False
            group_finished = ~matched | ~row_valid.any(1)
            next_candidate[grouped[group_finished]] = end[group_finished]
        done[active] = (next_candidate[active] >= num_candidates[active]) | ~gt_free[active].any(1)
    return is_tp


class _Cells(NamedTuple):
    """Where each (category, image) cell's detections and GTs lie in the sorted arrays."""

    first_det: np.ndarray  # (C,) index of the cell's first sorted detection
    num_dets: np.ndarray  # (C,)
    first_gt: np.ndarray  # (C,) index into the cell-sorted GT order
    num_gts: np.ndarray  # (C,)


def _match_cells(cells, index: _Cells, gt_order, inputs, det_point, det_rank, det_group, gt_regular,
                 match_thresholds, settings, max_dets, det_is_tp, det_is_ignored, det_pad, gt_pad):
    """Match the detections of ``cells`` for every setting; set ``det_is_tp`` / ``det_is_ignored``."""
    num_cells = len(cells)
    det_offsets, gt_offsets = np.arange(det_pad), np.arange(gt_pad)
    det_valid = det_offsets[None, :] < index.num_dets[cells][:, None]  # (C, Dpad)
    gt_valid = gt_offsets[None, :] < index.num_gts[cells][:, None]  # (C, Gpad)
    det_index = np.where(det_valid, index.first_det[cells][:, None] + det_offsets[None, :], 0)  # sorted dets
    gt_index = gt_order[np.where(gt_valid, index.first_gt[cells][:, None] + gt_offsets[None, :], 0)]  # GT arrays
    # CPR Eq. 12 in float32 as the reference, match value 1 / (1 + d^2) in float64
    # (padded rows/columns hold copies of real entries; every later step masks them out)
    points, centers, sizes = det_point[det_index], inputs.gt_center[gt_index], inputs.gt_wh[gt_index]
    dx = (points[:, :, None, 0] - centers[:, None, :, 0]) / sizes[:, None, :, 0]
    dy = (points[:, :, None, 1] - centers[:, None, :, 1]) / sizes[:, None, :, 1]
    match_value = np.add(dx * dx + dy * dy, 1.0, dtype=np.float64)
    np.divide(1.0, match_value, out=match_value)  # (C, Dpad, Gpad)
    cell_det_group = det_group[det_index]
    cell_det_rank = det_rank[det_index]

    num_settings = len(settings)
    problem_cell = np.tile(np.arange(num_cells), num_settings)
    problem_threshold = np.repeat(match_thresholds[[t for _, t, _ in settings]], num_cells)
    problem_gt_available = np.zeros((num_settings * num_cells, gt_pad), dtype=bool)
    problem_candidates = np.zeros((num_settings * num_cells, det_pad), dtype=bool)
    problem_near_ignored = np.zeros((num_settings * num_cells, det_pad), dtype=bool)
    best_values = {}  # per area range: best match value of each detection over regular / ignored GTs
    for s, (a, t, m) in enumerate(settings):
        regular = gt_regular[a][gt_index] & gt_valid
        if a not in best_values:
            ignored = ~gt_regular[a][gt_index] & gt_valid
            best_values[a] = (
                np.where(regular[:, None, :], match_value, -np.inf).max(2, initial=-np.inf),
                np.where(ignored[:, None, :], match_value, -np.inf).max(2, initial=-np.inf),
            )
        best_regular, best_ignored = best_values[a]
        within_max_dets = det_valid & (cell_det_rank < max_dets[m])
        rows = slice(s * num_cells, (s + 1) * num_cells)
        problem_gt_available[rows] = regular
        problem_candidates[rows] = (best_regular >= match_thresholds[t]) & within_max_dets
        problem_near_ignored[rows] = (best_ignored >= match_thresholds[t]) & within_max_dets
    is_tp = _greedy_match(match_value, problem_cell, problem_threshold, problem_gt_available, problem_candidates,
                          cell_det_group)
    for s in range(num_settings):
        rows = slice(s * num_cells, (s + 1) * num_cells)
        tp, absorbed = is_tp[rows], problem_near_ignored[rows] & ~is_tp[rows]
        det_is_tp[s, det_index[tp]] = True
        det_is_ignored[s, det_index[absorbed]] = True


def compute_point_ap(
    inputs: PointEvalInputs,
    taus: Sequence[float],
    max_dets: Sequence[int],
    area_ranges,
    ignore_rule: str = "iscrowd_or_ignore",
    chunk_elements: int = 2_000_000,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Dict[Tuple[int, int, int, int], Tuple[np.ndarray, np.ndarray]]]:
    """Per-category AP/AR of every setting by the reference rules (module docstring).

    Args:
        inputs: from :func:`~pointdet.evaluation.point_ap_inputs.prepare_point_eval_inputs`.
        taus, max_dets: checked settings; area_ranges: resolved (label, min, max) tuples.
        ignore_rule: which GTs are ignore regions (see ``point_ap_inputs.IGNORE_RULES``).
        chunk_elements: memory bound on (cells x dets x GTs x settings) processed at once.
    Returns:
        ap, ar: (K, A, T, M) float64; npos: (K, A) int64 number of regular GTs;
        curves: {(k, a, t, m): (recall, precision)} kept PR points.
    """
    num_cats, num_images = len(inputs.category_ids), len(inputs.image_ids)
    num_areas, num_taus, num_max_dets = len(area_ranges), len(taus), len(max_dets)
    bounds = size_bounds(area_ranges)
    match_thresholds = np.array([match_value_threshold(t) for t in taus])

    # GT: regular (in range, not an ignore region) per area range; ordered by cell, file order inside
    size = inputs.gt_size
    in_range = (size[None, :] >= bounds[:, 0:1]) & (size[None, :] < bounds[:, 1:2])  # (A, G)
    gt_regular = in_range & ~inputs.gt_ignored(ignore_rule)[None, :]
    npos = np.zeros((num_cats, num_areas), dtype=np.int64)
    for a in range(num_areas):
        npos[:, a] = np.bincount(inputs.gt_cat[gt_regular[a]], minlength=num_cats)
    gt_cell = inputs.gt_cat * num_images + inputs.gt_img
    gt_order = np.argsort(gt_cell, kind="stable")
    gt_cell_sorted = gt_cell[gt_order]

    # detections: sorted per cell, truncated to max(max_dets); global order (category, image, rank)
    det_cell_unsorted = inputs.det_cat * num_images + inputs.det_img
    order = _sort_dets_per_cell(det_cell_unsorted, inputs.det_score)
    det_cell = det_cell_unsorted[order]
    cell_start = np.r_[True, det_cell[1:] != det_cell[:-1]] if len(det_cell) else np.zeros(0, bool)
    starts = np.flatnonzero(cell_start)
    det_rank = np.arange(len(det_cell)) - np.repeat(starts, np.diff(np.r_[starts, len(det_cell)]))
    keep = det_rank < max(max_dets)
    order, det_cell, det_rank = order[keep], det_cell[keep], det_rank[keep]
    det_score = inputs.det_score[order]
    det_point = inputs.det_point[order]
    det_cat = inputs.det_cat[order]
    num_dets = len(order)
    cell_start = np.r_[True, det_cell[1:] != det_cell[:-1]] if num_dets else np.zeros(0, bool)
    det_group = _score_groups(det_score, cell_start)

    settings = [(a, t, m) for a in range(num_areas) for t in range(num_taus) for m in range(num_max_dets)]
    det_is_tp = np.zeros((len(settings), num_dets), dtype=bool)
    det_is_ignored = np.zeros((len(settings), num_dets), dtype=bool)

    # cells having both detections and GTs, smallest first, matched in memory-bounded chunks
    first_det = np.flatnonzero(cell_start)
    cell_keys = det_cell[first_det]
    first_gt = np.searchsorted(gt_cell_sorted, cell_keys, side="left")
    index = _Cells(
        first_det=first_det,
        num_dets=np.r_[first_det[1:], num_dets] - first_det,
        first_gt=first_gt,
        num_gts=np.searchsorted(gt_cell_sorted, cell_keys, side="right") - first_gt,
    )
    to_match = np.flatnonzero(index.num_gts > 0)
    to_match = to_match[np.argsort(index.num_dets[to_match] * index.num_gts[to_match], kind="stable")]
    i = 0
    while i < len(to_match):
        j = i + 1
        det_pad, gt_pad = index.num_dets[to_match[i]], index.num_gts[to_match[i]]
        while j < len(to_match):
            grown_det_pad = max(det_pad, index.num_dets[to_match[j]])
            grown_gt_pad = max(gt_pad, index.num_gts[to_match[j]])
            if (j - i + 1) * grown_det_pad * grown_gt_pad * max(len(settings), 1) > chunk_elements:
                break
            det_pad, gt_pad = grown_det_pad, grown_gt_pad
            j += 1
        _match_cells(to_match[i:j], index, gt_order, inputs, det_point, det_rank, det_group, gt_regular,
                     match_thresholds, settings, max_dets, det_is_tp, det_is_ignored, int(det_pad), int(gt_pad))
        i = j

    # pooled PR / AP per category and setting
    ap = np.zeros((num_cats, num_areas, num_taus, num_max_dets))
    ar = np.zeros((num_cats, num_areas, num_taus, num_max_dets))
    curves = {}
    cat_start = np.searchsorted(det_cat, np.arange(num_cats), side="left")
    cat_end = np.searchsorted(det_cat, np.arange(num_cats), side="right")
    for s, (a, t, m) in enumerate(settings):
        evaluated = (det_rank < max_dets[m]) & ~det_is_ignored[s]
        for k in range(num_cats):
            span = slice(cat_start[k], cat_end[k])
            kept = evaluated[span]
            scores = det_score[span][kept]
            tp = det_is_tp[s, span][kept]
            if len(scores):
                tp = tp[np.argsort(-scores)]
            recall, precision, ap[k, a, t, m], ar[k, a, t, m] = precision_recall_ap(tp, int(npos[k, a]))
            curves[(k, a, t, m)] = (recall, precision)
    return ap, ar, npos, curves
