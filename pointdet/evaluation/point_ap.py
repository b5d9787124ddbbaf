"""Point localization mAP (CPR paper Sec. 4.1, Eq. 12) and its Detectron2 evaluator.

A predicted point p matches a ground-truth box g (centre (xc, yc), size (w, h)) when the
normalised point-to-box distance (CPR Eq. 12)

    d(p, g) = sqrt(((px - xc) / w)^2 + ((py - yc) / h)^2)

is at most tau. Matching and AP follow the reference ``LocationEvaluator`` of the CPR/P2BNet
code (see the project's spec, cpr.md section 4, and DECISIONS.md "Point mAP evaluator"):

* per category (ALL categories of the GT file, in file order), per image, detections are
  sorted by score (float32, NumPy ``argsort`` of the negated scores) and the first
  ``max_dets`` are kept;
* regular GTs are matched one-to-one, greedily by score groups (consecutive scores within
  ``1e-8`` of the group's first score form a group; within a group the (detection, GT) pair
  with the smallest distance is taken first);
* an unmatched detection within tau of an ignored GT is removed from evaluation (neither TP
  nor FP). A GT is ignored when ``iscrowd`` or ``ignore`` is set, or when its size
  sqrt(w*h) lies outside the area range ``[sqrt(amin), sqrt(amax))``;
* the pooled detections of a category give recall = cumTP / npos in float32 (NumPy 1.x
  semantics, so perfect recall is exactly 1.0) and precision = cumTP / rank (float64); only
  the first entry of every distinct recall value is kept and AP is the mean precision at the
  101 recall thresholds 0:0.01:1 without interpolation (0 past the last recall); AR is the
  maximum recall;
* empty cases: no GT and no detections -> AP 1 (AR 1); no GT but detections -> AP 0;
  the mean is over all categories, without NaN skipping.

Coordinates: Detectron2's continuous convention. The GT centre is (x + w/2, y + h/2), and a
prediction given as a box uses its centre (x + w/2, y + h/2). The reference code uses
(x + (w-1)/2) for both; a predicted point in our convention equals the reference's point
+ 0.5 px, so every distance d, hence every match and number, is the same.

:func:`evaluate_point_ap` is the vectorised implementation (all images, categories, area
ranges, taus and max-dets settings advance together, one greedy step per iteration);
:mod:`pointdet.evaluation.point_ap_reference` is a readable per-image loop of the same rules
used by the tests and the benchmark. Both return a :class:`PointAPResult`.
"""
import copy
import itertools
import json
import logging
import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from pointdet.data.coco_io import CocoFormatError, atomic_write_json, load_coco_dict, validate_coco_dict

__all__ = [
    "COCO_AREA_RANGES",
    "TINY_AREA_RANGES",
    "AREA_RANGE_PRESETS",
    "PointAPResult",
    "PointEvalInputs",
    "prepare_point_eval_inputs",
    "load_point_results",
    "evaluate_point_ap",
    "PointAPEvaluator",
    "add_point_eval_config",
]

logger = logging.getLogger(__name__)

#: (label, min area, max area) in px^2; a GT is in range when sqrt(min) <= sqrt(w*h) < sqrt(max).
#: The COCO preset of the reference P2PNet configs (cpr.md 4.6).
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


# ----------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------
@dataclass
class PointEvalInputs:
    """GT boxes and detections as flat arrays; shared by both implementations.

    Image and category indices are positions in the GT file's ``images`` / ``categories``
    lists. GT arrays follow the GT file's annotation order; detection arrays follow the
    results order. Coordinates are float32 image pixels (continuous convention).
    """

    image_ids: List[int]
    category_ids: List[int]
    category_names: List[str]
    gt_img: np.ndarray  # (G,) int64
    gt_cat: np.ndarray  # (G,) int64
    gt_center: np.ndarray  # (G, 2) float32, (x + w/2, y + h/2)
    gt_wh: np.ndarray  # (G, 2) float32
    gt_ignore: np.ndarray  # (G,) bool, iscrowd or ignore
    det_img: np.ndarray  # (D,) int64
    det_cat: np.ndarray  # (D,) int64
    det_point: np.ndarray  # (D, 2) float32
    det_score: np.ndarray  # (D,) float32

    @property
    def gt_size(self) -> np.ndarray:
        """(G,) float32 sqrt(w*h), the size compared with the area ranges."""
        return np.sqrt(self.gt_wh[:, 0] * self.gt_wh[:, 1])


def _load_json(path: str) -> Any:
    from iopath.common.file_io import g_pathmgr

    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"results file not found: {path}")
    with g_pathmgr.open(path, "r") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise CocoFormatError(f"{path}: not valid JSON ({e})") from None


def _load_gt(gt: Union[str, Dict[str, Any]]) -> Tuple[Dict[str, Any], str]:
    if isinstance(gt, (str, os.PathLike)):
        return load_coco_dict(os.fspath(gt)), os.fspath(gt)
    if not isinstance(gt, dict):
        raise TypeError(f"gt must be a COCO file path or dict, got {type(gt).__name__}")
    # dicts are checked by _parse_gt_fast; validate_coco_dict names the problem when it fails
    return gt, "<gt dict>"


def _unique_int_ids(entries) -> Optional[List[int]]:
    ids = [e["id"] for e in entries]
    if any(type(i) is not int or i < 1 for i in ids) or len(set(ids)) != len(ids):
        return None
    return ids


