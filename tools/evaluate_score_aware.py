#!/usr/bin/env python
"""Score-aware COCO AP (SIOD) of a COCO results file: AP@S, AP@S_0..AP@S_9 and all 12 COCO
stats per score threshold.

Usage::

    python tools/evaluate_score_aware.py GT.json RESULTS.json --iou-type bbox \
        [--round-scores] [--output-json OUT.json] [--plot OUT.png]

Bad input (unknown image or category ids, NaN scores, malformed JSON) stops with an error
that names the file and the offending entry; nothing is written then.
"""
import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def format_table(out) -> str:
    """Markdown table: one row per threshold, the 12 COCO stats in percent."""
    from pointdet.evaluation.score_aware import STAT_NAMES

    table = out["table"]
    lines = ["| S | t | " + " | ".join(STAT_NAMES) + " |", "|" + "---|" * (len(STAT_NAMES) + 2)]
    for row in table["per_threshold"]:
        vals = ["nan" if row[n] is None else f"{row[n]:.2f}" for n in STAT_NAMES]
        lines.append(f"| {row['name']} | {row['threshold']:.2f} | " + " | ".join(vals) + " |")
    m = out["metrics"]
    lines.append("")
    lines.append(", ".join(f"{k} = {v:.2f}" for k, v in m.items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Score-aware COCO AP (SIOD AP@S).")
    ap.add_argument("gt_json", help="COCO ground-truth instances file")
    ap.add_argument("results_json", help="COCO results file (a JSON list of detections)")
    ap.add_argument("--iou-type", choices=("bbox", "segm"), default="bbox")
    ap.add_argument("--round-scores", action="store_true", help="round scores to 2 decimals (CenterNet/SIOD parity)")
    ap.add_argument("--max-dets", type=int, default=100, help="detections per image for AP (COCO: 100)")
    ap.add_argument("--output-json", default=None, help="write AP@S and all 12 stats per threshold here")
    ap.add_argument("--plot", default=None, help="save AP versus score threshold as a PNG here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    from pointdet.data.coco_io import CocoFormatError
    from pointdet.evaluation.score_aware import evaluate_score_aware

    try:
        out = evaluate_score_aware(
            args.gt_json,
            args.results_json,
            iou_type=args.iou_type,
            round_scores=args.round_scores,
            max_dets=(1, 10, args.max_dets),
            output_json=args.output_json,
            plot_path=args.plot,
        )
    except (CocoFormatError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
