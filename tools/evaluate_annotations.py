#!/usr/bin/env python
"""Annotation-quality metrics of weak, refined or mined annotation files.

Subcommands:
  rsv WEAK.json GT.json [--clicks] [--heatmap OUT.png] [--bins 100] [--size-edges 25,40]
      RSV (CPR Eq. 13) overall, per category and optionally per object size (sqrt of the GT
      box area, px), matched to GT by annotation id; optional relative-position heat-map
      (CPR Fig. 6).
  Weak and GT annotations are paired by annotation id: the image and category of each id must
  agree in both files, and a weak file whose provenance records the checksum of another source
  file is refused (the error names the first mismatching id).
  boxes PSEUDO.json GT.json [--iou 0.5]
      CorLoc and mIoU_box of pseudo boxes (matched by annotation id), mIoU by SAPNet size bucket.
  mined PSEUDO.json ERASED.json [--iou 0.5] [--score-thresh 0]
      precision / recall of mined pseudo-labels vs the erased GT (<name>_erased.json).
Add --output-json FILE to any subcommand to save the numbers. No output may be one of the
input files.
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402

from pointdet.evaluation.annotation_quality import (  # noqa: E402
    evaluate_boxes_file,
    evaluate_mined_file,
    evaluate_rsv_file,
)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("rsv", help="RSV and relative-position heat-map of points or clicks")
    r.add_argument("weak")
    r.add_argument("gt")
    r.add_argument("--clicks", action="store_true", help="use the 'clicks' field (every click is a sample)")
    r.add_argument("--heatmap", default=None, help="PNG path for the relative-position heat-map")
    r.add_argument("--bins", type=int, default=100)
    r.add_argument("--size-edges", default=None,
                   help="comma-separated object sizes in px (sqrt of GT box area), e.g. 25,40: RSV per size bin")
    b = sub.add_parser("boxes", help="CorLoc and mIoU_box of pseudo boxes")
    b.add_argument("pseudo")
    b.add_argument("gt")
    b.add_argument("--iou", type=float, default=0.5)
    m = sub.add_parser("mined", help="precision/recall of mined pseudo-labels vs erased GT")
    m.add_argument("pseudo")
    m.add_argument("erased")
    m.add_argument("--iou", type=float, default=0.5)
    m.add_argument("--score-thresh", type=float, default=0.0)
    for s in (r, b, m):
        s.add_argument("--output-json", default=None)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "rsv":
        edges = [float(e) for e in args.size_edges.split(",")] if args.size_edges else None
        return evaluate_rsv_file(args.weak, args.gt, point_key="clicks" if args.clicks else "point", size_edges=edges,
                                 heatmap=args.heatmap, bins=args.bins, output_json=args.output_json)
    if args.command == "boxes":
        return evaluate_boxes_file(args.pseudo, args.gt, iou_threshold=args.iou, output_json=args.output_json)
    return evaluate_mined_file(args.pseudo, args.erased, iou_threshold=args.iou, score_threshold=args.score_thresh,
                               output_json=args.output_json)


if __name__ == "__main__":
    sys.exit(run_cli(main))
