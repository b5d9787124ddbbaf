"""Point NMS: per-class non-maximum suppression of points through fixed-size pseudo boxes.

CPR paper (Sec. 4.2, multi-class P2PNet, "the NMS post-processing for points") and the
reference P2PNet head: every point becomes a ``box_size`` x ``box_size`` box centred on it and
torchvision's class-aware NMS runs on those boxes. For two equal boxes of side ``s`` the IoU
exceeds ``t`` iff their overlap area exceeds ``t * 2 s^2 / (1 + t)``; with s=32, t=0.01 a point is
suppressed by a higher-scoring point of the same class closer than about 31.7 px along an axis
(about 27 px along a diagonal).
"""
import torch
from torchvision.ops import batched_nms

__all__ = ["points_to_pseudo_boxes", "point_nms"]


def points_to_pseudo_boxes(points: torch.Tensor, box_size) -> torch.Tensor:
    """
    Args:
        points: (N, 2) float tensor of (x, y) in pixels.
        box_size: side of the square pseudo box in pixels (a number, or a (w, h) pair).

    Returns:
        (N, 4) boxes in XYXY_ABS pixels centred on the points (Detectron2's continuous
        convention: the centre of [x0, y0, x1, y1] is ((x0 + x1) / 2, (y0 + y1) / 2)).
    """
    if points.dim() != 2 or points.shape[-1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {tuple(points.shape)}")
    if isinstance(box_size, (tuple, list)):
        w, h = float(box_size[0]), float(box_size[1])
    else:
        w = h = float(box_size)
    half = points.new_tensor([w / 2.0, h / 2.0])
    return torch.cat([points - half, points + half], dim=1)


def point_nms(
    points: torch.Tensor,
    scores: torch.Tensor,
    classes: torch.Tensor,
    box_size=32,
    iou_threshold: float = 0.01,
) -> torch.Tensor:
    """
    Per-class NMS on points, via pseudo boxes centred on them.

    Args:
        points: (N, 2) float, (x, y) in pixels.
        scores: (N,) float.
        classes: (N,) int64 class ids; points of different classes never suppress each other.
        box_size: pseudo-box side in pixels (reference: 32 on COCO/DOTA, 16 on SeaPerson).
        iou_threshold: pseudo-box IoU above which the lower-scoring point is dropped
            (reference: 0.01 on COCO, 0.2 on DOTA/SeaPerson).

    Returns:
        (K,) int64 indices of the kept points, sorted by decreasing score.
    """
    if not (points.shape[0] == scores.shape[0] == classes.shape[0]):
        raise ValueError(
            f"point_nms: points {tuple(points.shape)}, scores {tuple(scores.shape)} and "
            f"classes {tuple(classes.shape)} must have the same length"
        )
    boxes = points_to_pseudo_boxes(points.float(), box_size)
    return batched_nms(boxes, scores.float(), classes, iou_threshold)
