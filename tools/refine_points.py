#!/usr/bin/env python
"""Refine coarse point annotations with a trained CPRNet (CPR Sec. 3.3, Algorithm 2).

Runs the CPRNet of a LazyConfig over every image of a point file (test-time resize of the
config's ``dataloader.test.mapper``, no flip), writes a new point file with the refined
``point`` and the input point kept as ``coarse_point`` (atomically), and prints RSV (paper
Eq. 13) before and after when boxes are known (``true_bbox`` in the point file, or --gt).

Example:
  python tools/refine_points.py --config-file configs/CPR/cprnet_mnv2_fpn_trees.py \
      --weights output/cpr/cprnet_trees/model_final.pth \
      --input datasets/pointdet_demo/trees/annotations/trees_train_coarse_points_s0.json \
      --image-root datasets/pointdet_demo/trees/images \
      --output output/cpr/trees_train_coarse_points_s0_cpr_refined.json --vis-dir output/cpr/vis
  # paper Table 4c ablations: model.use_nearest_filter=False, model.score_threshold=0, ...
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pointdet  # noqa: E402,F401  (registrations)
from pointdet.data.coco_io import CocoFormatError, file_sha256, load_coco_dict  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, help="LazyConfig .py whose `model` is a CPRNet")
    p.add_argument("--weights", required=True, help="trained CPRNet checkpoint (.pth)")
    p.add_argument("--input", required=True, help="coarse point file to refine")
    p.add_argument("--image-root", required=True, help="folder of the images of --input")
    p.add_argument("--output", required=True, help="refined point file to write")
    p.add_argument("--gt", default=None, help="full COCO file (boxes by annotation id) for RSV")
    p.add_argument("--vis-dir", default=None, help="write PNGs of the refinement of the first --vis-max images (annotated green, bag points by score, refined yellow, true boxes cyan when known)")
    p.add_argument("--vis-max", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu / cuda (default: cfg.train.device, else cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="LazyConfig overrides key=value (e.g. model.refine_th=0.2)")
    return p


def load_model(config_file, weights, opts=(), device=None):
    """Instantiate ``cfg.model`` of a LazyConfig, load ``weights``; returns (model, cfg)."""
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import LazyConfig, instantiate

    if not os.path.isfile(config_file):
        raise FileNotFoundError(f"--config-file {config_file} does not exist")
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"--weights {weights} does not exist")
    cfg = LazyConfig.load(config_file)
    cfg = LazyConfig.apply_overrides(cfg, list(opts or []))
    if device is None:
        device = cfg.get("train", {}).get("device", None) or ("cuda" if torch.cuda.is_available() else "cpu")
    model = instantiate(cfg.model).to(device)
    if not hasattr(model, "refine"):
        raise ValueError(f"{config_file}: model is {type(model).__name__}, not a CPRNet (no refine())")
    DetectionCheckpointer(model).load(weights)
    model.eval()
    return model, cfg


def mapper_from_config(cfg, model):
    """Test-mode point mapper with the augmentations / image format of ``cfg.dataloader.test.mapper``."""
    from detectron2.config import instantiate

    from pointdet.engine.refinement import build_refinement_mapper

    augs, fmt = None, getattr(model, "input_format", "RGB")
    test = cfg.get("dataloader", {}).get("test", None)
    mapper_cfg = test.get("mapper", None) if test is not None else None
    if mapper_cfg is not None:
        if "augmentations" in mapper_cfg:
            augs = instantiate(mapper_cfg.augmentations)
        fmt = mapper_cfg.get("image_format", fmt)
    return build_refinement_mapper(augs, fmt)


def true_boxes_by_image(points_path, gt_path=None):
    """{image_id: (M, 4) xyxy true boxes} from ``gt_path``'s ``bbox`` or the point file's
    ``true_bbox`` (empty when neither has boxes): drawn in the refinement PNGs."""
    import numpy as np

    coco = load_coco_dict(gt_path or points_path)
    key = "bbox" if gt_path else "true_bbox"
    boxes = {}
    for a in coco["annotations"]:
        if a.get(key) is not None:
            x, y, w, h = a[key]
            boxes.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
    return {k: np.asarray(v, dtype=np.float64) for k, v in boxes.items()}


def make_visualizer(vis_dir, vis_max, boxes_by_image=None):
    """Callback for :func:`run_point_refinement` saving ``<vis_dir>/<image_id>.png`` (with the
    true boxes of ``boxes_by_image`` when given)."""
    from detectron2.data import detection_utils as utils

    from pointdet.utils.visualize_points import save_point_refinement

    count = [0]

    def callback(x, inst):
        if count[0] >= vis_max:
            return
        count[0] += 1
        img = utils.read_image(x["file_name"], format="RGB")
        save_point_refinement(
            os.path.join(vis_dir, f"{x.get('image_id', count[0])}.png"),
            img,
            inst.coarse_points,
            inst.pred_points,
            bag_points=inst.bag_points if inst.has("bag_points") else None,
            bag_scores=inst.bag_scores if inst.has("bag_scores") else None,
            bag_keep=inst.bag_keep if inst.has("bag_keep") else None,
            boxes=(boxes_by_image or {}).get(x.get("image_id")),
        )

    return callback


def run(args):
    from pointdet.engine.refinement import refine_annotation_file

    model, cfg = load_model(args.config_file, args.weights, args.opts, args.device)
    mapper = mapper_from_config(cfg, model)
    callback = make_visualizer(args.vis_dir, args.vis_max, true_boxes_by_image(args.input, args.gt)) if args.vis_dir else None
    info = {
        "config_file": os.path.basename(args.config_file),
        "config_sha256": file_sha256(args.config_file),
        "config_overrides": list(args.opts or []),
        "weights": os.path.basename(args.weights),
        "weights_sha256": file_sha256(args.weights),
    }
    stats = refine_annotation_file(
        model,
        args.input,
        args.image_root,
        args.output,
        mapper=mapper,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        gt_json=args.gt,
        info=info,
        progress=not args.quiet,
        return_bags=callback is not None,
        callback=callback,
    )
    print(f"CPR refinement -> {args.output}")
    for k, v in stats.items():
        print(f"  {k}: {v}")

    def fmt(v):
        return "n/a (no boxes: give --gt or a file with true_bbox)" if v is None else f"{v:.5f}"

    print(f"RSV before: {fmt(stats['rsv_before'])}")
    print(f"RSV after:  {fmt(stats['rsv_after'])}")
    return stats


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (CocoFormatError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
