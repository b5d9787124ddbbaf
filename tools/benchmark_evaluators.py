#!/usr/bin/env python
"""Benchmark pointdet's evaluators against their straightforward baselines.

Score-aware AP vs ten pycocotools runs (target >= 5x faster) and vs one run (<= 1.5x its
time), PointAP vs the per-image Python loop (>= 10x), results loading vs pycocotools'
``loadRes`` (<= 2x), on a synthetic COCO-val-sized input deterministic for ``--seed``. The
comparisons and the synthetic data are described in :mod:`pointdet.evaluation.benchmark`.

Usage::

    python tools/benchmark_evaluators.py                     # full size (several minutes)
    python tools/benchmark_evaluators.py --num-images 500    # quick
"""
import argparse
import logging
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402

from pointdet.evaluation.benchmark import format_evaluator_benchmark, run_evaluator_benchmark  # noqa: E402


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num-images", type=int, default=5000)
    ap.add_argument("--num-classes", type=int, default=80)
    ap.add_argument("--dets-per-image", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-score-aware", action="store_true")
    ap.add_argument("--skip-point-ap", action="store_true")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="clock for the ratios: this process's CPU time (default; robust on a shared machine) or wall time")
    ap.add_argument("--output-json", default=None, help="also write the measured numbers here")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s")
    report = run_evaluator_benchmark(
        args.num_images, args.num_classes, args.dets_per_image, args.seed, score_aware=not args.skip_score_aware,
        point_ap=not args.skip_point_ap, clock=args.clock, output_json=args.output_json,
    )
    print()
    print(format_evaluator_benchmark(report))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
