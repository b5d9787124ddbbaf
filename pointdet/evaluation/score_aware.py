"""Score-aware COCO AP (SIOD, Li et al. CVPR 2022, Sec. 4, Eq. 7-8): the function form.

:func:`evaluate_score_aware` scores a COCO results file (or list) against a COCO GT file for
one task, :func:`evaluate_score_aware_tasks` for bbox and segm in one call (the GT and the
results are read once). The rules, the thresholds (a score of exactly 0.3 is below S_3)
and the one-pass implementation are described in :mod:`pointdet.evaluation.score_aware_core`;
:class:`ScoreAwareCOCOEvaluator` (:mod:`pointdet.evaluation.score_aware_evaluator`) is the
Detectron2 ``DatasetEvaluator``.
"""
import contextlib
import copy
import io
import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from pycocotools.coco import COCO

from pointdet.data.coco_io import CocoFormatError, atomic_write_json, check_outputs_not_inputs, load_coco_dict

from .results_io import check_results, load_results
from .score_aware_core import (  # noqa: F401 (public names of score-aware AP)
    SCORE_THRESHOLDS,
    STAT_NAMES,
    ScoreAwareCOCOeval,
    accumulate_score_aware,
    format_score_aware_table,
    round_score,
    score_aware_metrics,
    score_aware_table,
    summarize_score_aware,
    summarize_score_aware_pooled,
)

__all__ = [
    "SCORE_THRESHOLDS",
    "STAT_NAMES",
    "IOU_TYPES",
    "ScoreAwareCOCOEvaluator",
    "add_score_aware_config",
    "evaluate_score_aware",
    "evaluate_score_aware_tasks",
    "run_score_aware_cocoeval",
    "load_results_into_coco",
    "ScoreAwareCOCOeval",
    "accumulate_score_aware",
    "summarize_score_aware",
    "summarize_score_aware_pooled",
    "score_aware_metrics",
    "format_score_aware_table",
    "validate_coco_results",
    "round_result_scores",
    "round_score",
    "plot_ap_vs_score_threshold",
]

IOU_TYPES = ("bbox", "segm")


def _check_iou_type(iou_type: str) -> str:
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
    return iou_type


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------
def validate_coco_results(
    results: Sequence[Dict[str, Any]], coco_gt: COCO, iou_type: str = "bbox", source: str = "<results list>"
) -> None:
    """Check a COCO results list against the GT; raise :class:`CocoFormatError` naming
    ``source``, the result (``result #i``) and its image id on the first problem.

    Each result must be a dict with an ``image_id`` and a ``category_id`` present in the GT,
    a finite numeric ``score``, and a ``bbox`` of 4 finite numbers (bbox) or a
    ``segmentation`` (segm).
    """
    if not isinstance(results, (list, tuple)):
        raise CocoFormatError(f"{source}: COCO results must be a JSON list, got {type(results).__name__}")
    check_results(results, set(coco_gt.getImgIds()), set(coco_gt.getCatIds()), _check_iou_type(iou_type), source)


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
    """Copy of ``results`` with scores rounded by :func:`round_score`, for parity with
    numbers reported by the SIOD code."""
    return [dict(r, score=round_score(r["score"], decimals)) for r in results]


def coco_from_dict(d: Dict[str, Any]) -> COCO:
    """A pycocotools ``COCO`` on a dict (not copied), without printing."""
    coco = COCO()
    coco.dataset = d
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


_coco_from_dict = coco_from_dict  # older name


def load_results_into_coco(coco_gt: COCO, results: Sequence[Dict[str, Any]], iou_type: str) -> COCO:
    """``coco_gt.loadRes(results)`` without changing ``results``; an empty list is allowed.

    ``loadRes`` adds keys (``id``, ``area``, ``iscrowd``, and ``segmentation`` or ``bbox``)
    to each result dict and keeps the dicts, so each dict is copied (shallow: nothing inside
    is modified), which costs a small fraction of ``loadRes`` itself.
    """
    if iou_type == "segm":
        # As Detectron2: drop boxes so that pycocotools uses the mask area for the area ranges.
        results = [{k: v for k, v in r.items() if k != "bbox"} for r in results]
    else:
        results = [r.copy() for r in results]
    if len(results) == 0:
        # pycocotools cannot load an empty list: an empty result set scores 0 wherever GT exists.
        return coco_from_dict(
            {
                "images": list(coco_gt.dataset["images"]),
                "categories": copy.deepcopy(coco_gt.dataset["categories"]),
                "annotations": [],
            }
        )
    with contextlib.redirect_stdout(io.StringIO()):
        return coco_gt.loadRes(results)


def _load_gt(gt: Union[str, Dict[str, Any], COCO]) -> Tuple[COCO, str]:
    if isinstance(gt, COCO):
        return gt, "<COCO>"
    if isinstance(gt, dict):
        from pointdet.data.coco_io import validate_coco_dict

        validate_coco_dict(gt, "<gt dict>")
        return coco_from_dict(copy.deepcopy(gt)), "<gt dict>"
    return coco_from_dict(load_coco_dict(os.fspath(gt))), os.fspath(gt)


