"""Multiple-instance learning toolkit: bag scores and the MIL / negative losses.

Two-branch MIL (WSDDN-style) as used by CPR (Yu et al. CVPR 2022, Sec. 3.2, Eq. 4-7, 10),
SAPNet's PSM / PRM (Eq. 1, 5-7) and click-supervised proposal-bag MIL:

* :func:`class_scores` -- the class activation sigma_1: ``"sigmoid"`` over K classes, or
  ``"softmax"`` over K + 1 logits whose last column is the background.
* :func:`mil_bag_scores` -- S_cls, S_ins (softmax over the valid instances of each bag), the
  per-instance scores S_cls * S_ins and the bag score S_B = sum over instances (Eq. 5-6).
* :func:`focal_loss_on_probabilities` -- the focal term on probabilities (Eq. 4, no alpha;
  gamma = 0 is the binary cross-entropy).
* :func:`mil_loss` -- per-bag weighted focal (or BCE) loss of bag scores against one-hot
  targets, normalised by the number of bags with weight > 0 unless told otherwise (Eq. 7).
* :func:`negative_loss` -- the negative term -p^gamma log(1 - p) on sigmoid logits, with a
  negative mask and optional weights (CPR Eq. 10, SAPNet Eq. 6-7).
"""
from typing import NamedTuple, Optional, Union

import torch
from fvcore.nn import sigmoid_focal_loss

__all__ = [
    "CLASS_ACTIVATIONS",
    "MILScores",
    "class_scores",
    "mil_bag_scores",
    "focal_loss_on_probabilities",
    "mil_loss",
    "negative_loss",
]

CLASS_ACTIVATIONS = ("sigmoid", "softmax")


class MILScores(NamedTuple):
    """Output of :func:`mil_bag_scores` (M bags of U instances, C score columns)."""

    bag_scores: torch.Tensor  # (M, C) S_B = sum_u instance_scores, in [0, 1]
    bag_valid: torch.Tensor  # (M,) bool, bags with at least one valid instance
    cls_scores: torch.Tensor  # (M, U, C) S_cls
    ins_scores: torch.Tensor  # (M, U, C) S_ins, 0 at invalid instances, sums to 1 over valid ones
    instance_scores: torch.Tensor  # (M, U, C) S_cls * S_ins, each instance's share of S_B


def class_scores(cls_logits: torch.Tensor, activation: str = "sigmoid") -> torch.Tensor:
    """Class activation sigma_1 of MIL heads.

    Args:
        cls_logits: (..., K) logits for ``"sigmoid"``; (..., K + 1) for ``"softmax"``, the last
            column being the background (SAPNet's PSM: 81 columns on COCO).
        activation: ``"sigmoid"`` (independent classes, CPR) or ``"softmax"`` (over the last axis).
    Returns:
        scores of the shape of ``cls_logits`` (the background column is kept).
    """
    if activation == "sigmoid":
        return torch.sigmoid(cls_logits)
    if activation == "softmax":
        return torch.softmax(cls_logits, dim=-1)
    raise ValueError(f"class activation must be one of {CLASS_ACTIVATIONS}, got {activation!r}")


def mil_bag_scores(
    cls_logits: torch.Tensor, ins_logits: torch.Tensor, valid: torch.Tensor, activation: str = "sigmoid"
) -> MILScores:
    """Bag-level class scores of instance bags (CPR Eq. 5-6, SAPNet Eq. 1).

    S_cls = :func:`class_scores` (sigma_1); S_ins = softmax of ``ins_logits`` over the *valid*
    instances of each bag, per column (sigma_2); S_B[c] = sum_u S_cls[u, c] * S_ins[u, c].
    A bag without valid instances gets S_B = 0 (no NaN, finite gradients) and ``bag_valid``
    False.

    Args:
        cls_logits: (M, U, C) classification logits of the U instances (points, proposals) of
            M bags (C = K for sigmoid, K + 1 for softmax).
        ins_logits: (M, U, C) instance-selection logits.
        valid: (M, U) bool, which instances are valid.
        activation: class activation, see :func:`class_scores`.
    Returns:
        :class:`MILScores`.
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
    s_cls = class_scores(cls_logits, activation)
    per_instance = s_cls * s_ins
    return MILScores(per_instance.sum(dim=1), valid.any(dim=1), s_cls, s_ins, per_instance)


def focal_loss_on_probabilities(
    p: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, eps: float = 1e-6
) -> torch.Tensor:
    """Element-wise focal loss on probabilities (CPR Eq. 4, no alpha).

    ``-|p - q|^gamma * [q * log(p + eps) + (1 - q) * log(1 - p + eps)]``; for binary q this is
    the sigmoid focal loss with ``alpha`` disabled, evaluated on a probability; ``gamma = 0``
    is the binary cross-entropy.

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


def mil_loss(
    bag_scores: torch.Tensor,
    targets: torch.Tensor,
    bag_weights: Optional[torch.Tensor] = None,
    normalizer: Optional[Union[float, torch.Tensor]] = None,
    gamma: float = 2.0,
    eps: float = 1e-6,
) -> torch.Tensor:
    """MIL loss of bag scores: ``sum_i w_i sum_c FL(S_B[i, c], q[i, c]) / normalizer`` (CPR Eq. 7).

    Args:
        bag_scores: (M, C) bag scores S_B in [0, 1].
        targets: (M, C) targets q (one-hot of the bag label; with a softmax activation the
            background column is 0).
        bag_weights: (M,) per-bag weights w_i (CPR: 1 for bags with a valid point, else 0;
            SAPNet's PRM: the PSM bag score at the label). None: all 1.
        normalizer: divisor; None: the number of bags with weight > 0, at least 1 (CPR).
        gamma: focal exponent (2; 0 for the binary cross-entropy of SAPNet's PSM).
        eps: epsilon inside the logarithms.
    Returns:
        scalar tensor.
    """
    fl = focal_loss_on_probabilities(bag_scores, targets, gamma=gamma, eps=eps).sum(-1)  # (M,)
    if bag_weights is None:
        bag_weights = torch.ones_like(fl)
    if normalizer is None:
        normalizer = (bag_weights > 0).sum().clamp(min=1).to(fl.dtype)
    return (fl * bag_weights).sum() / normalizer


def negative_loss(
    cls_logits: torch.Tensor,
    negative_mask: torch.Tensor,
    normalizer: Union[float, torch.Tensor] = 1.0,
    gamma: float = 2.0,
    weights: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Negative loss ``sum mask * w * (-p^gamma log(1 - p)) / normalizer``, p = sigmoid(logits).

    CPR Eq. 10 (cells far from every annotated point of class k are negatives of k; normaliser:
    the number of valid bags) and SAPNet's PRM negatives (Eq. 6-7). Computed on logits
    (fvcore's ``sigmoid_focal_loss`` with a zero target, alpha off), without an epsilon.

    Args:
        cls_logits: (..., K) class logits of the negative samples.
        negative_mask: bool, broadcastable to ``cls_logits``: which (sample, class) pairs are
            negatives.
        normalizer: divisor.
        gamma: focal exponent.
        weights: optional weights broadcastable to ``cls_logits`` (e.g. SAPNet's beta).
    Returns:
        scalar tensor.
    """
    fl = sigmoid_focal_loss(cls_logits, torch.zeros_like(cls_logits), alpha=-1, gamma=gamma, reduction="none")
    w = negative_mask if weights is None else negative_mask.to(fl.dtype) * weights
    return (fl * w).sum() / normalizer
