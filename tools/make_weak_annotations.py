#!/usr/bin/env python
"""Make weak annotations from a full COCO-format box/mask file, with an explicit seed.

Subcommands (each writes beside the input under the conventional name unless --output):
  coarse-points         <stem>_coarse_points_s{seed}.json        RG(0, 1/4) point per object (CPR)
  quasi-center-points   <stem>_quasi_center_points_s{seed}.json  + central ellipse (SAPNet)
  clicks                <stem>_clicks{1|2}_s{seed}.json          box centre + N(0, alpha*side) clicks
  keep1                 <stem>_keep1_s{seed}.json (+ _erased)    one box per category per image (SIOD)
  sparse                <stem>_sparse_{level}_s{seed}.json (+ _erased)  easy|hard|extreme|50miss (Co-mining)

Examples:
  python tools/make_weak_annotations.py coarse-points --input datasets/coco/annotations/instances_train2017.json
  python tools/make_weak_annotations.py sparse --level hard --seed 1 --input train.json
The same input and seed give a byte-identical file; statistics are printed and stored in ``info``.
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402

from pointdet.data.annotations import (  # noqa: E402
    SPARSE_LEVELS,
    run_center_clicks,
    run_coarse_points,
    run_keep1,
    run_sparse,
)


def _common(p):
    p.add_argument("--input", required=True, help="full COCO-format annotation file")
    p.add_argument("--output", default=None, help="output file (default: beside the input, conventional name)")
    p.add_argument("--seed", type=int, default=0, help="seed of the numpy Generator (default 0)")
    p.add_argument("--image-root", default=None,
                   help="if given, check that every image file exists under it with the width/height the file "
                        "declares (without it, annotations beyond the declared sizes are only counted and warned about)")
    p.add_argument("--allow-outside-image-root", action="store_true",
                   help="accept file_name values that are absolute or leave --image-root with '..' (refused by default)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or statistics")


def _point_args(p):
    p.add_argument("--mu", type=float, nargs=2, default=(0.0, 0.0), metavar=("MU_X", "MU_Y"),
                   help="Gaussian mean offset in units of box w/h (default 0 0)")
    p.add_argument("--sigma", type=float, nargs=2, default=(0.25, 0.25), metavar=("SIGMA_X", "SIGMA_Y"),
                   help="Gaussian std in units of box w/h (default 0.25 0.25, CPR's RG(0, 1/4))")
    p.add_argument("--min-box-size", type=float, default=2.0,
                   help="boxes with w or h below this (px) get the box centre (default 2)")
    p.add_argument("--ignore-masks", action="store_true", help="sample on the box even when a mask exists")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("coarse-points", help="one Rectified-Gaussian coarse point per object (CPR)")
    _common(p)
    _point_args(p)

    p = sub.add_parser("quasi-center-points", help="coarse points restricted to a central ellipse (SAPNet)")
    _common(p)
    _point_args(p)
    p.add_argument("--center-semi-axis-ratio", type=float, default=0.125,
                   help="ellipse semi-axes = min(max, ratio * w|h) (default 0.125)")
    p.add_argument("--center-max-semi-axis", type=float, default=96.0, help="(px, default 96)")

    p = sub.add_parser("clicks", help="simulated center clicks")
    _common(p)
    p.add_argument("--alpha", type=float, default=0.1, help="click noise std as a fraction of the box side (default 0.1)")
    p.add_argument("--num-annotators", type=int, choices=(1, 2), default=1, help="clicks per object (default 1)")

    p = sub.add_parser("keep1", help="one box per category per image (SIOD)")
    _common(p)
    p.add_argument("--keep-first", action="store_true",
                   help="keep the first annotation in JSON order (reference code) instead of a random one")

    p = sub.add_parser("sparse", help="sparse box sets (easy|hard|extreme|50miss)")
    _common(p)
    p.add_argument("--level", required=True, choices=SPARSE_LEVELS)
    p.add_argument("--miss-fraction", type=float, default=0.5, help="50miss: fraction erased per category (default 0.5)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    common = dict(input_path=args.input, output_path=args.output, seed=args.seed,
                  image_root=args.image_root, verbose=not args.quiet,
                  allow_outside_image_root=args.allow_outside_image_root)
    if args.command in ("coarse-points", "quasi-center-points"):
        kw = dict(mu=tuple(args.mu), sigma=tuple(args.sigma), min_box_size=args.min_box_size,
                  use_masks=not args.ignore_masks)
        if args.command == "quasi-center-points":
            kw.update(quasi_center=True, center_semi_axis_ratio=args.center_semi_axis_ratio,
                      center_max_semi_axis=args.center_max_semi_axis)
        return [run_coarse_points(**common, **kw)]
    if args.command == "clicks":
        return [run_center_clicks(**common, alpha=args.alpha, num_annotators=args.num_annotators)]
    if args.command == "keep1":
        return list(run_keep1(**common, keep_first=args.keep_first))
    if args.command == "sparse":
        return list(run_sparse(**common, level=args.level, miss_fraction=args.miss_fraction))
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(run_cli(main))
