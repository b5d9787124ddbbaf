"""Inputs of point mAP: a full COCO box file (GT) and point/box results, as flat arrays.

:func:`prepare_point_eval_inputs` validates both (clear errors naming the file and the id)
and returns :class:`PointEvalInputs`, shared by the vectorised implementation
(:mod:`pointdet.evaluation.point_ap_core`) and the per-image loop
(:mod:`pointdet.evaluation.point_ap_reference`).

Coordinates: Detectron2's continuous convention. The GT centre is (x + w/2, y + h/2), and a
prediction given as a box uses its centre (x + w/2, y + h/2).
"""
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from pointdet.data.coco_io import CocoFormatError, load_coco_dict, validate_coco_dict

from .results_io import check_results, load_results

__all__ = ["IGNORE_RULES", "PointEvalInputs", "prepare_point_eval_inputs", "load_point_results"]

#: Which GTs are ignore regions. "iscrowd_or_ignore": ``iscrowd`` or ``ignore`` set (the
#: intent of the CPR paper's evaluator); "reference": only ``iscrowd``, as the reference
#: LocationEvaluator behaves (it overwrites ``ignore`` with ``iscrowd`` before reading it).
#: The two agree on every file without an ``ignore`` key, such as COCO.
IGNORE_RULES = ("iscrowd_or_ignore", "reference")


@dataclass
class PointEvalInputs:
    """GT boxes and detections as flat arrays.

    Image and category indices are positions in the GT file's ``images`` / ``categories``
    lists. GT arrays follow the GT file's annotation order (G entries); detection arrays
    follow the results order (D entries). Coordinates are float32 image pixels.
    """

    image_ids: List[int]
    category_ids: List[int]
    category_names: List[str]
    gt_img: np.ndarray  # (G,) int64
    gt_cat: np.ndarray  # (G,) int64
    gt_center: np.ndarray  # (G, 2) float32, (x + w/2, y + h/2)
    gt_wh: np.ndarray  # (G, 2) float32
    gt_iscrowd: np.ndarray  # (G,) bool, the GT's ``iscrowd``
    gt_ignore_key: np.ndarray  # (G,) bool, the GT's ``ignore`` key
    det_img: np.ndarray  # (D,) int64
    det_cat: np.ndarray  # (D,) int64
    det_point: np.ndarray  # (D, 2) float32
    det_score: np.ndarray  # (D,) float32

    @property
    def gt_size(self) -> np.ndarray:
        """(G,) float32 sqrt(w*h), the size compared with the area ranges."""
        return np.sqrt(self.gt_wh[:, 0] * self.gt_wh[:, 1])

    def gt_ignored(self, ignore_rule: str = "iscrowd_or_ignore") -> np.ndarray:
        """(G,) bool, the GT is an ignore region under ``ignore_rule`` (see :data:`IGNORE_RULES`)."""
        check_ignore_rule(ignore_rule)
        if ignore_rule == "reference":
            return self.gt_iscrowd.copy()
        return self.gt_iscrowd | self.gt_ignore_key


def check_ignore_rule(ignore_rule: str) -> str:
    if ignore_rule not in IGNORE_RULES:
        raise ValueError(f"ignore_rule must be one of {IGNORE_RULES}, got {ignore_rule!r}")
    return ignore_rule


def load_point_results(results: Union[str, List[Dict[str, Any]]]) -> Tuple[List[Dict[str, Any]], str]:
    """Read a point/box results file (a list, or a COCO file of predictions); returns (list, source)."""
    return load_results(results, accept_coco_file=True, what="results")


def _load_gt(gt: Union[str, Dict[str, Any]]) -> Tuple[Dict[str, Any], str]:
    if isinstance(gt, (str, os.PathLike)):
        return load_coco_dict(os.fspath(gt)), os.fspath(gt)
    if not isinstance(gt, dict):
        raise TypeError(f"gt must be a COCO file path or dict, got {type(gt).__name__}")
    # dicts are checked by _parse_gt_fast; validate_coco_dict names the problem when it fails
    return gt, "<gt dict>"


def _unique_positive_int_ids(entries) -> Optional[List[int]]:
    ids = [e["id"] for e in entries]
    if any(type(i) is not int or i < 1 for i in ids) or len(set(ids)) != len(ids):
        return None
    return ids


def _parse_gt_fast(gt_dict):
    """Vectorised checks and arrays of a GT dict; None when anything needs the full validator."""
    try:
        image_ids = _unique_positive_int_ids(gt_dict["images"])
        category_ids = _unique_positive_int_ids(gt_dict["categories"])
        anns = gt_dict["annotations"]
        if image_ids is None or category_ids is None or _unique_positive_int_ids(anns) is None:
            return None
        img_pos = {iid: i for i, iid in enumerate(image_ids)}
        cat_pos = {cid: i for i, cid in enumerate(category_ids)}
        gt_img = np.array([img_pos.get(a["image_id"], -1) for a in anns], dtype=np.int64).reshape(-1)
        gt_cat = np.array([cat_pos.get(a["category_id"], -1) for a in anns], dtype=np.int64).reshape(-1)
        boxes = [a["bbox"] for a in anns]
        if any(type(v) not in (int, float) for b in boxes for v in b):
            return None
        gt_box = np.array(boxes, dtype=np.float64).reshape(len(anns), 4)
        iscrowd = np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool).reshape(-1)
        ignore_key = np.array([bool(a.get("ignore", 0)) for a in anns], dtype=bool).reshape(-1)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if (gt_img < 0).any() or (gt_cat < 0).any() or not np.isfinite(gt_box).all() or (gt_box[:, 2:] <= 0).any():
        return None
    return image_ids, category_ids, gt_img, gt_cat, gt_box, iscrowd, ignore_key


