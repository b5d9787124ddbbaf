"""Matrix NMS of SOLOv2 (Wang et al., NeurIPS 2020, Sec. 4.3.1): soft-NMS of masks in one matrix pass.

Each mask's score is decayed by the overlaps with the higher-scoring masks of its class,
compensated by how much those masks were themselves suppressed:

    decay_j = min_{i: s_i > s_j} f(iou_ij) / f(comp_i),   comp_i = max_{k: s_k > s_i} iou_ki

with f(iou) = exp(-sigma * iou^2) (``"gaussian"``; the reference SOLOv2 and mmdet multiply by
sigma, the paper's text divides) or f(iou) = 1 - iou (``"linear"``).
"""
import torch

__all__ = ["MATRIX_NMS_KERNELS", "matrix_nms"]

MATRIX_NMS_KERNELS = ("gaussian", "linear")


def matrix_nms(
    masks: torch.Tensor,
    labels: torch.Tensor,
    scores: torch.Tensor,
    kernel: str = "gaussian",
    sigma: float = 2.0,
    mask_areas: torch.Tensor = None,
) -> torch.Tensor:
    """Decayed scores of N masks (input order).

    Args:
        masks: (N, H, W) or (N, H*W) binary masks (bool or 0/1 float).
        labels: (N,) class ids; only masks of the same class decay each other.
        scores: (N,) scores.
        kernel: ``"gaussian"`` or ``"linear"``.
        sigma: Gaussian kernel parameter (SOLOv2: 2.0).
        mask_areas: (N,) mask areas in pixels; None: summed from ``masks``.
    Returns:
        (N,) decayed scores, ``scores * decay``.
    """
    if kernel not in MATRIX_NMS_KERNELS:
        raise ValueError(f"matrix_nms: kernel must be one of {MATRIX_NMS_KERNELS}, got {kernel!r}")
    n = scores.shape[0]
    if n == 0:
        return scores.clone()
    order = torch.argsort(scores, descending=True)
    flat = masks.reshape(n, -1)[order].float()
    areas = flat.sum(1) if mask_areas is None else mask_areas[order].float()
    inter = flat @ flat.t()
    union = areas[:, None] + areas[None, :] - inter
    iou = (inter / union.clamp(min=1e-6)).triu(diagonal=1)  # iou[i, j], i scored above j
    lab = labels[order]
    same = (lab[:, None] == lab[None, :]).float().triu(diagonal=1)
    decay_iou = iou * same
    comp = decay_iou.max(dim=0).values  # comp_i: the max IoU of i with a higher-scoring mask
    comp = comp[:, None].expand(n, n)
    if kernel == "gaussian":
        ratio = torch.exp(-sigma * (decay_iou**2 - comp**2))
    else:
        ratio = (1 - decay_iou) / (1 - comp).clamp(min=1e-6)
    # pairs that do not decay (j <= i, other class) have decay_iou 0 and must not count:
    ratio = torch.where(same > 0, ratio, torch.ones_like(ratio))
    decay = ratio.min(dim=0).values
    out = torch.empty_like(scores)
    out[order] = scores[order] * decay.to(scores.dtype)
    return out
