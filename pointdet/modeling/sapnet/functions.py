"""SAPNet's selection math as pure tensor functions (Wei et al., CVPR 2024, Sec. 3 and Supp.).

* :func:`point_distance_guidance` -- PDG, Eq. 2-3: the distance score S_dis of each proposal.
* :func:`positive_proposals` -- PPG, Eq. 4: rescaled copies of the PSM box.
* :func:`random_negative_boxes`, :func:`background_negative_valid`, :func:`part_negatives` --
  NPG (Sec. 3.3): background and part negatives with the IoU thresholds T_neg1 / T_neg2.
* :func:`box_mining` -- BMS, Supp. Algorithm 2 (T_min1 / T_min2, top-k candidates).
* :func:`mps_indices` -- the proposals of Multi-mask Proposal Supervision (Sec. 3.4, Eq. 11).

Boxes are XYXY in input-image pixels; points (x, y) in the same pixels. Which choices follow
the paper and which the reference code is listed in projects/SAPNet/README.md.
"""
from typing import Optional, Tuple

import torch
from torchvision.ops import box_area, box_iou

__all__ = [
    "points_in_boxes",
    "point_distance_guidance",
    "scale_boxes",
    "positive_proposals",
    "random_negative_boxes",
    "background_negative_valid",
    "part_negatives",
    "aligned_iou",
    "box_mining",
    "mps_indices",
]


