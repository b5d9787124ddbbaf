#!/usr/bin/env python
"""Training step time and peak memory of each DMiner detector vs its base detector, side by side
in one run (SIOD, Li et al. CVPR 2022; see pointdet/engine/benchmark_dminer.py).

Default pairs: the Keep1-trees demo configs of CenterNet, FCOS and Faster R-CNN C4
(``configs/SIOD/*_trees_siod_base.py`` vs ``*_trees_siod_dminer.py``); ``--pair NAME BASE DMINER``
(repeatable) benchmarks others, e.g. the COCO settings on a GPU.

  python tools/benchmark_dminer.py --batch-size 2 --image-size 384 --steps 5 --threads 1
  python tools/benchmark_dminer.py --device cuda --batch-size 16 --image-size 512 \
      --pair CenterNet-R18 configs/SIOD/centernet_R_18_coco_siod_base.py configs/SIOD/centernet_R_18_coco_siod_dminer.py
"""
import argparse
import logging
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.engine.step_benchmark import add_step_benchmark_arguments  # noqa: E402
from pointdet.utils.cli import run_cli  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", nargs=3, action="append", metavar=("NAME", "BASE", "DMINER"),
                   help="a base / DMiner LazyConfig pair (default: the three demo detectors)")
    p.add_argument("--classes-per-image", type=int, default=1, help="annotated categories per image (one box each)")
    add_step_benchmark_arguments(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from detectron2.utils.logger import setup_logger

    from pointdet.engine.benchmark_dminer import DEFAULT_PAIRS, benchmark_dminer, format_table

    setup_logger(name="pointdet", abbrev_name="pointdet")
    logging.getLogger("pointdet").setLevel(logging.INFO)
    rows = benchmark_dminer(
        [tuple(p) for p in args.pair] if args.pair else DEFAULT_PAIRS,
        batch_size=args.batch_size, image_size=args.image_size, classes_per_image=args.classes_per_image,
        steps=args.steps, device=args.device, threads=args.threads, memory=not args.no_memory, opts=args.opts,
    )
    print(f"DMiner training cost: batch {args.batch_size} x {args.image_size}px, {args.classes_per_image} "
          f"annotated categor{'y' if args.classes_per_image == 1 else 'ies'}/image, device {args.device}, "
          f"{args.steps} steps (paper: 1.4x time, 3x memory)")
    print(format_table(rows, args.device))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
