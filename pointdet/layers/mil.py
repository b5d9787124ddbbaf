"""Multiple-instance-learning bag scores and a probability-space focal term.

CPR (Yu et al. CVPR 2022), Sec. 3.2: the bag score of Eq. 4-6 and the focal loss of Eq. 4 as
the reference code computes it on probabilities (without alpha). Where logits are available,
pointdet uses fvcore's ``sigmoid_focal_loss`` instead.
"""
from typing import Tuple

import torch

__all__ = ["mil_bag_scores", "focal_loss_on_probabilities"]


def mil_bag_scores(
    cls_logits: torch.Tensor, ins_logits: torch.Tensor, valid: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Bag-level class scores of point bags (paper Eq. 5-6).

    S_cls = sigmoid(cls_logits) (sigma_1); S_ins = softmax of ins_logits over the *valid* points
    of each bag, per class (sigma_2); S_B[k] = sum_p S_cls[p, k] * S_ins[p, k].
    A bag without valid points gets S_B = 0 (no NaN) and ``bag_valid`` False.

    Args:
        cls_logits: (M, U, K) classification logits of the U points of M bags.
        ins_logits: (M, U, K) instance-selection logits.
        valid: (M, U) bool, which bag points are valid.
    Returns:
        bag_scores: (M, K) in [0, 1].
        bag_valid: (M,) bool, bags with at least one valid point.
    """
    if cls_logits.shape != ins_logits.shape or cls_logits.shape[:2] != valid.shape:
        raise ValueError(
            f"shape mismatch: cls_logits {tuple(cls_logits.shape)}, ins_logits {tuple(ins_logits.shape)}, "
            f"valid {tuple(valid.shape)}"
        )
    valid = valid.bool()
    vmask = valid[..., None]
    # a huge negative (not -inf) keeps all-invalid bags finite: their softmax is uniform and is zeroed below
    masked = ins_logits.masked_fill(~vmask, torch.finfo(ins_logits.dtype).min)
    s_ins = torch.softmax(masked, dim=1) * vmask.to(ins_logits.dtype)
    s_cls = torch.sigmoid(cls_logits)
    return (s_cls * s_ins).sum(dim=1), valid.any(dim=1)


def focal_loss_on_probabilities(
    p: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, eps: float = 1e-6
) -> torch.Tensor:
    """Element-wise focal loss on probabilities (paper Eq. 4, no alpha).

    ``-|p - q|^gamma * [q * log(p + eps) + (1 - q) * log(1 - p + eps)]``; for binary q this is
    the sigmoid focal loss with ``alpha`` disabled, evaluated on a probability.

    Args:
        p: probabilities, any shape.
        target: q of the same shape, in [0, 1].
    Returns:
        tensor of ``p.shape`` (not reduced).
    """
    target = target.to(p.dtype)
    weight = (p - target).abs().pow(gamma)
    ce = target * torch.log(p + eps) + (1 - target) * torch.log(1 - p + eps)
    return -weight * ce
