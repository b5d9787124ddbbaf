#!/usr/bin/env python
"""Self-refinement of coarse point annotations (CPR paper, Sec. 4.2 "Self-Refinement").

Takes a point-annotation file (e.g. <stem>_coarse_points_s0.json) and the predictions of a
localizer trained on it (a COCO results JSON with ``point`` or ``bbox`` per detection, e.g. a
pseudo-box detector or P2PNet run on the *training* images), replaces each annotated point
with the score-weighted mean of the same-class predictions around it (rule and defaults in
pointdet/modeling/p2pnet/self_refinement.py) and writes a new point file through the relabel
engine (pointdet/engine/self_refinement.py). The original point is
kept as ``coarse_point``; ``info`` records the parameters and both input checksums; RSV (paper
Eq. 13) before/after is printed when boxes are known (``true_bbox`` or --gt).

Example:
  python tools/self_refine_points.py \
      --points datasets/pointdet_demo/trees/annotations/trees_train_coarse_points_s0.json \
      --predictions output/cpr/p2pnet_coarse_train/inference/point_results.json \
      --output output/cpr/trees_train_self_refined_points.json
The same inputs give a byte-identical file; the write is atomic.
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", required=True, help="point annotation file to refine")
    p.add_argument("--predictions", required=True, help="COCO results JSON of the localizer on these images")
    p.add_argument("--output", required=True, help="refined point file to write")
    p.add_argument("--radius", type=float, default=64.0, help="max distance (px) of a supporting prediction (64)")
    p.add_argument("--score-thresh", type=float, default=0.05, help="min score of a supporting prediction (0.05)")
    p.add_argument("--ann-weight", type=float, default=0.0, help="weight of the annotated point in the mean (0)")
    p.add_argument("--no-nearest-filter", action="store_true",
                   help="let a prediction support every same-class annotation within the radius")
    p.add_argument("--gt", default=None, help="full COCO file (boxes by annotation id) for RSV")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from pointdet.engine.self_refinement import self_refine_file

    stats = self_refine_file(args.points, args.predictions, args.output, radius=args.radius,
                             score_thresh=args.score_thresh, ann_weight=args.ann_weight,
                             nearest_filter=not args.no_nearest_filter, gt_json=args.gt)
    if not args.quiet:
        print(f"self-refinement -> {args.output}")
        for k, v in stats.items():
            print(f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
