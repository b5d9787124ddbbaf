"""Centre heat-maps: CornerNet's Gaussian radius and kernel, drawing, the heat-map focal loss.

Used by CenterNet (Zhou et al. 2019) and by DMiner's class-wise branches (SIOD, Li et al.
CVPR 2022, Sec. 3.1, Eq. 1 and 5):

* :func:`gaussian_radius` -- the radius r such that a box whose corners move by r still has IoU
  >= ``min_overlap`` with the original (CornerNet, Law & Deng ECCV 2018, Sec. 3.2), in the form
  CenterNet's reference uses (the smallest root of three quadratics, each taken as
  ``(b + sqrt(b^2 - 4ac)) / 2``).
* :func:`gaussian_kernel` -- the (2r+1) x (2r+1) kernel exp(-(x^2 + y^2) / (2 sigma^2)) with
  sigma = (2r + 1) / 6, values below ``eps * max`` set to 0.
* :func:`draw_gaussian` -- element-wise max of that kernel into a heat-map at an integer centre.
* :func:`box_heatmap_targets` -- Y (Eq. 1), centre cells, sizes and offsets of boxes on a map of stride s.
* :func:`heatmap_focal_loss` -- the penalty-reduced pixel-wise focal loss (SIOD Eq. 5,
  CornerNet Eq. 1) on logits, with explicit positives and an optional negative mask.
"""
from typing import NamedTuple, Optional

import torch

__all__ = [
    "gaussian_radius",
    "gaussian_kernel",
    "draw_gaussian",
    "heatmap_focal_loss",
    "HeatmapTargets",
    "box_heatmap_targets",
]


def gaussian_radius(height: torch.Tensor, width: torch.Tensor, min_overlap: float = 0.7) -> torch.Tensor:
    """CornerNet radius of boxes of the given sizes (any units; float tensors of one shape).

    Returns the float radius (same shape); callers take ``max(0, int(r))`` as CenterNet does.
    """
    height = torch.as_tensor(height, dtype=torch.float64)
    width = torch.as_tensor(width, dtype=torch.float64)
    hw, area = height + width, height * width
    # both corners inside the ground-truth box
    b1, c1 = hw, area * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + torch.sqrt((b1 * b1 - 4 * c1).clamp(min=0))) / 2
    # both corners outside
    b2, c2 = 2 * hw, (1 - min_overlap) * area
    r2 = (b2 + torch.sqrt((b2 * b2 - 16 * c2).clamp(min=0))) / 2
    # one inside, one outside
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * hw, (min_overlap - 1) * area
    r3 = (b3 + torch.sqrt((b3 * b3 - 4 * a3 * c3).clamp(min=0))) / 2
    return torch.minimum(torch.minimum(r1, r2), r3)


def gaussian_kernel(radius: int, eps: float = torch.finfo(torch.float32).eps) -> torch.Tensor:
    """(2r+1, 2r+1) float32 kernel with peak 1 at the centre, sigma = (2r+1)/6."""
    radius = int(radius)
    sigma = (2 * radius + 1) / 6.0
    d = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * sigma * sigma))
    g[g < eps * g.max()] = 0
    return g.float()


def draw_gaussian(heatmap: torch.Tensor, center_x: int, center_y: int, radius: int) -> torch.Tensor:
    """Max the Gaussian of ``radius`` centred on integer cell (x, y) into ``heatmap`` (H, W), in place.

    Cells of the kernel outside the map are cut off. Returns ``heatmap``.
    """
    h, w = heatmap.shape
    radius = int(radius)
    if not (0 <= center_x < w and 0 <= center_y < h):
        return heatmap
    g = gaussian_kernel(radius).to(heatmap)
    left, right = min(center_x, radius), min(w - center_x, radius + 1)
    top, bottom = min(center_y, radius), min(h - center_y, radius + 1)
    region = heatmap[center_y - top:center_y + bottom, center_x - left:center_x + right]
    patch = g[radius - top:radius + bottom, radius - left:radius + right]
    torch.maximum(region, patch, out=region)
    return heatmap


