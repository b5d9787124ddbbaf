#!/usr/bin/env python
"""Benchmark CPRNet against its own backbone (+FPN), side by side in one run.

Training step time, peak memory and refinement throughput on one synthetic batch; what is
measured and how is described in :mod:`pointdet.modeling.cpr.benchmark`.

Example:
  python tools/benchmark_cpr.py --config-file configs/CPR/cprnet_mnv2_fpn_trees.py \
      --batch-size 2 --image-size 384 --points 30 --steps 5
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.engine.step_benchmark import add_step_benchmark_arguments  # noqa: E402
from pointdet.utils.cli import run_cli  # noqa: E402

from pointdet.modeling.cpr.benchmark import benchmark_cprnet, format_cprnet_benchmark  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, help="LazyConfig whose `model` is a CPRNet")
    p.add_argument("--points", type=int, default=30, help="annotated points per image")
    add_step_benchmark_arguments(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    report = benchmark_cprnet(
        args.config_file, args.opts, batch_size=args.batch_size, image_size=args.image_size, points=args.points,
        steps=args.steps, device=args.device, threads=args.threads, memory=not args.no_memory,
    )
    print(format_cprnet_benchmark(report))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
