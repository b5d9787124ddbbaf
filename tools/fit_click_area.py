#!/usr/bin/env python
"""Fit mu, the log object area predicted from the distance between two annotators' clicks
(click supervision, "box area score"), by least squares on a calibration split; save it as JSON
and print the fit (n, R^2, residual std = a data-driven sigma_ba).

Example:
  python tools/make_weak_annotations.py clicks --input datasets/pointdet_demo/trees/annotations/trees_val.json \
      --num-annotators 2 --seed 0
  python tools/fit_click_area.py --clicks datasets/pointdet_demo/trees/annotations/trees_val_clicks2_s0.json \
      --gt datasets/pointdet_demo/trees/annotations/trees_val.json --output output/clickmil/mu.json
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clicks", required=True, help="two-click file of the calibration split")
    p.add_argument("--gt", required=True, help="the full box file it was made from")
    p.add_argument("--output", required=True, help="mu file (.json)")
    p.add_argument("--offset", type=float, default=1.0, help="d0 in log(d + d0), px")
    args = p.parse_args(argv)
    from pointdet.data.coco_io import check_outputs_not_inputs
    from pointdet.modeling.clickmil.calibration import fit_mu_on_calibration, format_mu_fit

    check_outputs_not_inputs([args.output], [args.clicks, args.gt])
    mu = fit_mu_on_calibration(args.clicks, args.gt, args.output, offset=args.offset)
    print(format_mu_fit(mu), "->", args.output)


if __name__ == "__main__":
    sys.exit(run_cli(main))