def _parse_results_fast(res_list, img_pos, cat_pos):
    """Vectorised parse of well-formed point results; None when anything needs the checked path."""
    n = len(res_list)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0)
    try:
        if not all(type(r) is dict and "point" in r for r in res_list):
            return None
        det_img = np.array([img_pos.get(r.get("image_id"), -1) for r in res_list], dtype=np.int64)
        det_cat = np.array([cat_pos.get(r.get("category_id"), -1) for r in res_list], dtype=np.int64)
        scores = [r.get("score") for r in res_list]
        if any(type(s) not in (float, int) for s in scores):
            return None
        det_score = np.array(scores, dtype=np.float64)
        det_point = np.array([r["point"] for r in res_list], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if det_point.shape != (n, 2) or (det_img < 0).any() or (det_cat < 0).any():
        return None
    if not (np.isfinite(det_score).all() and np.isfinite(det_point).all()):
        return None
    return det_img, det_cat, det_point, det_score


def _parse_results_checked(res_list, img_pos, cat_pos, res_src, gt_src):
    """Entry-by-entry parse after :func:`check_results` (names the first bad entry)."""
    check_results(res_list, img_pos, cat_pos, "point", res_src, f"the GT file {gt_src}")
    n = len(res_list)
    det_point = np.empty((n, 2), dtype=np.float64)
    for i, r in enumerate(res_list):
        if "point" in r:
            det_point[i] = r["point"]
        else:
            x, y, w, h = r["bbox"]
            det_point[i] = (x + w / 2.0, y + h / 2.0)
    det_img = np.array([img_pos[r["image_id"]] for r in res_list], dtype=np.int64).reshape(-1)
    det_cat = np.array([cat_pos[r["category_id"]] for r in res_list], dtype=np.int64).reshape(-1)
    det_score = np.array([r["score"] for r in res_list], dtype=np.float64).reshape(-1)
    return det_img, det_cat, det_point, det_score


def prepare_point_eval_inputs(
    gt: Union[str, Dict[str, Any]], results: Union[str, List[Dict[str, Any]]]
) -> PointEvalInputs:
    """Validate and convert a GT box file and a results list into :class:`PointEvalInputs`.

    Args:
        gt: path or dict of a COCO instances file with ``bbox`` for every annotation (the
            FULL box file: boxes define the distance); ids must be 1-based integers.
        results: path or list of dicts ``{image_id, category_id, score, point: [x, y]}`` or
            ``{..., bbox: [x, y, w, h]}`` (the box centre is used). Not mutated.

    Raises:
        CocoFormatError: naming the file and the id for a GT annotation without a box, a
            0-based or duplicate id, a result with an unknown image or category id, a
            non-finite score or point.
    """
    gt_dict, gt_src = _load_gt(gt)
    res_list, res_src = load_point_results(results)

    parsed_gt = _parse_gt_fast(gt_dict)
    if parsed_gt is None:
        validate_coco_dict(gt_dict, gt_src)  # raises, naming the file and the id
        for a in gt_dict["annotations"]:
            if "bbox" not in a:
                raise CocoFormatError(
                    f"{gt_src}: annotation id {a['id']} has no 'bbox'; point mAP needs the full box "
                    f"file as GT (boxes define the distance), not a point/click file"
                )
        raise CocoFormatError(f"{gt_src}: malformed COCO GT (ids, boxes or references)")
    image_ids, category_ids, gt_img, gt_cat, gt_box, iscrowd, ignore_key = parsed_gt
    img_pos = {iid: i for i, iid in enumerate(image_ids)}
    cat_pos = {cid: i for i, cid in enumerate(category_ids)}
    category_names = [str(c.get("name", c["id"])) for c in gt_dict["categories"]]

    parsed = _parse_results_fast(res_list, img_pos, cat_pos)
    if parsed is None:
        parsed = _parse_results_checked(res_list, img_pos, cat_pos, res_src, gt_src)
    det_img, det_cat, det_point, det_score = parsed
    return PointEvalInputs(
        image_ids=image_ids,
        category_ids=category_ids,
        category_names=category_names,
        gt_img=gt_img,
        gt_cat=gt_cat,
        gt_center=(gt_box[:, :2] + gt_box[:, 2:] / 2.0).astype(np.float32),
        gt_wh=gt_box[:, 2:].astype(np.float32),
        gt_iscrowd=iscrowd,
        gt_ignore_key=ignore_key,
        det_img=det_img,
        det_cat=det_cat,
        det_point=det_point.astype(np.float32),
        det_score=det_score.astype(np.float32),
    )