def _parse_gt_fast(gt_dict):
    """Vectorised checks and arrays of a GT dict; None when anything needs the full validator."""
    try:
        image_ids = _unique_int_ids(gt_dict["images"])
        category_ids = _unique_int_ids(gt_dict["categories"])
        anns = gt_dict["annotations"]
        if image_ids is None or category_ids is None or _unique_int_ids(anns) is None:
            return None
        img_pos = {iid: i for i, iid in enumerate(image_ids)}
        cat_pos = {cid: i for i, cid in enumerate(category_ids)}
        gt_img = np.array([img_pos.get(a["image_id"], -1) for a in anns], dtype=np.int64).reshape(-1)
        gt_cat = np.array([cat_pos.get(a["category_id"], -1) for a in anns], dtype=np.int64).reshape(-1)
        boxes = [a["bbox"] for a in anns]
        if any(type(v) not in (int, float) for b in boxes for v in b):
            return None
        gt_box = np.array(boxes, dtype=np.float64).reshape(len(anns), 4)
        gt_ignore = np.array(
            [bool(a.get("iscrowd", 0)) or bool(a.get("ignore", 0)) for a in anns], dtype=bool
        ).reshape(-1)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if (gt_img < 0).any() or (gt_cat < 0).any() or not np.isfinite(gt_box).all() or (gt_box[:, 2:] <= 0).any():
        return None
    return image_ids, category_ids, gt_img, gt_cat, gt_box, gt_ignore


def load_point_results(results: Union[str, List[Dict[str, Any]]]) -> Tuple[List[Dict[str, Any]], str]:
    """Read a point/box results file (COCO results format) or take a list; returns (list, source name)."""
    if isinstance(results, (str, os.PathLike)):
        src = os.fspath(results)
        data = _load_json(src)
    else:
        src, data = "<results list>", results
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]  # a COCO-format file of predictions
    if not isinstance(data, list):
        raise CocoFormatError(f"{src}: expected a JSON list of results, got {type(data).__name__}")
    return data, src


def _finite(v) -> bool:
    return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and math.isfinite(v)


def prepare_point_eval_inputs(
    gt: Union[str, Dict[str, Any]], results: Union[str, List[Dict[str, Any]]]
) -> PointEvalInputs:
    """Validate and convert a GT box file and a results list into :class:`PointEvalInputs`.

    Args:
        gt: path or dict of a COCO instances file with ``bbox`` for every annotation (the
            FULL box file: boxes define the distance).
        results: path or list of dicts ``{image_id, category_id, score, point: [x, y]}`` or
            ``{..., bbox: [x, y, w, h]}`` (the box centre is used). Not mutated.

    Raises:
        CocoFormatError: naming the file and the id for a GT annotation without a box, a
            result with an unknown image or category id, a non-finite score or point.
    """
    gt_dict, gt_src = _load_gt(gt)
    res_list, res_src = load_point_results(results)

    fast_gt = _parse_gt_fast(gt_dict)
    if fast_gt is None:
        validate_coco_dict(gt_dict, gt_src)  # raises, naming the file and the id
        for a in gt_dict["annotations"]:
            if "bbox" not in a:
                raise CocoFormatError(
                    f"{gt_src}: annotation id {a['id']} has no 'bbox'; point mAP needs the full box "
                    f"file as GT (boxes define the distance), not a point/click file"
                )
        raise CocoFormatError(f"{gt_src}: malformed COCO GT (ids, boxes or references)")
    image_ids, category_ids, gt_img, gt_cat, gt_box, gt_ignore = fast_gt
    img_pos = {iid: i for i, iid in enumerate(image_ids)}
    cat_pos = {cid: i for i, cid in enumerate(category_ids)}
    category_names = [str(c.get("name", c["id"])) for c in gt_dict["categories"]]
    # continuous convention: centre = x + w/2 (the reference's (w-1)/2 minus 0.5 px on both sides)
    gt_center = (gt_box[:, :2] + gt_box[:, 2:] / 2.0).astype(np.float32)
    gt_wh = gt_box[:, 2:].astype(np.float32)

    fast = _parse_results_fast(res_list, img_pos, cat_pos)
    if fast is not None:
        det_img, det_cat, det_point, det_score = fast
    else:  # item-by-item, to name the offending result
        det_img, det_cat, det_point, det_score = _parse_results_slow(
            res_list, img_pos, cat_pos, res_src, gt_src, category_ids
        )
    return PointEvalInputs(
        image_ids=image_ids,
        category_ids=category_ids,
        category_names=category_names,
        gt_img=gt_img,
        gt_cat=gt_cat,
        gt_center=gt_center,
        gt_wh=gt_wh,
        gt_ignore=gt_ignore,
        det_img=det_img,
        det_cat=det_cat,
        det_point=det_point.astype(np.float32),
        det_score=det_score.astype(np.float32),
    )


