"""Point bags and point-feature sampling (CPR, Yu et al. CVPR 2022, Sec. 3.2, Eq. 1-2).

Pure functions on tensors:

* :func:`circle_bag_offsets` -- the circle offsets of a point bag B_j (Eq. 1), in feature cells.
* :func:`bag_points` -- absolute bag point coordinates around annotated points.
* :func:`sample_point_features` -- bilinear features at image-pixel points.
* :func:`padded_image_sizes` -- per-image padded size in a batched ``ImageList``.
* :func:`class_negative_mask` -- per-class negative cells (Eq. 2).

Coordinates follow pointdet's continuous convention: a feature map with stride ``s`` has
cell ``i`` covering image pixels ``[i*s, (i+1)*s)`` with its centre at ``(i + 0.5) * s``.
(The CPR reference code puts cell ``i`` at ``i*s`` for the bag features; see
``projects/CPR/README.md``, "Differences from the paper".) Whether a point is inside an image
is decided by the one rule of :mod:`pointdet.layers.image_bounds`.
"""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F

from .image_bounds import points_inside_image

__all__ = [
    "circle_bag_offsets",
    "bag_points",
    "sample_point_features",
    "padded_image_sizes",
    "class_negative_mask",
]


def circle_bag_offsets(bag_radius: int = 8, circle_density: int = 8, append_center: bool = True) -> torch.Tensor:
    """Offsets of the points of a bag B_j around its annotated point (paper Eq. 1).

    For r = 1..R (``bag_radius``) the r-th circle holds ``r * u0`` points (u0 =
    ``circle_density``) at radius r and angles ``2*pi*i / (r*u0)``, i = 0..r*u0-1, so the first
    point of circle r is at (r, 0). With ``append_center`` the annotated point itself (offset
    (0, 0)) is appended as the last element, as in the reference code (the paper's B_j has no
    centre).

    Returns:
        Tensor (U, 2) float32 of (dx, dy) offsets in **feature-cell units** (multiply by the
        stride for pixels), U = u0 * R * (R + 1) / 2 (+ 1 with ``append_center``).
    """
    if bag_radius < 1 or circle_density < 1:
        raise ValueError(f"bag_radius ({bag_radius}) and circle_density ({circle_density}) must be >= 1")
    offsets = []
    for r in range(1, bag_radius + 1):
        n = r * circle_density
        angles = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
        offsets.append(torch.stack([r * torch.cos(angles), r * torch.sin(angles)], dim=1))
    if append_center:
        offsets.append(torch.zeros(1, 2, dtype=torch.float64))
    return torch.cat(offsets, dim=0).float()


def bag_points(points: torch.Tensor, offsets: torch.Tensor, stride: float) -> torch.Tensor:
    """Absolute bag points: ``points[:, None] + offsets[None] * stride``.

    Args:
        points: (N, 2) annotated points (x, y) in input-image pixels.
        offsets: (U, 2) offsets in feature cells (:func:`circle_bag_offsets`).
        stride: feature stride in pixels.
    Returns:
        (N, U, 2) bag point coordinates in input-image pixels.
    """
    offsets = offsets.to(device=points.device, dtype=points.dtype)
    return points[:, None, :] + offsets[None, :, :] * float(stride)


def sample_point_features(
    feature: torch.Tensor, points: torch.Tensor, batch_idx: torch.Tensor, stride: float
) -> torch.Tensor:
    """Bilinear features of a feature map at image-pixel points.

    Uses ``grid_sample(align_corners=False, padding_mode="border")``. With the continuous
    convention, image coordinate x maps to feature coordinate x / s measured from the left
    edge of cell 0, i.e. the normalised grid value ``2 * x / (s * W) - 1``; a point at a cell
    centre ``(i + 0.5) * s`` reads exactly that cell.

    Args:
        feature: (B, C, H, W) feature map.
        points: (P, 2) points (x, y) in input-image pixels (padded-image frame).
        batch_idx: (P,) long, image index of each point in [0, B).
        stride: feature stride in pixels.
    Returns:
        (P, C) features, in the dtype of ``feature``.
    """
    B, C, H, W = feature.shape
    P = points.shape[0]
    out = feature.new_zeros((P, C))
    if P == 0:
        return out
    scale = points.new_tensor([2.0 / (float(stride) * W), 2.0 / (float(stride) * H)])
    grid_all = (points * scale - 1.0).to(feature.dtype)
    for b in range(B):
        sel = (batch_idx == b).nonzero(as_tuple=True)[0]
        if sel.numel() == 0:
            continue
        grid = grid_all[sel].view(1, 1, -1, 2)
        sampled = F.grid_sample(feature[b : b + 1], grid, mode="bilinear", padding_mode="border", align_corners=False)
        out[sel] = sampled[0, :, 0, :].t()
    return out


