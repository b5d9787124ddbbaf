"""Coarse point annotations: the Rectified Gaussian sampler RG(p; mu, sigma) of CPR (Eq. 11)
and SAPNet's "quasi-center" variant (CPR, Eq. 11 and its coarse-point
annotation protocol; SAPNet's reference implementation).

Per object: the mask (the box when there is none) is rasterised on the pixels that overlap
the box; each pixel gets the Gaussian density at its centre, centred on the box centre
(+ mu * box size) with sigma = 1/4 of the box width/height per axis; Gaussian x mask is
normalised (the *rectified* Gaussian), one pixel is drawn by inverse CDF, a uniform
+-0.5 px jitter turns it into a continuous point inside that pixel, and the point is
clipped to the box. Degenerate objects (box < 2 px, empty mask, box outside the image)
get the box centre.

Differences from the reference sampler (ours; see the README's "Conventions"): the
pixel grid and the Gaussian use Detectron2's continuous convention (pixel centres at +0.5,
box centre at x + w/2), so a sampled point always lies in a pixel of the mask; the
reference returns the pixel's top-left corner, which is 0.5 px up-left on average.
"""
from collections import OrderedDict
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from .common import (
    add_source,
    box_local_mask,
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

__all__ = [
    "rectified_gaussian_weights",
    "sample_pixel",
    "sample_rectified_gaussian_pixel",
    "sample_coarse_point",
    "make_coarse_points",
    "make_quasi_center_points",
    "run_coarse_points",
    "run_quasi_center_points",
]

# Status of each sampled point (counted in the statistics).
SAMPLED, FALLBACK_SMALL_BOX, FALLBACK_EMPTY_MASK, FALLBACK_OUTSIDE = (
    "sampled",
    "fallback_small_box",
    "fallback_empty_mask",
    "fallback_box_outside_image",
)


def rectified_gaussian_weights(
    box: Sequence[float],
    origin: Tuple[int, int],
    shape: Tuple[int, int],
    mask: Optional[np.ndarray] = None,
    mu: Tuple[float, float] = (0.0, 0.0),
    sigma: Tuple[float, float] = (0.25, 0.25),
    center_semi_axes: Optional[Tuple[float, float]] = None,
) -> np.ndarray:
    """Unnormalised RG(p; mu, sigma) = Gauss(p) * Mask(p) on a box-local pixel grid (CPR Eq. 11).

    Args:
        box: [x, y, w, h] in image pixels.
        origin: (x0, y0) integer image coordinates of the grid's top-left pixel.
        shape: (Hl, Wl) of the grid; pixel (c, r) has centre (x0 + c + 0.5, y0 + r + 0.5).
        mask: (Hl, Wl) 0/1 array, or None for the whole grid.
        mu, sigma: mean offset and standard deviation in units of box width (x) / height (y);
            the Gaussian is centred on (x + w/2 + mu_x*w, y + h/2 + mu_y*h) with std (sigma_x*w, sigma_y*h).
        center_semi_axes: (a, b) in pixels: additionally keep only pixel centres inside the
            ellipse centred on the box centre with these semi-axes (SAPNet quasi-center); the
            ellipse is skipped when it would leave no weight (reference behaviour).
    Returns:
        (Hl, Wl) float64 non-negative weights (all zero when the mask is empty).
    """
    x, y, w, h = (float(v) for v in box)
    hl, wl = int(shape[0]), int(shape[1])
    cx, cy = x + w / 2.0, y + h / 2.0
    px = origin[0] + np.arange(wl, dtype=np.float64) + 0.5
    py = origin[1] + np.arange(hl, dtype=np.float64) + 0.5
    gx = np.exp(-0.5 * ((px - cx - mu[0] * w) / (sigma[0] * w)) ** 2)
    gy = np.exp(-0.5 * ((py - cy - mu[1] * h) / (sigma[1] * h)) ** 2)
    weights = gy[:, None] * gx[None, :]  # separable Gaussian, (Hl, Wl)
    if mask is not None:
        weights = weights * (mask > 0)
    if center_semi_axes is not None:
        a, b = center_semi_axes
        if a > 0 and b > 0:
            inside = ((px[None, :] - cx) / a) ** 2 + ((py[:, None] - cy) / b) ** 2 <= 1.0
            w_in = weights * inside
            if w_in.sum() > 0:
                weights = w_in
    return weights


def sample_pixel(weights: np.ndarray, r: float) -> Tuple[int, int]:
    """Inverse-CDF draw of one pixel from non-negative ``weights`` (Hl, Wl), row-major order.

    ``r`` in [0, 1). Returns (row, col) of the first pixel whose cumulative weight exceeds
    ``r * total``; zero-weight pixels are never returned.
    """
    cdf = np.cumsum(weights.ravel())
    total = cdf[-1]
    if not total > 0:
        raise ValueError("sample_pixel: all weights are zero")
    idx = int(np.searchsorted(cdf, r * total, side="right"))
    idx = min(idx, cdf.size - 1)
    while weights.flat[idx] <= 0:  # only reachable through float rounding at the top end
        idx -= 1
    return divmod(idx, weights.shape[1])


def sample_rectified_gaussian_pixel(
    box: Sequence[float],
    origin: Tuple[int, int],
    mask: np.ndarray,
    r: float,
    mu: Tuple[float, float] = (0.0, 0.0),
    sigma: Tuple[float, float] = (0.25, 0.25),
    center_semi_axes: Optional[Tuple[float, float]] = None,
) -> Optional[Tuple[int, int]]:
    """``sample_pixel(rectified_gaussian_weights(...), r)`` without building the weight map.

    The Gaussian is separable, so the row-major inverse CDF splits into a draw of the row
    from the row sums gy[r] * (mask[r] . gx) and a draw of the column inside that row with
    the residual of ``r``: the same pixel as the flat inverse CDF, at the cost of one
    mask-vector product (the weight map of a large object would be an (Hl, Wl) float array).

    Returns:
        (row, col) in the box-local grid, or None when the rectified Gaussian has no mass.
    """
    x, y, w, h = (float(v) for v in box)
    hl, wl = mask.shape
    cx, cy = x + w / 2.0, y + h / 2.0
    px = origin[0] + np.arange(wl, dtype=np.float64) + 0.5
    py = origin[1] + np.arange(hl, dtype=np.float64) + 0.5
    gx = np.exp(-0.5 * ((px - cx - mu[0] * w) / (sigma[0] * w)) ** 2)
    gy = np.exp(-0.5 * ((py - cy - mu[1] * h) / (sigma[1] * h)) ** 2)
    m = (mask > 0).astype(np.float64)  # float @ float uses BLAS (bool/uint8 matmul is ~10x slower)
    r0, c0 = 0, 0  # top-left of the block of the grid that holds the mass
    row_w = gy * (m @ gx)
    if center_semi_axes is not None and center_semi_axes[0] > 0 and center_semi_axes[1] > 0:
        a, b = center_semi_axes
        # only the ellipse's bounding block can be inside: keeps this O(ellipse), not O(box)
        cols = np.nonzero(np.abs(px - cx) <= a)[0]
        rows = np.nonzero(np.abs(py - cy) <= b)[0]
        if cols.size and rows.size:
            rs, cs = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
            inside = ((px[cs][None, :] - cx) / a) ** 2 + ((py[rs][:, None] - cy) / b) ** 2 <= 1.0
            m_in = m[rs, cs] * inside
            row_in = gy[rs] * (m_in @ gx[cs])
            if row_in.sum() > 0:  # the ellipse is skipped when it leaves no mass (reference behaviour)
                m, row_w, gx, gy, r0, c0 = m_in, row_in, gx[cs], gy[rs], rows[0], cols[0]
    cdf = np.cumsum(row_w)
    total = cdf[-1]
    if not total > 0:
        return None
    t = r * total
    row = min(int(np.searchsorted(cdf, t, side="right")), row_w.size - 1)
    while row_w[row] <= 0:  # float rounding at the top end
        row -= 1
    residual = t - (cdf[row - 1] if row > 0 else 0.0)
    col_w = gy[row] * gx * m[row]
    ccdf = np.cumsum(col_w)
    col = min(int(np.searchsorted(ccdf, residual, side="right")), col_w.size - 1)
    while col_w[col] <= 0:
        col -= 1
    return int(row + r0), int(col + c0)


def sample_coarse_point(
    box: Sequence[float],
    mask: Optional[np.ndarray],
    origin: Tuple[int, int],
    uniforms: Sequence[float],
    mu: Tuple[float, float] = (0.0, 0.0),
    sigma: Tuple[float, float] = (0.25, 0.25),
    center_semi_axes: Optional[Tuple[float, float]] = None,
    min_box_size: float = 2.0,
) -> Tuple[float, float, str]:
    """Draw one coarse point for one object.

    Args:
        box: [x, y, w, h] in image pixels.
        mask: (Hl, Wl) box-local mask from :func:`box_local_mask` (None: box covers no image pixel).
        origin: (x0, y0) of the mask grid.
        uniforms: three U[0, 1) numbers: pixel choice, x jitter, y jitter.
        mu, sigma, center_semi_axes: see :func:`rectified_gaussian_weights`.
        min_box_size: boxes with w or h below this (pixels) get the box centre.
    Returns:
        (x, y, status): the point in continuous image pixels, clipped to the box, and one of
        ``sampled`` / ``fallback_small_box`` / ``fallback_empty_mask`` / ``fallback_box_outside_image``.
    """
    x, y, w, h = (float(v) for v in box)
    center = (x + w / 2.0, y + h / 2.0)
    if w < min_box_size or h < min_box_size:
        return center[0], center[1], FALLBACK_SMALL_BOX
    if mask is None:
        return center[0], center[1], FALLBACK_OUTSIDE
    rc = sample_rectified_gaussian_pixel(box, origin, mask, uniforms[0], mu, sigma, center_semi_axes)
    if rc is None:
        return center[0], center[1], FALLBACK_EMPTY_MASK
    row, col = rc
    # pixel (col, row) is [col, col+1) x [row, row+1): centre + U(-0.5, 0.5) jitter
    px = origin[0] + col + 0.5 + (uniforms[1] - 0.5)
    py = origin[1] + row + 0.5 + (uniforms[2] - 0.5)
    # clipping to the box keeps the point in its pixel: the pixel overlaps the box
    px = min(max(px, x), x + w)
    py = min(max(py, y), y + h)
    return float(px), float(py), SAMPLED


def make_coarse_points(
    coco_dict: Dict[str, Any],
    seed: int = 0,
    mu: Tuple[float, float] = (0.0, 0.0),
    sigma: Tuple[float, float] = (0.25, 0.25),
    quasi_center: bool = False,
    center_semi_axis_ratio: float = 0.125,
    center_max_semi_axis: float = 96.0,
    min_box_size: float = 2.0,
    use_masks: bool = True,
    progress: bool = False,
    path: str = "<dict>",
) -> Dict[str, Any]:
    """Replace every annotation's box/mask by one coarse point (pure: ``coco_dict`` is not changed).

    Args:
        coco_dict: a validated COCO instances dict with ``bbox`` on every annotation.
        seed: seed of the numpy Generator; three U[0, 1) numbers are drawn per annotation in
            JSON order (whether or not it falls back), so each point depends only on the seed
            and its position in the file.
        mu, sigma: RG(p; mu, sigma) parameters in units of box w/h (CPR: mu = 0, sigma = 1/4).
        quasi_center: SAPNet's variant: also restrict to the central ellipse with semi-axes
            min(center_max_semi_axis, center_semi_axis_ratio * w|h) (SAPNet: 0.125 = 0.25/2, 96 px).
        min_box_size: boxes with w or h below this many pixels get the box centre.
        use_masks: sample on ``segmentation`` when present; False: always on the box.
    Returns:
        a COCO dict whose annotations have ``point`` [x, y] (continuous image pixels) and no
        ``bbox``/``segmentation``/``area`` (moved to ``true_*``), with ``info`` holding the
        generator, parameters, seed and statistics.
    """
    rng = make_rng(seed)
    anns = coco_dict["annotations"]
    images = {img["id"]: img for img in coco_dict["images"]}
    uniforms = rng.random((len(anns), 3))
    status_counts = OrderedDict(
        (k, 0) for k in (SAMPLED, FALLBACK_SMALL_BOX, FALLBACK_EMPTY_MASK, FALLBACK_OUTSIDE)
    )
    out_anns = []
    iterator = anns
    if progress:
        from tqdm import tqdm

        iterator = tqdm(anns, desc="quasi-center points" if quasi_center else "coarse points", unit="obj")
    for i, ann in enumerate(iterator):
        box = require_bbox(ann, path)
        x, y, w, h = (float(v) for v in box)
        img = images[ann["image_id"]]
        seg = ann.get("segmentation") if use_masks else None
        if seg is not None and isinstance(seg, list) and len(seg) == 0:
            seg = None  # COCO files without masks sometimes hold an empty list
        if w < min_box_size or h < min_box_size:
            mask, origin = None, (0, 0)
        else:
            mask, origin = box_local_mask(seg, box, (img["height"], img["width"]), ann["id"], path)
        axes = None
        if quasi_center:
            axes = (
                min(center_max_semi_axis, center_semi_axis_ratio * w),
                min(center_max_semi_axis, center_semi_axis_ratio * h),
            )
        px, py, status = sample_coarse_point(box, mask, origin, uniforms[i], mu, sigma, axes, min_box_size)
        status_counts[status] += 1
        out_anns.append(to_weak_annotation(ann, point=[px, py]))
    name = "quasi_center_points" if quasi_center else "coarse_points"
    params = OrderedDict(mu=list(mu), sigma=list(sigma), quasi_center=bool(quasi_center))
    if quasi_center:
        params["center_semi_axis_ratio"] = center_semi_axis_ratio
        params["center_max_semi_axis"] = center_max_semi_axis
    params["min_box_size"] = min_box_size
    params["use_masks"] = bool(use_masks)
    stats = point_statistics(coco_dict, out_anns, status_counts)
    info = build_info(coco_dict.get("info"), f"pointdet.{name}", params, seed, stats)
    return split_file(coco_dict, out_anns, info)


def make_quasi_center_points(coco_dict: Dict[str, Any], seed: int = 0, **kwargs) -> Dict[str, Any]:
    """:func:`make_coarse_points` with SAPNet's quasi-center ellipse (its reference implementation)."""
    return make_coarse_points(coco_dict, seed, quasi_center=True, **kwargs)


def run_coarse_points(
    input_path: str,
    output_path: Optional[str] = None,
    seed: int = 0,
    image_root: Optional[str] = None,
    quasi_center: bool = False,
    verbose: bool = True,
    allow_outside_image_root: bool = False,
    **kwargs,
) -> str:
    """Read ``input_path``, write ``<stem>_coarse_points_s{seed}.json`` (or ``output_path``); return the path."""
    name = "quasi_center_points" if quasi_center else "coarse_points"
    if output_path is None:
        output_path = default_output_path(input_path, f"{name}_s{seed}")
    coco, source = load_source(input_path, image_root, allow_outside_image_root)
    result = make_coarse_points(
        coco, seed, quasi_center=quasi_center, progress=verbose, path=input_path, **kwargs
    )
    add_source(result, source)
    write_outputs([(result, output_path)], input_path)
    if verbose:
        print(format_statistics(result["info"]["statistics"], f"{name} -> {output_path}"))
    return output_path


def run_quasi_center_points(input_path: str, output_path: Optional[str] = None, seed: int = 0, **kwargs) -> str:
    """Read ``input_path``, write ``<stem>_quasi_center_points_s{seed}.json``; return the path."""
    return run_coarse_points(input_path, output_path, seed, quasi_center=True, **kwargs)
