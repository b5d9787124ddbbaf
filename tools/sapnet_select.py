#!/usr/bin/env python
"""SAPNet pseudo labels (box + mask per point) as an annotation file.

Subcommands:
  top1   --input POINTS.json --proposals PROPOSALS.json --output OUT.json
         the SAM-top1 baseline: each point's highest-scoring proposal.
  sapnet --config-file CFG.py --weights MODEL.pth --input POINTS.json --image-root DIR
         --proposals PROPOSALS.json --output OUT.json [key=value ...]
         a trained SAPNet's box_prm and Mask_prm (paper Table 3's two-stage variant, Table 7's mIoU_box).
Score the boxes with ``tools/evaluate_annotations.py boxes OUT.json GT.json``.
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402

from pointdet.engine.sapnet_selection import (  # noqa: E402
    save_selection_pictures,
    select_top1_file,
    select_with_checkpoint,
)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("top1", "sapnet"):
        s = sub.add_parser(name)
        s.add_argument("--input", required=True, help="point file (with 'point' per annotation)")
        s.add_argument("--proposals", required=True, help="its proposal file")
        s.add_argument("--output", required=True)
        s.add_argument("--image-root", default=None, help="the images (needed by sapnet and by --vis-dir)")
        s.add_argument("--quiet", action="store_true")
        s.add_argument("--vis-dir", default=None, help="PNGs of the first --vis-max objects: proposals, top-1 "
                       "(yellow), the choice (green), the true box (cyan) when known")
        s.add_argument("--vis-max", type=int, default=20)
        if name == "sapnet":
            s.add_argument("--config-file", required=True)
            s.add_argument("--weights", required=True)
            s.add_argument("--device", default=None)
            s.add_argument("opts", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    if (a.command == "sapnet" or a.vis_dir) and not a.image_root:
        p.error("--image-root is needed here")
    if a.command == "top1":
        select_top1_file(a.input, a.proposals, a.output, progress=not a.quiet)
    else:
        select_with_checkpoint(a.config_file, a.weights, a.input, a.image_root, a.proposals, a.output, a.opts,
                               a.device, progress=not a.quiet)
    if a.vis_dir:
        save_selection_pictures(a.output, a.proposals, a.image_root, a.vis_dir, a.vis_max)


if __name__ == "__main__":
    sys.exit(run_cli(main))