def padded_image_sizes(
    image_sizes: Sequence[Tuple[int, int]], size_divisibility: int, tensor_hw: Tuple[int, int], device=None
) -> torch.Tensor:
    """Per-image padded size (the reference's ``pad_shape``) inside a batched tensor.

    Each image (h, w) is padded up to a multiple of ``size_divisibility`` (no padding when
    it is <= 1), capped by the batch tensor's (H, W).

    Returns:
        (B, 2) float tensor of (padded_h, padded_w).
    """
    d = max(int(size_divisibility), 1)
    out = []
    for h, w in image_sizes:
        ph = min(int(math.ceil(int(h) / d) * d), int(tensor_hw[0]))
        pw = min(int(math.ceil(int(w) / d) * d), int(tensor_hw[1]))
        out.append((ph, pw))
    return torch.tensor(out, dtype=torch.float32, device=device).view(-1, 2)


def class_negative_mask(
    points_per_image: List[torch.Tensor],
    classes_per_image: List[torch.Tensor],
    feature_hw: Tuple[int, int],
    stride: float,
    num_classes: int,
    bag_radius: float,
    valid_sizes_hw: torch.Tensor,
) -> torch.Tensor:
    """Per-class negative cells Neg_k of a feature map (paper Eq. 2, reference class-wise rule).

    Cell (i, j) (row i, column j) has image coordinate ((j + 0.5) * s, (i + 0.5) * s). It is a
    *valid* cell of image b iff that coordinate lies inside ``valid_sizes_hw[b]`` (the padded
    image). For class k it is a negative iff it is valid and its distance to every annotated
    point of class k in that image is >= ``bag_radius * stride``. Classes absent from the
    image: every valid cell is a negative. Points of other classes do not exclude cells.

    Args:
        points_per_image: B tensors (N_b, 2) of annotated points in input-image pixels.
        classes_per_image: B tensors (N_b,) long in [0, K).
        feature_hw: (H, W) of the feature map.
        stride: feature stride in pixels.
        num_classes: K.
        bag_radius: R in feature cells.
        valid_sizes_hw: (B, 2) (height, width) of each image's valid (padded) area.
    Returns:
        (B, H, W, K) bool mask.
    """
    H, W = int(feature_hw[0]), int(feature_hw[1])
    B = len(points_per_image)
    device = valid_sizes_hw.device
    ys = (torch.arange(H, device=device, dtype=torch.float32) + 0.5) * float(stride)
    xs = (torch.arange(W, device=device, dtype=torch.float32) + 0.5) * float(stride)
    cy, cx = torch.meshgrid(ys, xs, indexing="ij")
    centres = torch.stack([cx, cy], dim=-1).view(-1, 2)  # (HW, 2)
    masks = []
    for b in range(B):
        valid = points_inside_image(centres, valid_sizes_hw[b].to(device))  # (HW,)
        pts = points_per_image[b].to(device=device, dtype=torch.float32).view(-1, 2)
        cls = classes_per_image[b].to(device=device).view(-1).long()
        if pts.shape[0] > 0:
            d2 = (centres[:, None, :] - pts[None, :, :]).pow(2).sum(-1)  # (HW, N_b), exact (no cdist mm)
            near = d2 < (float(bag_radius) * float(stride)) ** 2
            onehot = F.one_hot(cls, num_classes).float()  # (N_b, K)
            excluded = (near.float() @ onehot) > 0  # (HW, K)
        else:
            excluded = torch.zeros((H * W, num_classes), dtype=torch.bool, device=device)
        masks.append((valid[:, None] & ~excluded).view(H, W, num_classes))
    if B == 0:
        return torch.zeros((0, H, W, num_classes), dtype=torch.bool, device=device)
    return torch.stack(masks, dim=0)
