"""SPLG: Similarity-based Pseudo Label Generating (SIOD, Li et al. CVPR 2022, Sec. 3.2, Eq. 3-5).

Pure functions on one image's dense feature map, usable on any stride:

* :func:`class_prototypes` -- G_c = l2(sum_yx Y_yxc F^_yx) (Eq. 3), zero for absent classes.
* :func:`splg_pseudo_heatmap` -- the pseudo heat-map Y~ (Eq. 4) on the unlabeled cells.
* :func:`merge_pseudo_heatmap` -- Y_bar = clamp(Y + Y~, 0, 1), the focal-loss target (Eq. 5).
"""
import torch
import torch.nn.functional as F

__all__ = ["class_prototypes", "splg_pseudo_heatmap", "merge_pseudo_heatmap", "unlabeled_mask"]


def unlabeled_mask(heatmap: torch.Tensor) -> torch.Tensor:
    """(H, W) bool: cells outside every annotated instance's Gaussian, whatever the class
    (sum_c Y_yxc == 0). ``heatmap``: (C, H, W) Y."""
    return heatmap.sum(dim=0) == 0


def class_prototypes(features: torch.Tensor, heatmap: torch.Tensor) -> torch.Tensor:
    """Reference-instance feature per class (Eq. 3).

    Args:
        features: (D, H, W) feature map F (normalised per cell here, F^).
        heatmap: (C, H, W) ground-truth heat-map Y.
    Returns:
        (C, D): l2-normalised Gaussian-weighted sums; all-zero rows for classes with no
        annotation in the image. Gradient flows to ``features`` unless it is detached.
    """
    f = F.normalize(features, dim=0)
    pooled = torch.einsum("chw,dhw->cd", heatmap.to(f.dtype), f)
    return F.normalize(pooled, dim=1)  # a zero row stays zero


def splg_pseudo_heatmap(
    features: torch.Tensor,
    heatmap: torch.Tensor,
    sim_threshold: float = 0.6,
    scale: float = 1.0,
    strict: bool = False,
) -> torch.Tensor:
    """Pseudo heat-map Y~ of one image (Eq. 4), computed without gradient.

    For each unlabeled cell (outside every annotated Gaussian), v, c = max / argmax of the
    cosine similarity between F^_yx and the prototypes of the classes annotated in the image;
    Y~[c, y, x] = ``scale`` * v (eta) when v >= ``sim_threshold`` (T_sim; the reference's
    comparison, ``strict=True`` gives the paper's v > T_sim), else 0. Clamped to [0, 1].
    Labeled cells and classes without annotation stay 0.

    Args:
        features: (D, H, W); heatmap: (C, H, W) ground-truth Y.
    Returns:
        (C, H, W) float, values in [0, 1].
    """
    with torch.no_grad():
        pseudo = torch.zeros_like(heatmap, dtype=torch.float32)
        present = heatmap.flatten(1).amax(dim=1) > 0
        if not present.any():
            return pseudo
        f = F.normalize(features.detach().float(), dim=0)
        protos = class_prototypes(f, heatmap.float())
        sim = torch.einsum("cd,dhw->chw", protos, f)
        sim[~present] = float("-inf")  # argmax over C_I only
        v, c = sim.max(dim=0)
        keep = unlabeled_mask(heatmap) & ((v > sim_threshold) if strict else (v >= sim_threshold))
        pseudo.scatter_(0, c[None], (scale * v * keep).clamp(0, 1)[None])
        return pseudo


def merge_pseudo_heatmap(heatmap: torch.Tensor, pseudo: torch.Tensor) -> torch.Tensor:
    """Y_bar = clamp(Y + Y~, 0, 1) (the target of Eq. 5). Shapes (..., C, H, W)."""
    return (heatmap + pseudo).clamp(0, 1)