def _parse_results_fast(res_list, img_pos, cat_pos):
    """Vectorised parse of well-formed results; None when anything needs the checked path."""
    n = len(res_list)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0)
    try:
        if not all(type(r) is dict and "point" in r for r in res_list):
            return None
        det_img = np.array([img_pos.get(r.get("image_id"), -1) for r in res_list], dtype=np.int64)
        det_cat = np.array([cat_pos.get(r.get("category_id"), -1) for r in res_list], dtype=np.int64)
        scores = [r.get("score") for r in res_list]
        points = [r["point"] for r in res_list]
        if any(type(s) not in (float, int) for s in scores):
            return None
        det_score = np.array(scores, dtype=np.float64)
        det_point = np.array(points, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if det_point.shape != (n, 2) or (det_img < 0).any() or (det_cat < 0).any():
        return None
    if not (np.isfinite(det_score).all() and np.isfinite(det_point).all()):
        return None
    return det_img, det_cat, det_point, det_score


def _parse_results_slow(res_list, img_pos, cat_pos, res_src, gt_src, category_ids):
    n = len(res_list)
    det_img = np.empty(n, dtype=np.int64)
    det_cat = np.empty(n, dtype=np.int64)
    det_point = np.empty((n, 2), dtype=np.float64)
    det_score = np.empty(n, dtype=np.float64)
    for i, r in enumerate(res_list):
        if not isinstance(r, dict):
            raise CocoFormatError(f"{res_src}: result #{i} is not a JSON object")
        iid, cid = r.get("image_id"), r.get("category_id")
        if iid not in img_pos:
            raise CocoFormatError(f"{res_src}: result #{i} has image id {iid!r}, which is not in the GT file {gt_src}")
        if cid not in cat_pos:
            raise CocoFormatError(
                f"{res_src}: result #{i} (image id {iid}) has category id {cid!r}, which is not in the GT "
                f"file {gt_src} (known: {category_ids})"
            )
        s = r.get("score")
        if not _finite(s):
            raise CocoFormatError(f"{res_src}: result #{i} (image id {iid}) has a missing or non-finite score {s!r}")
        if "point" in r:
            p = r["point"]
            if not (isinstance(p, (list, tuple)) and len(p) == 2 and all(_finite(v) for v in p)):
                raise CocoFormatError(f"{res_src}: result #{i} (image id {iid}) has a malformed point {p!r}")
            det_point[i] = p
        elif "bbox" in r:
            b = r["bbox"]
            if not (isinstance(b, (list, tuple)) and len(b) == 4 and all(_finite(v) for v in b)):
                raise CocoFormatError(f"{res_src}: result #{i} (image id {iid}) has a malformed bbox {b!r}")
            det_point[i] = (b[0] + b[2] / 2.0, b[1] + b[3] / 2.0)
        else:
            raise CocoFormatError(f"{res_src}: result #{i} (image id {iid}) has neither 'point' nor 'bbox'")
        det_img[i] = img_pos[iid]
        det_cat[i] = cat_pos[cid]
        det_score[i] = s
    return det_img, det_cat, det_point, det_score


def resolve_area_ranges(area_ranges) -> Tuple[Tuple[str, float, float], ...]:
    """Accept a preset name ('coco' | 'tiny'), or a sequence of (label, min_area, max_area)."""
    if isinstance(area_ranges, str):
        if area_ranges not in AREA_RANGE_PRESETS:
            raise ValueError(f"unknown area-range preset {area_ranges!r}; known: {sorted(AREA_RANGE_PRESETS)}")
        return AREA_RANGE_PRESETS[area_ranges]
    out = []
    for r in area_ranges:
        if len(r) != 3:
            raise ValueError(f"an area range must be (label, min_area, max_area), got {r!r}")
        label, lo, hi = r
        if not (0 <= float(lo) < float(hi)):
            raise ValueError(f"area range {r!r} must satisfy 0 <= min_area < max_area")
        out.append((str(label), float(lo), float(hi)))
    if not out:
        raise ValueError("at least one area range is required")
    return tuple(out)


def _check_params(taus, max_dets):
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


# ----------------------------------------------------------------------------------------
# result
# ----------------------------------------------------------------------------------------
def _fmt_tau(t: float) -> str:
    return str(float(t))


@dataclass
class PointAPResult:
    """Per-category point AP/AR for every (area range, tau, max_dets) setting.

    ``ap`` and ``ar`` have shape (K, A, T, M): categories (GT file order), area ranges, taus,
    max-dets values; values are fractions in [0, 1]. ``curves[(k, a, t, m)]`` is the kept
    (recall, precision) pair of arrays of that setting (for PR plots).
    """

    category_ids: List[int]
    category_names: List[str]
    area_ranges: Tuple[Tuple[str, float, float], ...]
    taus: Tuple[float, ...]
    max_dets: Tuple[int, ...]
    ap: np.ndarray
    ar: np.ndarray
    npos: np.ndarray  # (K, A) number of regular GTs
    curves: Dict[Tuple[int, int, int, int], Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def area_labels(self) -> List[str]:
        return [r[0] for r in self.area_ranges]

    @property
    def mean_ap(self) -> np.ndarray:
        """(A, T, M) mean AP over ALL categories (no NaN skipping)."""
        return self.ap.mean(axis=0)

    @property
    def mean_ar(self) -> np.ndarray:
        return self.ar.mean(axis=0)

    def headline_tau_index(self) -> int:
        return self.taus.index(1.0) if 1.0 in self.taus else 0

    def metrics(self) -> "OrderedDict[str, float]":
        """Flat metrics in percent, Detectron2 style.

        ``AP@{tau}`` / ``AR@{tau}`` for the first area range and the largest max_dets;
        ``AP@{tau}-{area}`` for the other ranges; ``/md{m}`` suffix for other max_dets;
        ``AP-{class}`` per category at the headline tau (1.0 if evaluated).
        """
        out = OrderedDict()
        mAP, mAR = self.mean_ap, self.mean_ar
        m_last = len(self.max_dets) - 1
        for mi, m in enumerate(self.max_dets):
            suffix = "" if mi == m_last else f"/md{m}"
            for ai, label in enumerate(self.area_labels):
                area = "" if ai == 0 else f"-{label}"
                for ti, tau in enumerate(self.taus):
                    out[f"AP@{_fmt_tau(tau)}{area}{suffix}"] = float(mAP[ai, ti, mi] * 100)
                for ti, tau in enumerate(self.taus):
                    out[f"AR@{_fmt_tau(tau)}{area}{suffix}"] = float(mAR[ai, ti, mi] * 100)
        th = self.headline_tau_index()
        for k, name in enumerate(self.category_names):
            out[f"AP-{name}"] = float(self.ap[k, 0, th, m_last] * 100)
        return out

    def summary_lines(self) -> List[str]:
        """Lines in the reference's layout: ``Location eval: (AP/AR) @[ dis=.. | area=.. | maxDets=..] = ap/ar``."""
        lines = []
        mAP, mAR = self.mean_ap, self.mean_ar
        for ai, label in enumerate(self.area_labels):
            for ti, tau in enumerate(self.taus):
                for mi, m in enumerate(self.max_dets):
                    lines.append(
                        f"Location eval: (AP/AR) @[ dis={tau} | area={label} | maxDets={m} ] = "
                        f"{mAP[ai, ti, mi]:.4f}/{mAR[ai, ti, mi]:.4f}"
                    )
        return lines

    def per_category_table(self, tau_index: Optional[int] = None) -> str:
        """Per-category AP (percent) table at one tau (headline by default), area 'all', largest maxDets."""
        from tabulate import tabulate

        ti = self.headline_tau_index() if tau_index is None else tau_index
        rows = [(n, float(self.ap[k, 0, ti, -1] * 100)) for k, n in enumerate(self.category_names)]
        ncol = min(6, len(rows) * 2) or 2
        flat = list(itertools.chain(*rows))
        grouped = itertools.zip_longest(*[flat[i::ncol] for i in range(ncol)])
        return tabulate(
            grouped,
            tablefmt="pipe",
            floatfmt=".3f",
            headers=["category", f"AP@{_fmt_tau(self.taus[ti])}"] * (ncol // 2),
            numalign="left",
        )

    def to_json_dict(self) -> Dict[str, Any]:
        return {
            "metrics": self.metrics(),
            "taus": list(self.taus),
            "max_dets": list(self.max_dets),
            "area_ranges": [list(r) for r in self.area_ranges],
            "category_ids": list(self.category_ids),
            "category_names": list(self.category_names),
            "ap": self.ap.tolist(),
            "ar": self.ar.tolist(),
            "npos": self.npos.tolist(),
        }


# ----------------------------------------------------------------------------------------
# per-category PR / AP (step 3-7 of cpr.md 4.4), vectorised over the pooled detections
# ----------------------------------------------------------------------------------------
def _pr_ap(tp_sorted: np.ndarray, npos: int):
    """Kept (recall, precision) and (AP, AR) from TP flags already sorted by descending score."""
    n = len(tp_sorted)
    if n == 0:
        recall = np.ones(1, np.float32) if npos == 0 else np.zeros(1, np.float32)
        precision = recall.astype(np.float64)
    else:
        cum = np.cumsum(tp_sorted.astype(np.float32))
        recall_all = cum / np.float32(npos + 1e-12)  # float32 as under NumPy 1.x
        precision_all = cum.astype(np.float64) / np.arange(1, n + 1)
        keep = tp_sorted.copy()
        keep[0] = True  # first entry, then every TP (each adds a new recall value)
        if npos == 0:
            keep[:] = False
            keep[0] = True
        recall, precision = recall_all[keep], precision_all[keep]
    idx = np.searchsorted(recall.astype(np.float64), RECALL_THRESHOLDS, side="left")
    chosen = np.zeros(len(RECALL_THRESHOLDS), np.float64)
    ok = idx < len(recall)
    chosen[ok] = precision[idx[ok]]
    ap = np.sum(chosen) / len(RECALL_THRESHOLDS)
    return recall, precision, float(ap), float(np.max(recall))


# ----------------------------------------------------------------------------------------
# vectorised evaluation
# ----------------------------------------------------------------------------------------
def _sort_dets_per_block(key: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Order detections by block key, then by descending score exactly as the reference.

    The reference calls ``np.argsort(-scores)`` (non-stable quicksort) on each (image,
    category)'s detections in results order. Without ties any sort gives that order; blocks
    with tied scores are re-sorted with the same call on the same array.
    """
    order = np.lexsort((-score, key))
    ks, ss = key[order], score[order]
    same = ks[1:] == ks[:-1]
    tie = same & (ss[1:] == ss[:-1])
    if tie.any():
        starts = np.flatnonzero(np.r_[True, ~same])
        ends = np.r_[starts[1:], len(order)]
        block_of = np.cumsum(np.r_[True, ~same]) - 1
        for b in np.unique(block_of[1:][tie]):
            s, e = starts[b], ends[b]
            orig = np.sort(order[s:e])
            order[s:e] = orig[np.argsort(-score[orig])]
    return order


def _score_groups(score_sorted: np.ndarray, block_start: np.ndarray) -> np.ndarray:
    """Group id (global, increasing) of each sorted detection: a new group starts where the
    score differs from the current group's first score by >= eps (reference semantics)."""
    n = len(score_sorted)
    new = np.ones(n, dtype=bool)
    if n > 1:
        diff = np.abs(score_sorted[1:] - score_sorted[:-1])
        new[1:] = diff >= SCORE_GROUP_EPS
        new[block_start] = True
        # chains of small non-zero gaps need the sequential rule (rare)
        fuzzy = np.flatnonzero((diff > 0) & (diff < SCORE_GROUP_EPS) & ~block_start[1:]) + 1
        if len(fuzzy):
            bstarts = np.flatnonzero(block_start)
            for b in np.unique(np.searchsorted(bstarts, fuzzy, side="right") - 1):
                s = bstarts[b]
                e = bstarts[b + 1] if b + 1 < len(bstarts) else n
                first = score_sorted[s]
                for i in range(s + 1, e):
                    if abs(score_sorted[i] - first) < SCORE_GROUP_EPS:
                        new[i] = False
                    else:
                        new[i] = True
                        first = score_sorted[i]
    return np.cumsum(new) - 1


def _greedy_match(V, vb_block, vb_vth, vb_avail, cand, gid, window=8):
    """One-to-one greedy matching of many independent (block, setting) problems at once.

    Args:
        V: (B, Dm, Gm) float64 match values 1/(1+d^2) of each block's sorted dets x GTs.
        vb_block: (N,) block index of each virtual problem.
        vb_vth: (N,) match threshold on V.
        vb_avail: (N, Gm) bool, regular GTs available to match.
        cand: (N, Dm) bool, detections that have an available GT within tau (others can
            never match, so dropping them does not change the greedy result).
        gid: (B, Dm) int score-group id of each detection.
        window: detections examined per problem and iteration in runs of distinct scores.
    Returns:
        (N, Dm) bool, detection is a TP.
    """
    N, Dm = cand.shape
    Gm = V.shape[2]
    tp = np.zeros((N, Dm), dtype=bool)
    cnt = cand.sum(1)
    Cmax = int(cnt.max()) if N else 0
    if Cmax == 0:
        return tp
    # compact candidate detection indices per problem, in score order
    rows, cols = np.nonzero(cand)
    pos = (np.cumsum(cand, axis=1) - 1)[rows, cols]
    cl = np.zeros((N, Cmax), dtype=np.int64)
    cl[rows, pos] = cols
    padded = np.arange(Cmax)[None, :] >= cnt[:, None]
    cg = gid[vb_block[:, None], cl]
    cg[padded] = -1
    # end (exclusive) of the score group of each compact position
    is_last = np.ones((N, Cmax), dtype=bool)
    is_last[:, :-1] = cg[:, 1:] != cg[:, :-1]
    last_idx = np.where(is_last, np.arange(Cmax)[None, :], Cmax)
    gend = np.minimum.accumulate(last_idx[:, ::-1], axis=1)[:, ::-1] + 1
    starts = np.ones((N, Cmax), dtype=bool)
    starts[:, 1:] = cg[:, 1:] != cg[:, :-1]
    Lmax = int(((gend - np.arange(Cmax)[None, :]) * (starts & ~padded)).max())

    p = np.zeros(N, dtype=np.int64)
    avail = vb_avail.copy()
    used = np.zeros((N, Cmax), dtype=bool)
    done = (cnt == 0) | ~avail.any(1)
    single = (gend == np.arange(Cmax)[None, :] + 1) & ~padded  # position is a one-detection score group
    ar_l = np.arange(Lmax)
    W = min(window, Cmax)
    ar_w = np.arange(W)
    earlier = np.tril(np.ones((W, W), dtype=bool), k=-1)  # [i, k]: k < i
    while True:
        a = np.flatnonzero(~done)
        if len(a) == 0:
            break
        is_single = single[a, p[a]]
        # Runs of one-detection groups: each detection's best available GT, computed for a window at
        # once, is what the sequential greedy would give up to the first repeated GT (earlier
        # detections only remove other GTs, and removing GTs keeps the first maximum first).
        s_a = a[is_single]
        if len(s_a):
            ps = p[s_a]
            rws = ps[:, None] + ar_w[None, :]
            inb = rws < Cmax
            rws = np.minimum(rws, Cmax - 1)
            rvalid = np.logical_and.accumulate(inb & single[s_a[:, None], rws], axis=1)
            dloc = cl[s_a[:, None], rws]
            Vw = np.where(avail[s_a][:, None, :], V[vb_block[s_a][:, None], dloc], -np.inf)  # (ns, W, Gm)
            j = np.argmax(Vw, axis=2)
            best = np.take_along_axis(Vw, j[:, :, None], axis=2)[:, :, 0]
            ok = (best >= vb_vth[s_a][:, None]) & rvalid
            clash = ((j[:, :, None] == j[:, None, :]) & ok[:, :, None] & ok[:, None, :] & earlier[None]).any(2)
            stop = ~rvalid | clash
            n_take = np.where(stop.any(1), np.argmax(stop, axis=1), W)  # >= 1: the first row never clashes
            take = ok & (ar_w[None, :] < n_take[:, None])
            r, c = np.nonzero(take)
            pr = s_a[r]
            used[pr, ps[r] + c] = True
            avail[pr, j[r, c]] = False
            tp[pr, dloc[r, c]] = True
            p[s_a] = ps + n_take
        m_a = a[~is_single]
        if len(m_a):
            # a score group with several detections: take the best (det, GT) pair of the group
            pa = p[m_a]
            ea = gend[m_a, pa]
            rws = pa[:, None] + ar_l[None, :]
            rvalid = rws < ea[:, None]
            rws = np.minimum(rws, Cmax - 1)
            rvalid &= ~used[m_a[:, None], rws]
            dloc = cl[m_a[:, None], rws]  # (na, L)
            Vg = V[vb_block[m_a][:, None], dloc]  # (na, L, Gm)
            Vg = np.where(rvalid[:, :, None] & avail[m_a][:, None, :], Vg, -np.inf)
            flat = Vg.reshape(len(m_a), -1)
            j = np.argmax(flat, axis=1)  # first maximum in (det, gt) row-major order, as the reference
            best = flat[np.arange(len(m_a)), j]
            ok = best >= vb_vth[m_a]
            li, gj = np.divmod(j, Gm)
            ao, lio, gjo = m_a[ok], li[ok], gj[ok]
            used[ao, pa[ok] + lio] = True
            avail[ao, gjo] = False
            tp[ao, cl[ao, pa[ok] + lio]] = True
            rvalid[np.flatnonzero(ok), lio] = False
            advance = ~ok | ~rvalid.any(1)
            p[m_a[advance]] = ea[advance]
        done[a] = (p[a] >= cnt[a]) | ~avail[a].any(1)
    return tp


def evaluate_point_ap(
    gt: Union[str, Dict[str, Any]],
    results: Union[str, List[Dict[str, Any]]],
    taus: Sequence[float] = DEFAULT_TAUS,
    max_dets: Sequence[int] = DEFAULT_MAX_DETS,
    area_ranges: Union[str, Sequence[Tuple[str, float, float]]] = "coco",
    *,
    chunk_elements: int = 2_000_000,
) -> PointAPResult:
    """Point localization AP (vectorised). See the module docstring for the rules.

    Args:
        gt: COCO box file path or dict (the full box GT), or a :class:`PointEvalInputs`
            from :func:`prepare_point_eval_inputs` (then ``results`` is ignored).
        results: results file path or list of ``{image_id, category_id, score, point|bbox}``.
        taus: distance thresholds tau (normalised units, CPR Eq. 12); default (0.5, 1, 2).
        max_dets: detections kept per (image, category); default (100,).
        area_ranges: 'coco', 'tiny' or a sequence of (label, min_area, max_area) in px^2.
        chunk_elements: memory bound on (blocks x dets x GTs) processed at once.
    Returns:
        :class:`PointAPResult`.
    """
    taus, max_dets = _check_params(taus, max_dets)
    area_ranges = resolve_area_ranges(area_ranges)
    inp = gt if isinstance(gt, PointEvalInputs) else prepare_point_eval_inputs(gt, results)
    return _evaluate_vectorized(inp, taus, max_dets, area_ranges, chunk_elements)


def _evaluate_vectorized(inp: PointEvalInputs, taus, max_dets, area_ranges, chunk_elements) -> PointAPResult:
    K, NI = len(inp.category_ids), len(inp.image_ids)
    A, T, M = len(area_ranges), len(taus), len(max_dets)
    mmax = max(max_dets)
    bounds = size_bounds(area_ranges)
    vths = np.array([match_value_threshold(t) for t in taus])

    # --- GT: regular / ignored per area range; sorted by block (stable: file order inside)
    size = inp.gt_size
    in_range = (size[None, :] >= bounds[:, 0:1]) & (size[None, :] < bounds[:, 1:2])  # (A, G)
    regular = in_range & ~inp.gt_ignore[None, :]
    npos = np.zeros((K, A), dtype=np.int64)
    for ai in range(A):
        npos[:, ai] = np.bincount(inp.gt_cat[regular[ai]], minlength=K)
    gkey = inp.gt_cat * NI + inp.gt_img
    gorder = np.argsort(gkey, kind="stable")
    gkey_s = gkey[gorder]

    # --- detections: per block sorted, truncated to max(max_dets); global order (cat, image, rank)
    dkey0 = inp.det_cat * NI + inp.det_img
    order = _sort_dets_per_block(dkey0, inp.det_score)
    dkey = dkey0[order]
    bstart = np.r_[True, dkey[1:] != dkey[:-1]] if len(dkey) else np.zeros(0, bool)
    first = np.flatnonzero(bstart)
    rank = np.arange(len(dkey)) - np.repeat(first, np.diff(np.r_[first, len(dkey)]))
    keep = rank < mmax
    order, dkey, rank = order[keep], dkey[keep], rank[keep]
    score = inp.det_score[order]
    point = inp.det_point[order]
    dcat = inp.det_cat[order]
    nd = len(order)
    bstart = np.r_[True, dkey[1:] != dkey[:-1]] if nd else np.zeros(0, bool)
    gid = _score_groups(score, bstart)

    settings = [(ai, ti, mi) for ai in range(A) for ti in range(T) for mi in range(M)]
    S = len(settings)
    TP = np.zeros((S, nd), dtype=bool)
    IGN = np.zeros((S, nd), dtype=bool)

    # --- blocks having both detections and GTs
    bfirst = np.flatnonzero(bstart)
    bend = np.r_[bfirst[1:], nd]
    bkeys = dkey[bfirst]
    g_lo = np.searchsorted(gkey_s, bkeys, side="left")
    g_hi = np.searchsorted(gkey_s, bkeys, side="right")
    nb_d, nb_g = bend - bfirst, g_hi - g_lo
    mb = np.flatnonzero(nb_g > 0)
    mb = mb[np.argsort(nb_d[mb] * nb_g[mb], kind="stable")]
    i = 0
    while i < len(mb):
        # grow a chunk while the padded size stays within budget
        j = i + 1
        dm, gm = nb_d[mb[i]], nb_g[mb[i]]
        while j < len(mb):
            dm2, gm2 = max(dm, nb_d[mb[j]]), max(gm, nb_g[mb[j]])
            if (j - i + 1) * dm2 * gm2 * max(S, 1) > chunk_elements:
                break
            dm, gm = dm2, gm2
            j += 1
        _match_chunk(
            mb[i:j], bfirst, nb_d, g_lo, nb_g, gorder, inp, point, rank, gid, regular, vths, settings,
            max_dets, TP, IGN, int(dm), int(gm),
        )
        i = j

    # --- pooled PR / AP per category and setting
    ap = np.zeros((K, A, T, M))
    ar = np.zeros((K, A, T, M))
    curves = {}
    cstart = np.searchsorted(dcat, np.arange(K), side="left")
    cend = np.searchsorted(dcat, np.arange(K), side="right")
    for si, (ai, ti, mi) in enumerate(settings):
        valid = (rank < max_dets[mi]) & ~IGN[si]
        for k in range(K):
            sl = slice(cstart[k], cend[k])
            v = valid[sl]
            s = score[sl][v]
            tp = TP[si, sl][v]
            if len(s):
                tp = tp[np.argsort(-s)]
            rec, prec, ap_k, ar_k = _pr_ap(tp, int(npos[k, ai]))
            ap[k, ai, ti, mi], ar[k, ai, ti, mi] = ap_k, ar_k
            curves[(k, ai, ti, mi)] = (rec, prec)
    return PointAPResult(
        category_ids=list(inp.category_ids),
        category_names=list(inp.category_names),
        area_ranges=tuple(area_ranges),
        taus=tuple(taus),
        max_dets=tuple(max_dets),
        ap=ap,
        ar=ar,
        npos=npos,
        curves=curves,
    )


def _match_chunk(blocks, bfirst, nb_d, g_lo, nb_g, gorder, inp, point, rank, gid, regular, vths, settings,
                 max_dets, TP, IGN, Dm, Gm):
    B = len(blocks)
    ar_d, ar_g = np.arange(Dm), np.arange(Gm)
    dvalid = ar_d[None, :] < nb_d[blocks][:, None]
    gvalid = ar_g[None, :] < nb_g[blocks][:, None]
    didx = np.where(dvalid, bfirst[blocks][:, None] + ar_d[None, :], 0)  # into sorted dets
    gidx = gorder[np.where(gvalid, g_lo[blocks][:, None] + ar_g[None, :], 0)]  # into GT arrays
    # CPR Eq. 12 in float32 as the reference, V = 1 / (1 + d^2) in float64
    # (padded rows/columns hold copies of real entries; every later step masks them out)
    pt, gc, gw = point[didx], inp.gt_center[gidx], inp.gt_wh[gidx]
    dx = (pt[:, :, None, 0] - gc[:, None, :, 0]) / gw[:, None, :, 0]
    dy = (pt[:, :, None, 1] - gc[:, None, :, 1]) / gw[:, None, :, 1]
    d2 = dx * dx + dy * dy
    V = np.add(d2, 1.0, dtype=np.float64)
    np.divide(1.0, V, out=V)
    bgid = gid[didx]
    brank = rank[didx]

    S = len(settings)
    vb_block = np.tile(np.arange(B), S)
    vb_vth = np.repeat(vths[[t for _, t, _ in settings]], B)
    vb_avail = np.zeros((S * B, Gm), dtype=bool)
    cand = np.zeros((S * B, Dm), dtype=bool)
    ign_hit = np.zeros((S * B, Dm), dtype=bool)
    best = {}  # per area range: best V of each detection over its regular / ignored GTs
    for si, (ai, ti, mi) in enumerate(settings):
        reg = regular[ai][gidx] & gvalid
        if ai not in best:
            ign = ~regular[ai][gidx] & gvalid
            best[ai] = (np.where(reg[:, None, :], V, -np.inf).max(2, initial=-np.inf),
                        np.where(ign[:, None, :], V, -np.inf).max(2, initial=-np.inf))
        best_reg, best_ign = best[ai]
        in_m = dvalid & (brank < max_dets[mi])
        sl = slice(si * B, (si + 1) * B)
        vb_avail[sl] = reg
        cand[sl] = (best_reg >= vths[ti]) & in_m
        ign_hit[sl] = (best_ign >= vths[ti]) & in_m
    tp = _greedy_match(V, vb_block, vb_vth, vb_avail, cand, bgid)
    for si in range(S):
        sl = slice(si * B, (si + 1) * B)
        t, ig = tp[sl], ign_hit[sl] & ~tp[sl]
        TP[si, didx[t]] = True
        IGN[si, didx[ig]] = True


# ----------------------------------------------------------------------------------------
# Detectron2 evaluator
# ----------------------------------------------------------------------------------------
def add_point_eval_config(cfg):
    """Add ``cfg.TEST.POINT_EVAL`` keys (the reference's defaults for COCO) in place."""
    from detectron2.config import CfgNode as CN

    cfg.TEST.POINT_EVAL = CN()
    cfg.TEST.POINT_EVAL.TAUS = [0.5, 1.0, 2.0]
    cfg.TEST.POINT_EVAL.MAX_DETS = [100]
    # 'coco' or 'tiny' (SeaPerson/TinyPerson ranges)
    cfg.TEST.POINT_EVAL.AREA_PRESET = "coco"
    return cfg


try:
    from detectron2.config import configurable
    from detectron2.evaluation import DatasetEvaluator
except ImportError:  # pragma: no cover - detectron2 is a hard dependency of the package
    raise


class PointAPEvaluator(DatasetEvaluator):
    """Point localization mAP on a registered dataset (see the module docstring).

    Accepts model outputs whose ``instances`` have ``pred_points`` (N, 2) in original-image
    pixels, or ``pred_boxes`` (the box centre is used), plus ``scores`` and ``pred_classes``
    (contiguous ids). GT is the dataset's COCO json (``MetadataCatalog.get(name).json_file``),
    which must be the full box file; without it, the dataset dicts are converted with
    Detectron2's ``convert_to_coco_dict``. Multi-process safe: predictions are gathered to
    the main process, which alone evaluates and writes files.

    Writes ``point_results.json`` (``{image_id, category_id, point: [x, y], score}``) and
    ``point_ap_metrics.json`` to ``output_dir``; returns ``{"points": metrics}`` in percent.
    """

    @configurable
    def __init__(
        self,
        dataset_name: str,
        output_dir: Optional[str] = None,
        *,
        taus: Sequence[float] = DEFAULT_TAUS,
        max_dets: Sequence[int] = DEFAULT_MAX_DETS,
        area_ranges: Union[str, Sequence[Tuple[str, float, float]]] = "coco",
        distributed: bool = True,
        gt: Optional[Dict[str, Any]] = None,
    ):
        """
        Args:
            dataset_name: a registered dataset.
            output_dir: where results and metrics are written (optional).
            taus, max_dets, area_ranges: see :func:`evaluate_point_ap`.
            distributed: gather predictions from all processes.
            gt: optional COCO GT dict to use instead of the dataset's json / dicts.
        """
        from detectron2.data import MetadataCatalog

        self._dataset_name = dataset_name
        self._output_dir = output_dir
        self._taus, self._max_dets = _check_params(taus, max_dets)
        self._area_ranges = resolve_area_ranges(area_ranges)
        self._distributed = distributed
        self._metadata = MetadataCatalog.get(dataset_name)
        self._gt = gt
        self._logger = logging.getLogger(__name__)
        self._predictions: List[Dict[str, Any]] = []

    @classmethod
    def from_config(cls, cfg, dataset_name, output_dir=None):
        pe = cfg.TEST.POINT_EVAL
        return {
            "dataset_name": dataset_name,
            "output_dir": output_dir,
            "taus": tuple(pe.TAUS),
            "max_dets": tuple(pe.MAX_DETS),
            "area_ranges": pe.AREA_PRESET,
        }

    def reset(self):
        self._predictions = []

    def _contiguous_to_dataset_id(self, c: int) -> int:
        m = getattr(self._metadata, "thing_dataset_id_to_contiguous_id", None)
        if m is None:
            return int(c)
        if not hasattr(self, "_reverse_id_map"):
            self._reverse_id_map = {v: k for k, v in m.items()}
        return int(self._reverse_id_map[int(c)])

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            if "instances" not in out:
                continue
            inst = out["instances"].to("cpu")
            if inst.has("pred_points"):
                pts = inst.pred_points.detach().float().numpy().reshape(-1, 2)
            elif inst.has("pred_boxes"):
                pts = inst.pred_boxes.get_centers().detach().float().numpy().reshape(-1, 2)
            else:
                raise KeyError(
                    f"{type(self).__name__}: image id {inp.get('image_id')} output instances have neither "
                    f"'pred_points' nor 'pred_boxes' (fields: {list(inst.get_fields())})"
                )
            scores = inst.scores.detach().float().numpy().tolist()
            classes = inst.pred_classes.numpy().tolist()
            for (x, y), s, c in zip(pts.tolist(), scores, classes):
                self._predictions.append(
                    {
                        "image_id": inp["image_id"],
                        "category_id": self._contiguous_to_dataset_id(c),
                        "point": [float(x), float(y)],
                        "score": float(s),
                    }
                )

    def _load_gt(self) -> Dict[str, Any]:
        if self._gt is not None:
            return self._gt
        json_file = getattr(self._metadata, "json_file", None)
        if json_file:
            return load_coco_dict(json_file)
        from detectron2.data.datasets.coco import convert_to_coco_dict

        self._logger.info(f"{self._dataset_name} has no json_file; converting its dataset dicts to COCO format")
        gt = convert_to_coco_dict(self._dataset_name)
        for c in gt["categories"]:  # convert_to_coco_dict may use 0-based contiguous ids
            c["id"] = int(c["id"])
        return gt

    def evaluate(self):
        from detectron2.utils import comm

        if self._distributed:
            comm.synchronize()
            preds = comm.gather(self._predictions, dst=0)
            preds = list(itertools.chain(*preds))
            if not comm.is_main_process():
                return {}
        else:
            preds = self._predictions
        if len(preds) == 0:
            self._logger.warning("[PointAPEvaluator] did not receive valid predictions.")
        gt = self._load_gt()
        if self._output_dir:
            atomic_write_json(preds, os.path.join(self._output_dir, "point_results.json"))
        if any(c["id"] < 1 for c in gt["categories"]):
            gt_v = gt
            inp = _prepare_unvalidated(gt_v, preds)
        else:
            inp = prepare_point_eval_inputs(gt, copy.copy(preds))
        res = _evaluate_vectorized(inp, self._taus, self._max_dets, self._area_ranges, 2_000_000)
        metrics = res.metrics()
        from detectron2.utils.logger import create_small_table

        self._logger.info(
            f"Point localization results for {self._dataset_name}:\n"
            + "\n".join(res.summary_lines())
            + "\n"
            + create_small_table({k: v for k, v in metrics.items() if not k.startswith("AP-")})
        )
        self._logger.info("Per-category point AP: \n" + res.per_category_table())
        if self._output_dir:
            atomic_write_json(res.to_json_dict(), os.path.join(self._output_dir, "point_ap_metrics.json"), indent=2)
        self._last_result = res
        return OrderedDict({"points": metrics})


def _prepare_unvalidated(gt, preds):
    """For GT dicts from ``convert_to_coco_dict`` whose ids may be 0-based: shift ids by +1 and validate."""
    gt = copy.deepcopy(gt)
    shift = {c["id"]: c["id"] + 1 for c in gt["categories"]}
    for c in gt["categories"]:
        c["id"] = shift[c["id"]]
    for a in gt["annotations"]:
        a["category_id"] = shift.get(a["category_id"], a["category_id"])
    preds = [dict(p, category_id=shift.get(p["category_id"], p["category_id"])) for p in preds]
    return prepare_point_eval_inputs(gt, preds)