def points_in_boxes(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(..., P) bool: point p strictly inside box (x1 < x < x2 and y1 < y < y2).

    Args:
        points: (P, 2); boxes: (..., 4) XYXY.
    """
    x, y = points[:, 0], points[:, 1]
    b = boxes[..., None, :]
    return (b[..., 0] < x) & (x < b[..., 2]) & (b[..., 1] < y) & (y < b[..., 3])


def point_distance_guidance(
    boxes: torch.Tensor,
    points: torch.Tensor,
    classes: torch.Tensor,
    exponent: float = 0.015,
    distance_power: float = 1.0,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Point distance guidance (Eq. 2-3) for the proposal bags of one image.

    t_mj = 1 when the annotated point p_j of another object of the same class lies inside
    proposal m of object i (the paper's "points of identical categories enclosed within the
    proposals"); W_im = sum_j ||p_i - p_j||^distance_power * t_mj; S_raw = sigmoid(1 / W)
    (1 when W = 0); S_dis = S_raw ** exponent.

    Args:
        boxes: (N, M, 4) the M proposals of each of the N objects.
        points: (N, 2) annotated points; classes: (N,) their classes.
        exponent: d (0.015, Supp. Sec. 8; the reference uses 1/64).
        distance_power: 1 (paper, Euclidean); 0.5 is the reference's square root.
    Returns:
        S_dis (N, M) in (0.5^d, 1], and S_raw (N, M) in (0.5, 1].
    """
    n = points.shape[0]
    inside = points_in_boxes(points, boxes)  # (N, M, N): p_j inside box (i, m)
    same = (classes[:, None] == classes[None, :]) & ~torch.eye(n, dtype=torch.bool, device=points.device)
    dist = (points[:, None, :] - points[None, :, :]).pow(2).sum(-1).sqrt().pow(distance_power)  # (N, N)
    w = (inside & same[:, None, :]).to(points.dtype) * dist[:, None, :]
    w = w.sum(-1)  # (N, M)
    s_raw = torch.where(w > 0, torch.sigmoid(1.0 / w.clamp(min=1e-12)), torch.ones_like(w))
    return s_raw.pow(exponent), s_raw


def scale_boxes(boxes: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Boxes (N, 4) scaled about their centres by (N, F) factors (width and height alike): (N, F, 4)."""
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) / 2
    half = half[:, None, :] * factors[..., None]
    return torch.cat([c[:, None] - half, c[:, None] + half], dim=-1)


def positive_proposals(
    boxes: torch.Tensor,
    s_raw: torch.Tensor,
    num_enlarge: int = 15,
    enlarge_step: float = 0.01,
    num_adaptive: int = 5,
    adaptive_step: float = 0.005,
) -> torch.Tensor:
    """Positive proposal generator (Eq. 4): ``num_enlarge + num_adaptive`` boxes per PSM box.

    The first ``num_enlarge`` are enlarged by 1 + enlarge_step * n (n = 1..num_enlarge); the
    last ``num_adaptive`` depend on the PDG score S_raw of the PSM box: with no same-class
    point inside (S_raw = 1) enlarged by 1 + adaptive_step * n for n = num_enlarge + 1 ..
    num_enlarge + num_adaptive, otherwise shrunk by 1 - (adaptive_step / S_raw) * n for
    n = 1..num_adaptive (the reference's v = 0.005). Coordinates clamped at >= 0.

    Args:
        boxes: (N, 4) PSM boxes; s_raw: (N,) their S_raw.
    Returns:
        (N, num_enlarge + num_adaptive, 4).
    """
    dev, dt = boxes.device, boxes.dtype
    n = boxes.shape[0]
    enlarge = 1 + enlarge_step * torch.arange(1, num_enlarge + 1, device=dev, dtype=dt)
    k = torch.arange(1, num_adaptive + 1, device=dev, dtype=dt)
    grow = 1 + adaptive_step * (k + num_enlarge)
    shrink = 1 - (adaptive_step / s_raw[:, None]) * k[None]
    adaptive = torch.where((s_raw >= 1)[:, None], grow[None].expand(n, -1), shrink)
    factors = torch.cat([enlarge[None].expand(n, -1), adaptive], dim=1)
    return scale_boxes(boxes, factors).clamp(min=0)


def random_negative_boxes(
    image_hw: Tuple[int, int], num: int, generator: Optional[torch.Generator] = None, device="cpu"
) -> torch.Tensor:
    """``num`` random boxes (the reference's NPG sampler): x1 = -0.2 w + 1.2 w U, x2 = x1 + U (1.2 w - x1),
    likewise in y, with independent U ~ Uniform[0, 1). Returns (num, 4)."""
    h, w = float(image_hw[0]), float(image_hw[1])
    u = torch.rand((num, 4), generator=generator).to(device)
    x1 = -0.2 * w + u[:, 0] * 1.2 * w
    y1 = -0.2 * h + u[:, 1] * 1.2 * h
    x2 = x1 + u[:, 2] * (1.2 * w - x1)
    y2 = y1 + u[:, 3] * (1.2 * h - y1)
    return torch.stack([x1, y1, x2, y2], dim=1)


def background_negative_valid(negatives: torch.Tensor, proposals: torch.Tensor, iou_thresh: float = 0.3) -> torch.Tensor:
    """(U,) bool: a background negative is valid when its IoU with every proposal of the image is
    below T_neg1 (0.3). ``proposals`` (K, 4): all the image's proposal boxes."""
    if proposals.shape[0] == 0:
        return torch.ones(negatives.shape[0], dtype=torch.bool, device=negatives.device)
    return box_iou(negatives, proposals).max(dim=1).values < iou_thresh


def part_negatives(
    boxes: torch.Tensor, min_area: float = 64 * 64, scale: float = 0.5, iou_thresh: float = 0.5
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Part negatives: each box larger than ``min_area`` px^2 shrunk about its centre to ``scale`` of
    its width and height, kept when its IoU with the box is below T_neg2 (0.5).

    Args:
        boxes: (N, 4) the top-scoring PSM proposal of each object.
    Returns:
        parts (N, 4) and keep (N,) bool.
    """
    parts = scale_boxes(boxes, torch.full((boxes.shape[0], 1), scale, device=boxes.device, dtype=boxes.dtype))[:, 0]
    keep = (box_area(boxes) > min_area) & (aligned_iou(parts, boxes) < iou_thresh)
    return parts, keep


def aligned_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N,) IoU of box a[i] with box b[i]; a, b: (N, 4) XYXY."""
    lt = torch.max(a[:, :2], b[:, :2])
    rb = torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    union = box_area(a) + box_area(b) - inter
    return inter / union.clamp(min=1e-12)


def box_mining(
    selected: torch.Tensor,
    candidates: torch.Tensor,
    candidate_valid: Optional[torch.Tensor] = None,
    t_min1: float = 0.6,
    t_min2: float = 0.3,
    contain_slack: float = 0.0,
) -> torch.Tensor:
    """Box Mining Strategy (Supp. Algorithm 2), for N objects at once.

    For each candidate j (in order) larger than box_select: iou = IoU(candidate_j, box_select);
    if iou > T_min1: box_prm = (candidate_j + iou * box_select) / (iou + 1), T_min1 = iou,
    count += 1; else if count == 0, box_select lies inside candidate_j (with ``contain_slack``
    px of tolerance) and iou > T_min2: box_prm = (iou * candidate_j + box_select) / (iou + 1),
    T_min2 = iou. box_select stays the selected box throughout.

    Args:
        selected: (N, 4) box_select; candidates: (N, k, 4), the top-k proposals of each bag by
            score; candidate_valid: (N, k) bool or None.
        t_min1, t_min2: thresholds (0.6 / 0.3, Table 5).
        contain_slack: tolerance of the containment test (paper 0; the reference 2 px).
    Returns:
        box_prm (N, 4).
    """
    out = selected.clone()
    n, k = candidates.shape[:2]
    if candidate_valid is None:
        candidate_valid = torch.ones((n, k), dtype=torch.bool, device=selected.device)
    t1 = torch.full((n,), float(t_min1), device=selected.device, dtype=selected.dtype)
    t2 = torch.full((n,), float(t_min2), device=selected.device, dtype=selected.dtype)
    count = torch.zeros(n, dtype=torch.long, device=selected.device)
    sel_area = box_area(selected)
    for j in range(k):
        p = candidates[:, j]
        larger = candidate_valid[:, j] & (box_area(p) > sel_area)
        iou = aligned_iou(p, selected)
        c1 = larger & (iou > t1)
        s = contain_slack
        inside = (
            (p[:, 0] - s <= selected[:, 0])
            & (p[:, 1] - s <= selected[:, 1])
            & (p[:, 2] + s >= selected[:, 2])
            & (p[:, 3] + s >= selected[:, 3])
        )
        c2 = larger & ~c1 & (count == 0) & inside & (iou > t2)
        w = iou[:, None]
        out = torch.where(c1[:, None], (p + w * selected) / (w + 1), out)
        out = torch.where(c2[:, None], (w * p + selected) / (w + 1), out)
        t1 = torch.where(c1, iou, t1)
        t2 = torch.where(c2, iou, t2)
        count = count + c1.long()
    return out


def mps_indices(scores: torch.Tensor, main_index: torch.Tensor, valid: Optional[torch.Tensor] = None, mode: str = "paper") -> torch.Tensor:
    """The auxiliary proposals of Multi-mask Proposal Supervision (Sec. 3.4).

    ``"paper"``: among the proposals other than Mask_prm, ranked by score, the highest, the
    median (rank (v - 1) // 2 of the v others) and the lowest. ``"reference"``: ranks 1, 3
    and 5 of all M proposals sorted by score (Mask_prm not excluded; needs M >= 6).

    Args:
        scores: (N, M) PRM scores of the M proposals of each object.
        main_index: (N,) index of Mask_prm.
        valid: (N, M) bool or None; invalid proposals are never chosen (with fewer than 2 valid
            proposals the paper mode returns -1 entries).
        mode: "paper" or "reference".
    Returns:
        (N, 3) int64 proposal indices (-1 where none).
    """
    n, m = scores.shape
    if valid is None:
        valid = torch.ones_like(scores, dtype=torch.bool)
    if mode == "reference":
        if m < 6:
            raise ValueError(f"mps_indices: the reference ranks 1/3/5 need M >= 6 proposals, got {m}")
        order = torch.argsort(scores.masked_fill(~valid, float("-inf")), dim=1, descending=True)
        out = order[:, [1, 3, 5]].clone()
        out[~torch.gather(valid, 1, out)] = -1
        return out
    if mode != "paper":
        raise ValueError(f"mps_indices: mode must be 'paper' or 'reference', got {mode!r}")
    others = valid.clone()
    others[torch.arange(n, device=scores.device), main_index] = False
    order = torch.argsort(scores.masked_fill(~others, float("-inf")), dim=1, descending=True)
    v = others.sum(1)  # number of candidates
    out = torch.full((n, 3), -1, dtype=torch.long, device=scores.device)
    rows = v > 0
    ranks = torch.stack([torch.zeros_like(v), (v - 1) // 2, v - 1], dim=1).clamp(min=0)
    picked = torch.gather(order, 1, ranks)
    out[rows] = picked[rows]
    return out
