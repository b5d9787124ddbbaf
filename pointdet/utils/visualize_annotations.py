"""Drawing of COCO-format annotation files (full, point, click, Keep1 or sparse) on their images.

Boxes as rectangles (crowd/ignore dashed), masks as translucent fills, coarse points as dots
and clicks as dots (two clicks of one object joined by a line), coloured by category, with
Detectron2's Visualizer; one PNG per image. A second file's full boxes can be overlaid
faintly and dashed (e.g. the source of a weak file), to judge what was kept or where a point
fell. ``tools/visualize_annotations.py`` is the command line.
"""
import os
from collections import defaultdict
from typing import Any, Dict, List, Optional

import numpy as np

from pointdet.data.coco_io import CocoFormatError, check_outputs_not_inputs, image_file, load_coco_dict
from pointdet.utils.file_io import atomic_write_bytes, remove_stale_temp_files

__all__ = ["read_rgb", "draw_annotations", "visualize_file"]


def read_rgb(path):
    """Read an image as (H, W, 3) uint8 RGB (8/16-bit, grayscale, TIFF and multi-band inputs)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image not found: {path}")
    if path.lower().endswith((".tif", ".tiff")):
        import tifffile

        img = tifffile.imread(path)
    else:
        from PIL import Image

        with Image.open(path) as im:
            img = np.asarray(im.convert("RGB") if im.mode in ("P", "CMYK", "LA", "PA") else im)
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[0] in (1, 3, 4) and img.shape[-1] not in (1, 3, 4):
        img = np.moveaxis(img, 0, -1)  # channel-first TIFF
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    img = img[..., :3]
    if img.dtype != np.uint8:  # stretch 16-bit / float images to the 1st-99th percentile
        f = img.astype(np.float64)
        lo, hi = np.percentile(f, 1), np.percentile(f, 99)
        img = np.clip((f - lo) / max(hi - lo, 1e-12) * 255.0, 0, 255).astype(np.uint8)
    return img


def _full_mask(seg, h, w):
    from pycocotools import mask as mask_utils

    if isinstance(seg, list):
        polys = [p for p in seg if len(p) >= 6]
        if not polys:
            return None
        return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, h, w)))
    rle = mask_utils.frPyObjects(seg, h, w) if isinstance(seg.get("counts"), list) else seg
    return mask_utils.decode(rle)


def draw_annotations(img_rgb, anns, categories, gt_anns=(), show_labels=True):
    """Draw annotations on one image; returns the (H, W, 3) uint8 RGB drawing.

    Args:
        img_rgb: (H, W, 3) uint8 image.
        anns: COCO annotation dicts of this image; any of ``bbox``, ``segmentation``,
            ``point`` [x, y], ``clicks`` [[x, y], ...] is drawn (``true_*`` keys are not).
        categories: the file's ``categories`` list (names and colours by position).
        gt_anns: annotations whose ``bbox`` (or ``true_bbox``) is drawn faintly, dashed.
    """
    from detectron2.utils.colormap import colormap
    from detectron2.utils.visualizer import Visualizer

    h, w = img_rgb.shape[:2]
    palette = colormap(rgb=True, maximum=1)
    color_of = {c["id"]: tuple(palette[i % len(palette)]) for i, c in enumerate(categories)}
    name_of = {c["id"]: c.get("name", str(c["id"])) for c in categories}
    vis = Visualizer(img_rgb)
    radius = max(2.0, 0.006 * float(np.sqrt(h * w)))
    for g in gt_anns:
        b = g.get("bbox", g.get("true_bbox"))
        if b is not None:
            vis.draw_box((b[0], b[1], b[0] + b[2], b[1] + b[3]), alpha=0.45, edge_color=(1.0, 1.0, 1.0), line_style="--")
    for a in anns:
        color = color_of.get(a["category_id"], (1.0, 1.0, 1.0))
        crowd = bool(a.get("iscrowd", 0) or a.get("ignore", 0))
        seg = a.get("segmentation")
        if seg:
            m = _full_mask(seg, h, w)
            if m is not None and m.any():
                vis.draw_binary_mask(m, color=color, alpha=0.3 if crowd else 0.4, area_threshold=0)
        label_xy = None
        if "bbox" in a:
            x, y, bw, bh = a["bbox"]
            vis.draw_box((x, y, x + bw, y + bh), alpha=0.9, edge_color=color, line_style="--" if crowd else "-")
            label_xy = (x, y)
        pts = []
        if "point" in a:
            pts.append(a["point"])
        if "clicks" in a:
            pts.extend(a["clicks"])
        if len(pts) >= 2:
            vis.draw_line([p[0] for p in pts], [p[1] for p in pts], color=color, linestyle="-")
        for p in pts:
            vis.draw_circle(tuple(p), color=(0.0, 0.0, 0.0), radius=radius * 1.5)  # dark rim: visible on any colour
            vis.draw_circle(tuple(p), color=color, radius=radius)
        if label_xy is None and pts:
            label_xy = (pts[0][0], pts[0][1] + 1.5 * radius)
        if show_labels and label_xy is not None:
            text = name_of.get(a["category_id"], str(a["category_id"])) + (" (crowd)" if crowd else "")
            vis.draw_text(text, label_xy, color=color, horizontal_alignment="left",
                          font_size=max(vis._default_font_size * 0.7, 6))
    return vis.get_output().get_image()


def visualize_file(
    input_path: str,
    image_root: str,
    output_dir: str,
    max_images: Optional[int] = None,
    gt_path: Optional[str] = None,
    max_labels: int = 40,
    allow_outside_image_root: bool = False,
) -> List[str]:
    """Write ``<output_dir>/<image id>_<image stem>.png`` for the first ``max_images`` images; return the paths.

    Images with annotations come first (in JSON order), then the empty ones. Before anything
    is drawn, every selected image must exist under ``image_root`` (``file_name`` values that
    leave it are refused unless ``allow_outside_image_root``), be readable and have the size
    the file declares, and no output may be one of the inputs: a bad image raises
    :class:`CocoFormatError` naming the file and image id and writes nothing. Each PNG is
    written atomically; a PNG that cannot be written raises ``OSError``.
    """
    coco = load_coco_dict(input_path)
    by_image = defaultdict(list)
    for a in coco["annotations"]:
        by_image[a["image_id"]].append(a)
    gt_by_image: Dict[Any, list] = defaultdict(list)
    if gt_path:
        for a in load_coco_dict(gt_path)["annotations"]:
            gt_by_image[a["image_id"]].append(a)
    images = [i for i in coco["images"] if by_image[i["id"]]] + [i for i in coco["images"] if not by_image[i["id"]]]
    if max_images is not None:
        images = images[:max_images]

    sources, outputs = [], []
    for img in images:
        f = image_file(image_root, img, input_path, allow_outside_image_root)
        sources.append(f)
        stem = os.path.splitext(os.path.basename(img["file_name"]))[0]
        outputs.append(os.path.join(output_dir, f"{img['id']}_{stem}.png"))
    check_outputs_not_inputs(outputs, [input_path, gt_path] + sources)

    import cv2

    written = []
    for img, src, out_path in zip(images, sources, outputs):
        rgb = read_rgb(src)
        if rgb.shape[:2] != (img["height"], img["width"]):
            raise CocoFormatError(
                f"{input_path}: image id {img['id']} is {rgb.shape[1]}x{rgb.shape[0]} on disk but "
                f"{img['width']}x{img['height']} in the file"
            )
        anns = by_image[img["id"]]
        drawn = draw_annotations(rgb, anns, coco["categories"], gt_by_image.get(img["id"], ()),
                                 show_labels=len(anns) <= max_labels)
        ok, buf = cv2.imencode(".png", np.ascontiguousarray(drawn[:, :, ::-1]))
        if not ok:
            raise OSError(f"could not encode the drawing of image id {img['id']} as PNG")
        remove_stale_temp_files(out_path)
        try:
            atomic_write_bytes(buf.tobytes(), out_path)
        except OSError as e:
            raise OSError(f"could not write {out_path} ({len(written)} of {len(outputs)} images written): {e}") from None
        written.append(out_path)
    return written
