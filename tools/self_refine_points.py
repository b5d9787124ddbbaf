#!/usr/bin/env python
"""Self-refinement of coarse point annotations (CPR paper, Sec. 4.2 "Self-Refinement").

Takes a point-annotation file (e.g. <stem>_coarse_points_s0.json) and the predictions of a
localizer trained on it (a COCO results JSON with ``point`` or ``bbox`` per detection, e.g. a
pseudo-box detector or P2PNet run on the *training* images), replaces each annotated point
with the score-weighted mean of the same-class predictions around it (rule and defaults in
pointdet/modeling/p2pnet/self_refinement.py) and writes a new point file. The original point is
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
import json
import os
import sys
from collections import OrderedDict

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.data.coco_io import CocoFormatError, atomic_write_json, check_outputs_not_inputs, file_sha256, load_coco_dict  # noqa: E402
from pointdet.engine.refinement import rsv_of  # noqa: E402
from pointdet.modeling.p2pnet.self_refinement import self_refine_coco  # noqa: E402


def run_self_refinement(points_path, predictions_path, output_path, radius=64.0, score_thresh=0.05,
                        ann_weight=0.0, nearest_filter=True, gt_path=None, verbose=True):
    """
    Refine ``points_path`` with ``predictions_path`` and write ``output_path`` (atomically).

    RSV (paper Eq. 13) before/after is stored in ``info.statistics`` and printed when boxes are
    known: ``true_bbox`` in the point file, or the full COCO file ``gt_path`` (by annotation id).
    Returns the written dict.
    """
    check_outputs_not_inputs([output_path], [points_path, predictions_path, gt_path])
    coco = load_coco_dict(points_path)
    try:
        with open(predictions_path) as f:
            predictions = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise CocoFormatError(f"{predictions_path}: cannot read the predictions JSON ({e})") from e
    if not isinstance(predictions, list):
        raise CocoFormatError(f"{predictions_path}: expected a COCO results list, got {type(predictions).__name__}")
    params = OrderedDict(radius=float(radius), score_thresh=float(score_thresh),
                         ann_weight=float(ann_weight), nearest_filter=bool(nearest_filter))
    out, stats = self_refine_coco(coco, predictions, points_file=points_path,
                                  predictions_file=predictions_path, **params)
    gt_boxes = None
    if gt_path is not None:
        gt = load_coco_dict(gt_path)
        gt_boxes = {a["id"]: a["bbox"] for a in gt["annotations"] if "bbox" in a}
    stats["rsv_before"] = rsv_of(out, "coarse_point", gt_boxes)
    stats["rsv_after"] = rsv_of(out, "point", gt_boxes)
    info = OrderedDict()
    info["description"] = "pointdet self-refined points (CPR Sec. 4.2 Self-Refinement)"
    info["generator"] = "pointdet.self_refine_points"
    info["params"] = params
    info["seed"] = None
    info["source_file"] = os.path.basename(points_path)
    info["source_sha256"] = file_sha256(points_path)
    info["predictions_file"] = os.path.basename(predictions_path)
    info["predictions_sha256"] = file_sha256(predictions_path)
    if gt_path is not None:
        info["gt_file"] = os.path.basename(gt_path)
    info["statistics"] = stats
    if "info" in coco:
        info["source_info"] = coco["info"]
    result = OrderedDict(info=info)
    for k, v in out.items():
        if k != "info":
            result[k] = v
    atomic_write_json(result, output_path)
    if verbose:
        print(f"self-refinement -> {output_path}")
        for k, v in stats.items():
            print(f"  {k}: {v}")
    return result


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
    try:
        run_self_refinement(args.points, args.predictions, args.output, radius=args.radius,
                            score_thresh=args.score_thresh, ann_weight=args.ann_weight,
                            nearest_filter=not args.no_nearest_filter, gt_path=args.gt,
                            verbose=not args.quiet)
    except (CocoFormatError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
