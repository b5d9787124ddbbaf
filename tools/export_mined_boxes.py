#!/usr/bin/env python
"""Add Co-mining's mined boxes (``<output_dir>/mined/mined_boxes.json``, written by
``MinedBoxQualityHook`` at the end of training) to a training file as annotations flagged
``mined: true`` with their score (``pointdet.engine.comining.export_mined_annotations``,
through the relabel engine: validated boxes, ids after the file's largest in image order,
provenance in ``info``, atomic and resumable write).

Example:
  python tools/export_mined_boxes.py \
      --input datasets/pointdet_demo/trees/annotations/trees_train_sparse_hard_s0.json \
      --mined output/CoMining/retinanet_mnv2_fpn_trees_hard_comining/mined/mined_boxes.json \
      --output output/CoMining/trees_train_sparse_hard_s0_mined.json --score-threshold 0.6
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="the (sparse) training file the boxes were mined on")
    p.add_argument("--mined", required=True, help="mined boxes, COCO results format")
    p.add_argument("--output", required=True)
    p.add_argument("--score-threshold", type=float, default=0.0, help="keep mined boxes with score >= this")
    args = p.parse_args(argv)
    from pointdet.engine.comining import export_mined_annotations

    stats = export_mined_annotations(args.input, args.mined, args.output, score_threshold=args.score_threshold)
    print(f"{args.output}: {dict(stats)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