def heatmap_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    positive: Optional[torch.Tensor] = None,
    negative_mask: Optional[torch.Tensor] = None,
    alpha: float = 2.0,
    beta: float = 4.0,
    clamp_eps: float = 1e-4,
) -> torch.Tensor:
    """Penalty-reduced focal loss on centre heat-maps (SIOD Eq. 5; gamma = ``alpha`` = 2 and
    alpha = ``beta`` = 4 in the paper's notation).

    Args:
        logits: (N, C, H, W) heat-map logits; p = clamp(sigmoid, eps, 1 - eps) as CenterNet.
        target: (N, C, H, W) soft target in [0, 1] (Y, or Y + pseudo labels).
        positive: (N, C, H, W) bool, the positive cells; default ``target == 1``. Pass the
            ground-truth centres to keep soft pseudo values out of the positives.
        negative_mask: (N, C, H, W) or (N, 1, H, W) bool/float; cells where it is 0 add no
            negative term (DMiner's optional PGCL loss mask). Default: all cells.

    Returns:
        scalar: -(sum of positive and negative terms) / max(#positives, 1); with no positive,
        the negative sum alone (CenterNet).
    """
    p = logits.sigmoid().clamp(clamp_eps, 1 - clamp_eps)
    pos = target.eq(1) if positive is None else positive.bool()
    neg_weight = torch.pow(1 - target, beta) * (~pos)
    if negative_mask is not None:
        neg_weight = neg_weight * negative_mask.to(neg_weight.dtype)
    pos_term = (torch.log(p) * torch.pow(1 - p, alpha) * pos).sum()
    neg_term = (torch.log(1 - p) * torch.pow(p, alpha) * neg_weight).sum()
    num_pos = pos.sum()
    if num_pos == 0:
        return -neg_term
    return -(pos_term + neg_term) / num_pos


class HeatmapTargets(NamedTuple):
    """CenterNet targets of one image on a map of stride s (M boxes, C classes)."""

    heatmap: torch.Tensor  # (C, H, W) Y, Gaussian peaks of 1 at the centre cells
    centers: torch.Tensor  # (M, 2) long, centre cell (x, y) = floor(box centre / s)
    sizes: torch.Tensor  # (M, 2) box (w, h) in map cells
    offsets: torch.Tensor  # (M, 2) box centre / s - centre cell, in [0, 1)
    classes: torch.Tensor  # (M,) long
    valid: torch.Tensor  # (M,) bool: positive size and centre inside the map


def box_heatmap_targets(
    boxes: torch.Tensor,
    classes: torch.Tensor,
    num_classes: int,
    height: int,
    width: int,
    stride: float,
    min_overlap: float = 0.7,
) -> HeatmapTargets:
    """Centre heat-map targets (SIOD Eq. 1, CenterNet): per box, the Gaussian of radius
    ``max(0, int(gaussian_radius(ceil(h), ceil(w))))`` (box in map cells) at its centre cell.

    Args:
        boxes: (M, 4) XYXY in input pixels (Detectron2's continuous convention).
        classes: (M,) class indices in [0, num_classes).
        height, width: the map's size in cells; stride: input pixels per cell.
    Boxes with zero width/height or a centre outside the map draw nothing (``valid`` False).
    """
    boxes = boxes.detach().float().reshape(-1, 4)
    device = boxes.device
    heatmap = torch.zeros(num_classes, height, width, device=device)
    b = boxes / stride
    wh = torch.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], dim=1)
    center = torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], dim=1)
    cell = center.floor().long()
    valid = (wh > 0).all(dim=1) & (cell[:, 0] >= 0) & (cell[:, 0] < width) & (cell[:, 1] >= 0) & (cell[:, 1] < height)
    radius = gaussian_radius(wh[:, 1].ceil().cpu(), wh[:, 0].ceil().cpu(), min_overlap).clamp(min=0).long()
    classes = classes.long().reshape(-1).to(device)
    for i in torch.nonzero(valid).flatten().tolist():
        draw_gaussian(heatmap[classes[i]], int(cell[i, 0]), int(cell[i, 1]), int(radius[i]))
    return HeatmapTargets(heatmap, cell, wh, center - cell.float(), classes, valid)
