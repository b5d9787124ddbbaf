"""Simulated center clicks for click supervision (Papadopoulos et al., "Training object class detectors with click supervision", CVPR 2017).

The paper's annotator-error statistics are not available, so the noise model is our
assumption (documented as such): each annotator clicks the box centre plus independent
Gaussian noise with sigma = alpha * box width (x) / height (y), clipped to the box.
With ``num_annotators`` = 2 the two clicks are independent draws, as if two annotators
clicked the same instance (paper section "two clicks").
"""
from collections import OrderedDict
from typing import Any, Dict, Optional

import numpy as np

from .common import (
    add_source,
    build_info,
    default_output_path,
    format_statistics,
    load_source,
    make_rng,
    point_statistics,
    require_bbox,
    split_file,
    to_weak_annotation,
    write_outputs,
)

__all__ = ["center_clicks", "make_center_clicks", "run_center_clicks"]


def center_clicks(boxes: np.ndarray, noise: np.ndarray, alpha: float = 0.1) -> np.ndarray:
    """Clicks = box centre + alpha * (w, h) * noise, clipped to the box.

    Args:
        boxes: (N, 4) [x, y, w, h] in image pixels.
        noise: (N, A, 2) standard normal draws (A annotators).
        alpha: noise std as a fraction of the box side.
    Returns:
        (N, A, 2) clicks [x, y] in continuous image pixels.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    xy, wh = boxes[:, None, :2], boxes[:, None, 2:]
    clicks = xy + wh / 2.0 + alpha * wh * noise
    return np.clip(clicks, xy, xy + wh)


def make_center_clicks(
    coco_dict: Dict[str, Any],
    seed: int = 0,
    alpha: float = 0.1,
    num_annotators: int = 1,
    path: str = "<dict>",
) -> Dict[str, Any]:
    """Replace every annotation's box/mask by ``clicks`` [[x, y]] (or [[x1, y1], [x2, y2]]).

    Pure (``coco_dict`` is not changed). Noise is drawn once as an (N, num_annotators, 2)
    standard normal array in JSON order. ``bbox``/``segmentation``/``area`` move to ``true_*``.
    """
    if num_annotators not in (1, 2):
        raise ValueError(f"num_annotators must be 1 or 2, got {num_annotators!r}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    rng = make_rng(seed)
    anns = coco_dict["annotations"]
    boxes = np.array([require_bbox(a, path) for a in anns], dtype=np.float64).reshape(-1, 4)
    noise = rng.standard_normal((len(anns), num_annotators, 2))
    clicks = center_clicks(boxes, noise, alpha)
    out_anns = [to_weak_annotation(a, clicks=c.tolist()) for a, c in zip(anns, clicks)]
    params = OrderedDict(alpha=alpha, num_annotators=num_annotators, noise_model="box centre + N(0, (alpha*w, alpha*h)), clipped to the box")
    stats = point_statistics(coco_dict, out_anns)
    if len(anns):
        err = np.abs(clicks - (boxes[:, None, :2] + boxes[:, None, 2:] / 2)) / np.maximum(boxes[:, None, 2:], 1e-12)
        stats["mean_abs_error_fraction_of_side"] = [round(float(v), 6) for v in err.reshape(-1, 2).mean(0)]
    info = build_info(coco_dict.get("info"), f"pointdet.clicks{num_annotators}", params, seed, stats)
    return split_file(coco_dict, out_anns, info)


def run_center_clicks(
    input_path: str,
    output_path: Optional[str] = None,
    seed: int = 0,
    image_root: Optional[str] = None,
    alpha: float = 0.1,
    num_annotators: int = 1,
    verbose: bool = True,
    allow_outside_image_root: bool = False,
) -> str:
    """Read ``input_path``, write ``<stem>_clicks{1|2}_s{seed}.json`` (or ``output_path``); return the path."""
    if output_path is None:
        output_path = default_output_path(input_path, f"clicks{num_annotators}_s{seed}")
    coco, source = load_source(input_path, image_root, allow_outside_image_root)
    result = make_center_clicks(coco, seed, alpha, num_annotators, path=input_path)
    add_source(result, source)
    write_outputs([(result, output_path)], input_path)
    if verbose:
        print(format_statistics(result["info"]["statistics"], f"clicks{num_annotators} -> {output_path}"))
    return output_path
