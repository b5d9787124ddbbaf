#!/usr/bin/env python
"""Proposals per second of the batched SAM prompting vs one predictor call per prompt.

  python tools/benchmark_sam_proposals.py --tiny --points 50                 # random tiny SAM, no weights
  python tools/benchmark_sam_proposals.py --sam-checkpoint sam_vit_h_4b8939.pth --sam-model-type vit_h \\
      --image some.jpg --points 50 --device cuda
"""
import argparse
import json
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="a tiny randomly initialised SAM")
    p.add_argument("--sam-checkpoint", default=None)
    p.add_argument("--sam-model-type", default="vit_h")
    p.add_argument("--image", default=None, help="image file (default: random 480x640)")
    p.add_argument("--points", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    a = p.parse_args(argv)
    import cv2
    import numpy as np

    from pointdet.sam import SAMSource, build_sam_from_checkpoint
    from pointdet.sam.benchmark import benchmark_prompting
    from pointdet.sam.tiny import build_tiny_sam

    sam = build_tiny_sam() if a.tiny else build_sam_from_checkpoint(a.sam_model_type, a.sam_checkpoint)
    source = SAMSource(sam.to(a.device), batch_size=a.batch_size)
    if a.image:
        bgr = cv2.imread(a.image, cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read --image {a.image}")
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    else:
        image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    print(json.dumps(benchmark_prompting(source, image, a.points, a.repeats), indent=1))


if __name__ == "__main__":
    sys.exit(run_cli(main))