# --------------------------------------------------------------------------------------------
# One pass, all thresholds
# --------------------------------------------------------------------------------------------
def run_score_aware_cocoeval(
    coco_gt: COCO,
    results: Sequence[Dict[str, Any]],
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
    _check_iou_type(iou_type)
    max_dets = [int(m) for m in max_dets]
    if len(max_dets) < 3:
        raise ValueError(f"max_dets needs at least 3 entries (COCOeval), got {max_dets}")
    coco_dt = load_results_into_coco(coco_gt, results, iou_type)
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


# --------------------------------------------------------------------------------------------
# Function form
# --------------------------------------------------------------------------------------------
def evaluate_score_aware_tasks(
    gt_json: Union[str, Dict[str, Any], COCO],
    results_json_or_list: Union[str, List[Dict[str, Any]]],
    iou_types: Sequence[str] = IOU_TYPES,
    thresholds: Sequence[float] = SCORE_THRESHOLDS,
    *,
    round_scores: bool = False,
    max_dets: Sequence[int] = (1, 10, 100),
    img_ids: Optional[Sequence[int]] = None,
    output_json: Optional[str] = None,
    plot_path: Optional[str] = None,
) -> "OrderedDict[str, Dict[str, Any]]":
    """Score-aware AP of a COCO results file against a COCO GT file, for several tasks.

    Args:
        gt_json: path of a COCO instances file (validated with ``load_coco_dict``), a dict,
            or a pycocotools ``COCO``.
        results_json_or_list: path of a COCO results JSON (a list of detections) or the list.
            The list is not modified.
        iou_types: tasks, each "bbox" or "segm" (read once, evaluated per task).
        thresholds: score thresholds t_i (default ``np.arange(0, 1, 0.1)``, the SIOD code's).
        round_scores: round scores to 2 decimals first (SIOD/CenterNet exporter parity).
        max_dets: COCOeval maxDets.
        img_ids: restrict to these image ids.
        output_json: if given, write ``{task: table}`` there atomically (the table holds the
            AP@S row and all 12 stats per threshold, in percent).
        plot_path: if given, save AP/AP50/AP75 versus score threshold (one panel per task).
            Neither output may be one of the input files (``ValueError``, nothing written).

    Returns:
        ``{task: result}``; each result holds ``metrics`` (OrderedDict ``AP@S``, ``AP50@S``,
        ... ``ARl@S``, ``AP@S_0``, ... in percent), ``stats`` ((S, 12) fractions, -1
        undefined), ``pooled`` ((12,) the AP@S row), ``thresholds`` ((S,)), ``iou_type``,
        ``table`` (JSON-serialisable).
    """
    iou_types = [_check_iou_type(t) for t in ([iou_types] if isinstance(iou_types, str) else iou_types)]
    if not iou_types:
        raise ValueError("iou_types must name at least one task")
    inputs = [p for p in (gt_json, results_json_or_list) if isinstance(p, (str, os.PathLike))]
    check_outputs_not_inputs([output_json, plot_path], [os.fspath(p) for p in inputs])
    coco_gt, gt_src = _load_gt(gt_json)
    results, src = load_results(results_json_or_list, what="COCO results")
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    out = OrderedDict()
    for iou_type in iou_types:
        _validate_gt_for_eval(coco_gt, iou_type, gt_src)
        validate_coco_results(results, coco_gt, iou_type, src)
    if round_scores:
        results = round_result_scores(results)
    for iou_type in iou_types:
        _, eval_sa, stats = run_score_aware_cocoeval(coco_gt, results, iou_type, thresholds, max_dets, img_ids)
        pooled = summarize_score_aware_pooled(eval_sa, eval_sa["params"])
        out[iou_type] = {
            "iou_type": iou_type,
            "thresholds": thresholds,
            "stats": stats,
            "pooled": pooled,
            "metrics": score_aware_metrics(stats, pooled),
            "table": score_aware_table(stats, pooled, thresholds, iou_type),
        }
    if output_json:
        atomic_write_json(OrderedDict((t, r["table"]) for t, r in out.items()), output_json, indent=2)
    if plot_path:
        from .plots import plot_ap_vs_score_threshold

        plot_ap_vs_score_threshold(
            OrderedDict((f"score-aware AP ({t})", r["stats"]) for t, r in out.items()), thresholds, plot_path
        )
    return out


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
    """Score-aware AP for one task: :func:`evaluate_score_aware_tasks` with ``iou_types=(iou_type,)``.

    Returns that task's result; ``output_json`` then holds the task's table itself.
    """
    inputs = [os.fspath(p) for p in (gt_json, results_json_or_list) if isinstance(p, (str, os.PathLike))]
    check_outputs_not_inputs([output_json], inputs)
    result = evaluate_score_aware_tasks(
        gt_json, results_json_or_list, (_check_iou_type(iou_type),), thresholds, round_scores=round_scores,
        max_dets=max_dets, img_ids=img_ids, plot_path=plot_path,
    )[iou_type]
    if output_json:
        atomic_write_json(result["table"], output_json, indent=2)
    return result


# The evaluator and the plot live in their own modules; kept importable from here.
from .plots import plot_ap_vs_score_threshold  # noqa: E402,F401
from .score_aware_evaluator import ScoreAwareCOCOEvaluator, add_score_aware_config  # noqa: E402,F401
