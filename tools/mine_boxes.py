#!/usr/bin/env python
"""Mine the boxes of a trained Co-mining checkpoint over its training set and score them
(``pointdet.engine.comining.mine_checkpoint``): what ``MinedBoxQualityHook`` does after
training, for any saved checkpoint. Writes ``mined_boxes.json`` (add them to a training file
with ``tools/export_mined_boxes.py``), ``mined_quality.json`` (boxes per image, precision and
recall against the erased annotations) and PNGs into --output-dir.

Example:
  python tools/mine_boxes.py --config-file configs/CoMining/retinanet_mnv2_fpn_trees_comining.py \\
      --weights output/CoMining/retinanet_mnv2_fpn_trees_hard_comining/model_final.pth
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, help="Co-mining LazyConfig with hooks.mined_quality")
    p.add_argument("--weights", required=True, help="the checkpoint")
    p.add_argument("--output-dir", default=None, help="default: mined/ beside --weights")
    p.add_argument("--device", default=None, help="cpu / cuda (default: the config's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="LazyConfig overrides key=value")
    args = p.parse_args(argv)
    from pointdet.engine.comining import mine_checkpoint

    out = args.output_dir or os.path.join(os.path.dirname(os.path.abspath(args.weights)), "mined")
    stats = mine_checkpoint(args.config_file, args.weights, out, args.opts, args.device, progress=not args.quiet)
    print(f"{out}: " + ", ".join(f"{k} {v:.4f}" for k, v in stats.items()))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
