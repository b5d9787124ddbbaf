#!/usr/bin/env python
"""Proposals for click-supervised MIL: selective search (default) or an existing Detectron2
precomputed-proposal file, with objectness O(p) per proposal; writes the per-image Detectron2
pickle and the per-annotation proposal file (progress bar; a killed run resumes).

Example:
  python tools/click_proposals.py --input datasets/pointdet_demo/trees/annotations/trees_train_clicks2_s0.json \
      --image-root datasets/pointdet_demo/trees/images --output output/clickmil/trees_ss.json \
      --max-proposals 300
  # from an RPN dump:  --source detectron2_file --d2-file rpn_proposals.pkl --objectness sigmoid
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="click (or point) COCO file")
    p.add_argument("--image-root", required=True)
    p.add_argument("--output", required=True, help="per-annotation proposal file (.json); the per-image "
                   "Detectron2 pickle goes beside it as .pkl (or --output-pkl)")
    p.add_argument("--output-pkl", default=None)
    p.add_argument("--source", default="selective_search", choices=["selective_search", "detectron2_file"])
    p.add_argument("--mode", default="fast", choices=["fast", "quality"], help="selective search strategy")
    p.add_argument("--max-proposals", type=int, default=2000, help="per image, best-ranked first")
    p.add_argument("--min-side", type=float, default=4.0, help="drop selective-search boxes with a smaller side (px)")
    p.add_argument("--seed", type=int, default=0, help="seeds selective search's ranking noise (reproducible order)")
    p.add_argument("--d2-file", default=None, help="Detectron2 proposal pickle (--source detectron2_file)")
    p.add_argument("--objectness", default="sigmoid", choices=["sigmoid", "rank", "raw"],
                   help="O(p) from a Detectron2 file's scores")
    p.add_argument("--max-per-annotation", type=int, default=None)
    p.add_argument("--no-resume", action="store_true")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from pointdet.modeling.clickmil.proposals import build_proposal_source, make_click_proposals

    if args.source == "selective_search":
        src = build_proposal_source("selective_search", mode=args.mode, max_proposals=args.max_proposals,
                                    min_side=args.min_side, seed=args.seed)
    else:
        if not args.d2_file:
            raise SystemExit("--source detectron2_file needs --d2-file")
        src = build_proposal_source("detectron2_file", d2=args.d2_file, objectness=args.objectness,
                                    max_proposals=args.max_proposals)
    pkl = args.output_pkl or os.path.splitext(args.output)[0] + ".pkl"
    stats = make_click_proposals(args.input, args.image_root, args.output, pkl, src,
                                 max_per_annotation=args.max_per_annotation, resume=not args.no_resume)
    print(f"{stats['images']} images, {stats['proposals_per_image']:.1f} proposals per image, "
          f"{len(stats['images_without_proposals'])} without proposals -> {args.output}, {pkl}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
