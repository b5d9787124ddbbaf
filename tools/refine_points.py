#!/usr/bin/env python
"""Refine coarse point annotations with a trained CPRNet (CPR Sec. 3.3, Algorithm 2).

Runs the CPRNet of a LazyConfig over every image of a point file (test-time resize of the
config's ``dataloader.test.mapper``, no flip), writes a new point file with the refined
``point`` and the input point kept as ``coarse_point`` (atomically; a killed run resumes where
it stopped when run again with the same arguments), and prints RSV (paper Eq. 13) before and
after when boxes are known (``true_bbox`` in the point file, or --gt).

Example:
  python tools/refine_points.py --config-file configs/CPR/cprnet_mnv2_fpn_trees.py \
      --weights output/cpr/cprnet_mnv2_fpn_trees/model_final.pth \
      --input datasets/pointdet_demo/trees/annotations/trees_train_coarse_points_s0.json \
      --image-root datasets/pointdet_demo/trees/images \
      --output output/cpr/trees_train_coarse_points_s0_cpr_refined.json --vis-dir output/cpr/vis
  # paper Table 4c ablations: model.refinement.use_nearest_filter=False, model.refinement.score_threshold=0, ...
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, help="LazyConfig .py whose `model` is a CPRNet")
    p.add_argument("--weights", required=True, help="trained CPRNet checkpoint (.pth)")
    p.add_argument("--input", required=True, help="coarse point file to refine")
    p.add_argument("--image-root", required=True, help="folder of the images of --input")
    p.add_argument("--output", required=True, help="refined point file to write")
    p.add_argument("--gt", default=None, help="full COCO file (boxes by annotation id) for RSV")
    p.add_argument("--vis-dir", default=None, help="write PNGs of the refinement of the first --vis-max images (annotated green, bag points by score, refined yellow, true boxes cyan when known)")
    p.add_argument("--vis-max", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu / cuda (default: cfg.train.device, else cuda if available)")
    p.add_argument("--no-resume", action="store_true", help="start over even if a killed run left a partial record")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="LazyConfig overrides key=value (e.g. model.refinement.refine_th=0.2)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from pointdet.engine.refinement import refine_with_checkpoint

    stats = refine_with_checkpoint(
        args.config_file, args.weights, args.input, args.image_root, args.output, opts=args.opts,
        gt_json=args.gt, vis_dir=args.vis_dir, vis_max=args.vis_max, batch_size=args.batch_size,
        num_workers=args.num_workers, device=args.device, progress=not args.quiet, resume=not args.no_resume,
    )
    print(f"CPR refinement -> {args.output}")
    for k, v in stats.items():
        print(f"  {k}: {v}")
    for label, v in (("RSV before:", stats["rsv_before"]), ("RSV after: ", stats["rsv_after"])):
        print(label, "n/a (no boxes: give --gt or a file with true_bbox)" if v is None else f"{v:.5f}")
    if stats.get("outside_image"):
        print(f"warning: {stats['outside_image']} point(s) outside their image were not refined", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
