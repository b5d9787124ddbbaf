"""Label assignment of the multi-class P2PNet localizer (CPR paper Sec. 4.2, item iv).

Every ground-truth point receives up to ``k`` positive predictions by repeated one-to-one
Hungarian matching (``scipy.optimize.linear_sum_assignment``) on the cost

    C[p, g] = cls_weight * (FL_pos(s[p, c_g]) - FL_neg(s[p, c_g])) + dist_weight * |P_p - G_g|_1

with s = sigmoid(class logits), FL_pos(s) = -alpha (1 - s)^gamma log(s) and
FL_neg(s) = -(1 - alpha) s^gamma log(1 - s) (the focal "classification cost" of DETR-style
matchers), and the L1 distance in pixels between the predicted point P_p and the GT point G_g.
Defaults are the reference's: cls_weight 2.0, dist_weight 0.1, alpha 0.25, gamma 2, k 5.
"""
from typing import Tuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

__all__ = ["focal_classification_cost", "point_match_cost", "topk_hungarian_match"]


def focal_classification_cost(
    cls_logits: torch.Tensor,
    gt_classes: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    eps: float = 1e-12,
) -> torch.Tensor:
    """
    Args:
        cls_logits: (P, K) class logits of P predictions.
        gt_classes: (G,) int64 class ids in [0, K).
        alpha, gamma: focal-loss parameters.
        eps: added inside the logarithms.

    Returns:
        (P, G) cost FL_pos(s[p, c_g]) - FL_neg(s[p, c_g]); lower is a better match.
    """
    prob = cls_logits.sigmoid()
    neg_cost = -(1 - prob + eps).log() * (1 - alpha) * prob.pow(gamma)
    pos_cost = -(prob + eps).log() * alpha * (1 - prob).pow(gamma)
    return pos_cost[:, gt_classes] - neg_cost[:, gt_classes]


def point_match_cost(
    cls_logits: torch.Tensor,
    pred_points: torch.Tensor,
    gt_points: torch.Tensor,
    gt_classes: torch.Tensor,
    cls_weight: float = 2.0,
    dist_weight: float = 0.1,
    alpha: float = 0.25,
    gamma: float = 2.0,
) -> torch.Tensor:
    """
    Matching cost between P predictions and G ground-truth points (module docstring).
    Inputs are detached: the cost never carries gradients.

    Args:
        cls_logits: (P, K) logits.
        pred_points: (P, 2) predicted (x, y) in input-image pixels.
        gt_points: (G, 2) GT (x, y) in input-image pixels.
        gt_classes: (G,) int64.
        cls_weight, dist_weight: weights of the focal and the L1 (pixel) terms.

    Returns:
        (P, G) float tensor.
    """
    cls_logits = cls_logits.detach().float()
    pred_points = pred_points.detach().float()
    cls_cost = focal_classification_cost(cls_logits, gt_classes, alpha, gamma)
    dist_cost = torch.cdist(pred_points, gt_points.float(), p=1)
    return cls_weight * cls_cost + dist_weight * dist_cost


def topk_hungarian_match(cost: torch.Tensor, k: int = 5) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    Top-k assignment by repeated Hungarian matching.

    Each round solves a one-to-one assignment between the still unassigned predictions and
    *all* G ground truths (every GT gets one new prediction), then removes the assigned
    predictions. At most ``k`` rounds; a later round is skipped when fewer than G predictions
    remain unassigned. The first round always runs, so with P < G the P predictions are still
    matched (to the G GTs they fit best).

    Args:
        cost: (P, G) matching cost (lower is better).
        k: maximum number of positives per GT.

    Returns:
        pred_idx, gt_idx: int64 tensors of equal length (on ``cost.device``): prediction
        ``pred_idx[i]`` is a positive of GT ``gt_idx[i]``. Grouped by round; each prediction
        appears at most once.
    """
    if cost.dim() != 2:
        raise ValueError(f"cost must be (P, G), got shape {tuple(cost.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    num_preds, num_gts = cost.shape
    device = cost.device
    if num_preds == 0 or num_gts == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty.clone()
    cost_np = cost.detach().float().cpu().numpy()
    if not np.isfinite(cost_np).all():
        raise ValueError("topk_hungarian_match: the cost matrix contains NaN or inf")
    unassigned = np.arange(num_preds)
    pred_out, gt_out = [], []
    for rnd in range(k):
        if rnd > 0 and len(unassigned) < num_gts:
            break
        rows, cols = linear_sum_assignment(cost_np[unassigned])
        chosen = unassigned[rows]
        pred_out.append(chosen)
        gt_out.append(cols)
        unassigned = np.setdiff1d(unassigned, chosen, assume_unique=True)
        if len(unassigned) == 0:
            break
    pred_idx = torch.as_tensor(np.concatenate(pred_out), dtype=torch.long, device=device)
    gt_idx = torch.as_tensor(np.concatenate(gt_out), dtype=torch.long, device=device)
    return pred_idx, gt_idx
