#!/usr/bin/env python
"""Point localization mAP of a results file against a full COCO box file (CPR Eq. 12 rules).

Usage:
  python tools/evaluate_points.py GT.json RESULTS.json [--taus 0.5 1 2] [--max-dets 100]
      [--area-preset coco|tiny] [--output-dir DIR]

RESULTS.json is a COCO results list of ``{image_id, category_id, score, point: [x, y]}`` (or
``bbox``, whose centre is used), in Detectron2's continuous coordinates. Prints the
reference-style summary lines, a metrics table and the per-category AP; with --output-dir
writes ``point_ap_metrics.json`` and ``point_pr_curves.png`` there.
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.data.coco_io import CocoFormatError, atomic_write_json  # noqa: E402
from pointdet.evaluation.point_ap import AREA_RANGE_PRESETS, evaluate_point_ap  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("gt", help="full COCO-format box file (GT)")
    p.add_argument("results", help="results JSON (list of point or box detections)")
    p.add_argument("--taus", type=float, nargs="+", default=[0.5, 1.0, 2.0], help="distance thresholds tau")
    p.add_argument("--max-dets", type=int, nargs="+", default=[100], help="detections per image and class")
    p.add_argument("--area-preset", choices=sorted(AREA_RANGE_PRESETS), default="coco",
                   help="size ranges on sqrt(w*h): coco (all/small/medium/large) or tiny (SeaPerson)")
    p.add_argument("--output-dir", default=None, help="write metrics JSON and PR-curve PNG here")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    res = evaluate_point_ap(args.gt, args.results, taus=args.taus, max_dets=args.max_dets,
                            area_ranges=args.area_preset)
    from detectron2.utils.logger import create_small_table

    print("\n".join(res.summary_lines()))
    metrics = res.metrics()
    print(create_small_table({k: v for k, v in metrics.items() if not k.startswith("AP-")}))
    print(res.per_category_table())
    if args.output_dir:
        from pointdet.evaluation.plots import plot_point_pr_curves

        atomic_write_json(res.to_json_dict(), os.path.join(args.output_dir, "point_ap_metrics.json"), indent=2)
        plot_point_pr_curves(res, os.path.join(args.output_dir, "point_pr_curves.png"))
        print(f"wrote {args.output_dir}/point_ap_metrics.json and point_pr_curves.png")
    return res


if __name__ == "__main__":
    try:
        main()
    except (CocoFormatError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
