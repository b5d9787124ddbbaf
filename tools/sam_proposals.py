#!/usr/bin/env python
"""Prompted-mask proposals for SAPNet: M masks per annotated point, as a proposal file.

Sources: ``--source sam`` (segment-anything with YOUR checkpoint, ``--sam-checkpoint``; prompts:
the point, then the point plus an auxiliary point) or ``--source classical`` (OpenCV flood fill,
a labelled stand-in for demos without SAM weights). Shardable and resumable: run each shard
with ``--shard i/n --no-merge`` (one process per GPU), then once more with ``--merge-only``;
a killed run started again continues where it stopped.

Examples:
  python tools/sam_proposals.py --source sam --sam-checkpoint sam_vit_h_4b8939.pth \\
      --annotations datasets/coco/annotations/instances_train2017_quasi_center_points_s0.json \\
      --image-root datasets/coco/train2017 --output train2017_sam_proposals.json --device cuda
  python tools/sam_proposals.py --source classical \\
      --annotations datasets/pointdet_demo/nuclei/annotations/nuclei_train_coarse_points_s0.json \\
      --image-root datasets/pointdet_demo/nuclei/images --output nuclei_train_classical_proposals.json
"""
import argparse
import logging
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402

from pointdet.sam.generate import build_source, merge_proposal_parts, parse_shard, run_proposal_tool  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--annotations", required=True, help="COCO file whose annotations have a 'point'")
    p.add_argument("--image-root", required=True)
    p.add_argument("--output", required=True, help="proposal file to write")
    p.add_argument("--source", choices=("sam", "classical"), default="sam")
    p.add_argument("--sam-checkpoint", default=None, help="segment-anything checkpoint file (source sam)")
    p.add_argument("--sam-model-type", default="vit_h", choices=("vit_b", "vit_l", "vit_h"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64, help="prompts per mask-decoder call")
    p.add_argument("--second-prompt", choices=("jitter", "none"), default="jitter")
    p.add_argument("--jitter-px", type=float, default=8.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard", default="0/1", help="i/n: this process's share of the images")
    p.add_argument("--parts-dir", default=None, help="per-image parts (default: <output>.parts)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--no-merge", action="store_true", help="only generate this shard's parts")
    g.add_argument("--merge-only", action="store_true", help="only merge the parts of every shard")
    p.add_argument("--num-masks", type=int, default=6, help="M expected by --merge-only (3 with --second-prompt none)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if a.merge_only:
        merge_proposal_parts(a.annotations, a.parts_dir or a.output + ".parts", a.output, a.num_masks)
        return
    source = build_source(a.source, a.sam_checkpoint, a.sam_model_type, a.device, a.batch_size, a.second_prompt,
                          a.jitter_px, a.seed)
    run_proposal_tool(a.annotations, a.image_root, a.output, source, parse_shard(a.shard), a.parts_dir,
                      merge=not a.no_merge, progress=not a.no_progress)


if __name__ == "__main__":
    sys.exit(run_cli(main))
