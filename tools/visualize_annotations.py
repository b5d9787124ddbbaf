#!/usr/bin/env python
"""Draw a COCO-format annotation file (full, point, click, Keep1 or sparse) on its images.

One PNG per image (``<output-dir>/<image id>_<image stem>.png``): boxes, masks, coarse points
and clicks coloured by category (:mod:`pointdet.utils.visualize_annotations`). ``--gt`` overlays
the full boxes of another file (e.g. the source of a weak file) faintly and dashed.

Example:
  python tools/visualize_annotations.py --input train_coarse_points_s0.json \\
      --image-root datasets/pointdet_demo/trees/images --output-dir vis/ --max-images 8 --gt train.json

Exit status 0 on success, 2 on bad input (one line on stderr naming the file and id).
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402

from pointdet.utils.visualize_annotations import visualize_file  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="COCO-format file to draw")
    p.add_argument("--image-root", required=True, help="folder the images' file_name are relative to")
    p.add_argument("--output-dir", required=True, help="folder of the PNGs (created)")
    p.add_argument("--max-images", type=int, default=None, help="draw only the first N images (default: all)")
    p.add_argument("--gt", default=None, help="full annotation file whose boxes are overlaid faintly")
    p.add_argument("--max-labels", type=int, default=40, help="no class labels on images with more objects (default 40)")
    p.add_argument("--allow-outside-image-root", action="store_true",
                   help="accept file_name values that are absolute or leave --image-root with '..' (refused by default)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    paths = visualize_file(args.input, args.image_root, args.output_dir, args.max_images, args.gt,
                           args.max_labels, allow_outside_image_root=args.allow_outside_image_root)
    print(f"wrote {len(paths)} images to {args.output_dir}")
    return paths


if __name__ == "__main__":
    sys.exit(run_cli(main))
