"""Dice loss of mask predictions (V-Net, Milletari et al. 2016, Eq. 1; SOLOv2 Sec. 3.3, Eq. 3).

``L = 1 - 2 sum(p q) / (sum(p^2) + eps + sum(q^2) + eps)`` per instance, the squared-denominator
form used by SOLOv2 (the reference codes add eps = 1e-3 to each sum of squares).
"""
import torch

__all__ = ["dice_loss"]


def dice_loss(probs: torch.Tensor, targets: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Per-instance Dice loss.

    Args:
        probs: (N, H, W) or (N, D) mask probabilities in [0, 1].
        targets: targets of the same shape, in [0, 1].
        eps: added to each sum of squares of the denominator.
    Returns:
        (N,) losses in [0, 1] (not reduced).
    """
    if probs.shape != targets.shape:
        raise ValueError(f"dice_loss: probs {tuple(probs.shape)} and targets {tuple(targets.shape)} differ")
    p = probs.reshape(probs.shape[0], -1)
    q = targets.reshape(targets.shape[0], -1).to(p.dtype)
    a = (p * q).sum(1)
    b = (p * p).sum(1) + eps
    c = (q * q).sum(1) + eps
    return 1 - 2 * a / (b + c)
