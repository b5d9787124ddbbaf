#!/usr/bin/env python
"""Score-aware COCO AP (SIOD) of a COCO results file: the AP@S row and the 12 COCO stats per
score threshold, in percent, for bbox and/or segm.

Usage::

    python tools/evaluate_score_aware.py GT.json RESULTS.json [--iou-type bbox segm] \
        [--round-scores] [--output-json OUT.json] [--plot OUT.png]

Row S_i keeps the detections with score >= t_i, t = numpy.arange(0, 1, 0.1) as exact doubles
(printed in full: t_3 = 0.30000000000000004, so a score of exactly 0.3 is below S_3, as in the
SIOD code). The AP@S row averages every threshold (SIOD Eq. 8). --output-json holds
``{task: table}``. Bad input (unknown image or category ids, NaN scores, malformed JSON, an
output naming an input file) stops with an error naming the file and the entry, exit code 2;
nothing is written then.
"""
import argparse
import logging
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import DefaultsHelpFormatter, run_cli  # noqa: E402


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=DefaultsHelpFormatter)
    ap.add_argument("gt_json", help="COCO ground-truth instances file")
    ap.add_argument("results_json", help="COCO results file (a JSON list of detections)")
    ap.add_argument("--iou-type", nargs="+", choices=("bbox", "segm"), default=["bbox"],
                    help="task(s) evaluated from the same results file")
    ap.add_argument("--round-scores", action="store_true", help="round scores to 2 decimals (SIOD code parity)")
    ap.add_argument("--max-dets", type=int, default=100, help="detections per image for AP (COCO: 100)")
    ap.add_argument("--output-json", default=None, help="write the AP@S row and all 12 stats per threshold here")
    ap.add_argument("--plot", default=None, help="save AP versus score threshold as a PNG here")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    from pointdet.evaluation.score_aware import evaluate_score_aware_tasks, format_score_aware_table

    out = evaluate_score_aware_tasks(
        args.gt_json,
        args.results_json,
        iou_types=args.iou_type,
        round_scores=args.round_scores,
        max_dets=(1, 10, args.max_dets),
        output_json=args.output_json,
        plot_path=args.plot,
    )
    for result in out.values():
        print(format_score_aware_table(result["table"]))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
