#!/usr/bin/env python
"""Benchmark Co-mining training against its single-branch detector, side by side in one run:
median training step time and peak memory of each (``pointdet.engine.benchmark_comining``).

Example (do not run on a busy machine: the ratio needs an idle one):
  python tools/benchmark_comining.py --config-file configs/CoMining/retinanet_mnv2_fpn_trees_comining.py \
      --batch-size 4 --image-size 384 --boxes 20 --steps 10 --threads 2
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.engine.step_benchmark import add_step_benchmark_arguments  # noqa: E402
from pointdet.utils.cli import run_cli  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, help="LazyConfig whose `model` is a Co-mining detector")
    p.add_argument("--boxes", type=int, default=10, help="annotated boxes per image")
    add_step_benchmark_arguments(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from pointdet.engine.benchmark_comining import benchmark_comining, format_benchmark

    print(format_benchmark(benchmark_comining(
        args.config_file, args.opts, batch_size=args.batch_size, image_size=args.image_size, boxes=args.boxes,
        steps=args.steps, device=args.device, threads=args.threads, memory=not args.no_memory,
    )))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
