"""Point localization mAP (CPR paper Sec. 4.1, Eq. 12): the function form.

A predicted point matches a GT box when the normalised point-to-box distance of CPR Eq. 12
is at most tau; matching and AP follow the reference ``LocationEvaluator`` of the CPR
authors (``projects/CPR/README.md`` lists where pointdet departs from it). The pieces:

* :mod:`~pointdet.evaluation.point_ap_inputs`: reading and checking the GT box file and
  the results (:func:`prepare_point_eval_inputs`);
* :mod:`~pointdet.evaluation.point_ap_core`: the vectorised matching and accumulation;
* :mod:`~pointdet.evaluation.point_ap_result`: :class:`PointAPResult` (means over
  categories, ``empty_class_rule``, tables, JSON);
* :mod:`~pointdet.evaluation.point_ap_evaluator`: :class:`PointAPEvaluator`, the Detectron2
  ``DatasetEvaluator``;
* :mod:`~pointdet.evaluation.point_ap_reference`: a plain per-image loop of the same rules,
  used by the tests and the benchmark.

Two named options choose between the CPR paper's intent (the defaults) and the reference
code's behaviour, for parity with the published numbers:

* ``empty_class_rule``: "coco" (categories without GT are left out of the mean and
  reported) or "reference" (mean over every category of the GT file, AP 1 for a category
  with neither GT nor detections);
* ``ignore_rule``: "iscrowd_or_ignore" (a GT with ``iscrowd`` or ``ignore`` set is an
  ignore region) or "reference" (only ``iscrowd``; AR is then averaged in float32 as the
  reference does).
"""
import logging
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from pointdet.data.coco_io import atomic_write_json, check_outputs_not_inputs

from .point_ap_core import (  # noqa: F401 (public names of point mAP)
    AREA_RANGE_PRESETS,
    COCO_AREA_RANGES,
    DEFAULT_MAX_DETS,
    DEFAULT_TAUS,
    RECALL_THRESHOLDS,
    SCORE_GROUP_EPS,
    TINY_AREA_RANGES,
    check_params,
    compute_point_ap,
    match_value_threshold,
    resolve_area_ranges,
    size_bounds,
)
from .point_ap_inputs import (  # noqa: F401
    IGNORE_RULES,
    PointEvalInputs,
    check_ignore_rule,
    load_point_results,
    prepare_point_eval_inputs,
)
from .point_ap_result import EMPTY_CLASS_RULES, PointAPResult, check_empty_class_rule  # noqa: F401

__all__ = [
    "COCO_AREA_RANGES",
    "TINY_AREA_RANGES",
    "AREA_RANGE_PRESETS",
    "EMPTY_CLASS_RULES",
    "IGNORE_RULES",
    "PointAPResult",
    "PointEvalInputs",
    "prepare_point_eval_inputs",
    "load_point_results",
    "evaluate_point_ap",
    "evaluate_point_ap_files",
    "PointAPEvaluator",
    "add_point_eval_config",
]

logger = logging.getLogger(__name__)

AreaRangesArg = Union[str, Sequence[Tuple[str, float, float]]]


def evaluate_point_ap(
    gt: Union[str, Dict[str, Any], PointEvalInputs],
    results: Union[str, List[Dict[str, Any]], None],
    taus: Sequence[float] = DEFAULT_TAUS,
    max_dets: Sequence[int] = DEFAULT_MAX_DETS,
    area_ranges: AreaRangesArg = "coco",
    *,
    empty_class_rule: str = "coco",
    ignore_rule: str = "iscrowd_or_ignore",
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
        empty_class_rule: "coco" or "reference" (module docstring).
        ignore_rule: "iscrowd_or_ignore" or "reference" (module docstring).
        chunk_elements: memory bound on (cells x dets x GTs x settings) processed at once.
    Returns:
        :class:`PointAPResult`; the categories and ranges left out of the means are logged.
    """
    taus, max_dets = check_params(taus, max_dets)
    area_ranges = resolve_area_ranges(area_ranges)
    check_empty_class_rule(empty_class_rule)
    check_ignore_rule(ignore_rule)
    inputs = gt if isinstance(gt, PointEvalInputs) else prepare_point_eval_inputs(gt, results)
    ap, ar, npos, curves = compute_point_ap(inputs, taus, max_dets, area_ranges, ignore_rule, chunk_elements)
    result = PointAPResult.from_reference_values(
        ap,
        ar,
        npos,
        empty_class_rule=empty_class_rule,
        ignore_rule=ignore_rule,
        category_ids=list(inputs.category_ids),
        category_names=list(inputs.category_names),
        area_ranges=tuple(area_ranges),
        taus=tuple(taus),
        max_dets=tuple(max_dets),
        curves=curves,
    )
    result.log_exclusions(logger)
    return result


def evaluate_point_ap_files(
    gt_path: str,
    results_path: str,
    taus: Sequence[float] = DEFAULT_TAUS,
    max_dets: Sequence[int] = DEFAULT_MAX_DETS,
    area_ranges: AreaRangesArg = "coco",
    *,
    empty_class_rule: str = "coco",
    ignore_rule: str = "iscrowd_or_ignore",
    output_dir: Optional[str] = None,
    print_fn: Callable[[str], Any] = print,
) -> PointAPResult:
    """Evaluate a results file against a GT box file, print the tables, optionally write files.

    Prints the reference-style summary lines, the metrics table (one row per area range and
    max-dets value), the per-category AP and what was left out of the means. With
    ``output_dir``, writes ``point_ap_metrics.json`` and ``point_pr_curves.png`` there,
    atomically, after checking that neither is one of the inputs.

    Raises:
        ValueError: an output would replace an input file, or a bad option.
        CocoFormatError, FileNotFoundError: bad or missing input files (naming file and id).
    """
    metrics_path = plot_path = None
    if output_dir:
        metrics_path = os.path.join(output_dir, "point_ap_metrics.json")
        plot_path = os.path.join(output_dir, "point_pr_curves.png")
        check_outputs_not_inputs([output_dir, metrics_path, plot_path], [gt_path, results_path])
    result = evaluate_point_ap(
        gt_path,
        results_path,
        taus,
        max_dets,
        area_ranges,
        empty_class_rule=empty_class_rule,
        ignore_rule=ignore_rule,
    )
    print_fn("\n".join(result.summary_lines()))
    print_fn(f"point mAP (percent; empty_class_rule={empty_class_rule}, ignore_rule={ignore_rule}):")
    print_fn(result.metrics_table())
    print_fn(result.per_category_table())
    for line in result.exclusion_lines():
        print_fn(line)
    if output_dir:
        from .plots import plot_point_pr_curves

        atomic_write_json(result.to_json_dict(), metrics_path, indent=2)
        plot_point_pr_curves(result, plot_path)
        print_fn(f"wrote {metrics_path} and {plot_path}")
    return result


# The DatasetEvaluator lives in its own module; kept importable from here.
from .point_ap_evaluator import PointAPEvaluator, add_point_eval_config  # noqa: E402,F401
