#!/usr/bin/env python
"""Click-supervised MIL re-localization (or the reference MIL with mil.use_clicks=False): writes
the box file, clickmil_history.json (CorLoc per iteration) and corloc.png beside it.

Example:
  python tools/click_mil.py --config-file configs/common/models/clickmil_mnv2.py \
      --clicks datasets/pointdet_demo/trees/annotations/trees_train_clicks1_s0.json \
      --image-root datasets/pointdet_demo/trees/images --proposals output/clickmil/trees_ss.pkl \
      --gt datasets/pointdet_demo/trees/annotations/trees_train.json \
      --output output/clickmil/one_click/boxes.json mil.num_iterations=3
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--clicks", required=True, help="click file (one or two clicks per object)")
    p.add_argument("--image-root", required=True)
    p.add_argument("--proposals", required=True, help="per-image Detectron2 pickle or per-annotation .json")
    p.add_argument("--output", required=True, help="box file to write")
    p.add_argument("--gt", default=None, help="full box file for CorLoc per iteration")
    p.add_argument("--mu", default=None, help="mu file of tools/fit_click_area.py (two clicks: box-area score)")
    p.add_argument("--num-threads", type=int, default=0)
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides key=value")
    args = p.parse_args(argv)
    import torch
    from detectron2.config import LazyConfig

    from pointdet.engine.clickmil import click_mil_from_config

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    cfg = LazyConfig.apply_overrides(LazyConfig.load(args.config_file), args.opts)
    stats = click_mil_from_config(cfg, args.clicks, args.image_root, args.proposals, args.output,
                                  gt_json=args.gt, mu=args.mu)
    for h in stats["history"]:
        if "corloc" in h:
            print(f"iteration {h['iteration']}: CorLoc {100 * h['corloc']:.2f}  mIoU_box {100 * h['miou_box']:.2f}  "
                  f"CorLoc per image-class pair {100 * h['corloc_image_class']:.2f}")
    print(f"-> {args.output}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
