#!/usr/bin/env python
"""Point localization mAP of a results file against a full COCO box file (CPR Eq. 12 rules).

Usage:
  python tools/evaluate_points.py GT.json RESULTS.json [--taus 0.5 1 2] [--max-dets 100]
      [--area-preset coco|tiny | --area-range LABEL MIN_AREA MAX_AREA ...]
      [--empty-class-rule coco|reference] [--ignore-rule iscrowd_or_ignore|reference]
      [--output-dir DIR]

RESULTS.json is a COCO results list of ``{image_id, category_id, score, point: [x, y]}`` (or
``bbox``, whose centre is used), in Detectron2's continuous coordinates. Prints the
reference-style summary lines, a metrics table (percent; one row per area range and
max-dets value), the per-category AP, and the categories and area ranges left out of the
means because they have no GT. With --output-dir writes ``point_ap_metrics.json`` and
``point_pr_curves.png`` there (never over an input file). Exit code 2 on bad input.

For the CPR authors' published numbers use ``--empty-class-rule reference --ignore-rule
reference`` (see projects/CPR/README.md).
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import DefaultsHelpFormatter, run_cli  # noqa: E402

from pointdet.evaluation.point_ap import (  # noqa: E402
    AREA_RANGE_PRESETS,
    EMPTY_CLASS_RULES,
    IGNORE_RULES,
    evaluate_point_ap_files,
    resolve_area_ranges,
)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=DefaultsHelpFormatter)
    p.add_argument("gt", help="full COCO-format box file (GT)")
    p.add_argument("results", help="results JSON (list of point or box detections)")
    p.add_argument("--taus", type=float, nargs="+", default=[0.5, 1.0, 2.0], help="distance thresholds tau")
    p.add_argument("--max-dets", type=int, nargs="+", default=[100], help="detections per image and class")
    p.add_argument("--area-preset", choices=sorted(AREA_RANGE_PRESETS), default="coco",
                   help="size ranges on sqrt(w*h): coco (all/small/medium/large) or tiny (SeaPerson)")
    p.add_argument("--area-range", nargs=3, action="append", metavar=("LABEL", "MIN_AREA", "MAX_AREA"),
                   default=None, help="a custom area range in px^2 (repeat for several; replaces --area-preset); "
                   "a GT is in range when sqrt(MIN_AREA) <= sqrt(w*h) < sqrt(MAX_AREA)")
    p.add_argument("--empty-class-rule", choices=EMPTY_CLASS_RULES, default="coco",
                   help="coco: categories without GT are left out of the mean and listed; reference: the CPR "
                   "authors' evaluator (mean over all categories, AP 1 for one without GT and detections)")
    p.add_argument("--ignore-rule", choices=IGNORE_RULES, default="iscrowd_or_ignore",
                   help="iscrowd_or_ignore: a GT with iscrowd or ignore set is an ignore region; reference: only "
                   "iscrowd, as the CPR authors' evaluator (AR then averaged in float32 as it does)")
    p.add_argument("--output-dir", default=None, help="write point_ap_metrics.json and point_pr_curves.png here")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        area_ranges = resolve_area_ranges(args.area_range) if args.area_range else args.area_preset
    except ValueError as e:
        parser.error(str(e))
    return evaluate_point_ap_files(
        args.gt,
        args.results,
        taus=args.taus,
        max_dets=args.max_dets,
        area_ranges=area_ranges,
        empty_class_rule=args.empty_class_rule,
        ignore_rule=args.ignore_rule,
        output_dir=args.output_dir,
    )


if __name__ == "__main__":
    sys.exit(run_cli(main))
