"""PGCL: Pixel-level Group Contrastive Learning (SIOD, Li et al. CVPR 2022, Sec. 3.3, Eq. 6).

:func:`pgcl_loss` on one image's dense feature map and class scores. The query of an
annotated instance of class c is the feature at its centre cell; its positives are the
top-m latent positives whose self-predicted class is c plus the primary key k0_c (the
Gaussian-pooled prototype of Eq. 3, with gradient); Z sums over every valid key (all valid
top-m keys and k0 of every annotated class).

Normalisation (``normalization``):

* ``"reference"`` (default, the released code): per query, the mean over its positives of
  -log(exp(q.k / tau) / Z); then the mean over queries.
* ``"paper"`` (Eq. 6): per image, (1/m) sum over queries and their top-m positives plus
  (1/N) sum over queries of the k0 term.
"""
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .splg import class_prototypes, unlabeled_mask

__all__ = ["PGCL_NORMALIZATIONS", "PGCLTerms", "select_latent_positives", "pgcl_loss"]

PGCL_NORMALIZATIONS = ("reference", "paper")


class PGCLTerms(NamedTuple):
    """One image's PGCL terms (Q queries)."""

    loss_sum: torch.Tensor  # scalar: the sum the batch normaliser divides
    num_terms: int  # Q ("reference") or 1 per image with a query ("paper")
    selected: torch.Tensor  # (H, W) bool, the valid top-m cells (the optional loss mask)


def select_latent_positives(scores: torch.Tensor, heatmap: torch.Tensor, top_m: int):
    """Top-m latent positives of one image (Sec. 3.3).

    Args:
        scores: (C, H, W) class probabilities (detached here).
        heatmap: (C, H, W) ground-truth Y; only unlabeled cells are candidates and only the
            classes annotated in the image count.
    Returns:
        index (k,) flat cell indices (k = min(m, H*W)), predicted class (k,), valid (k,) bool
        (max score > 0).
    """
    with torch.no_grad():
        present = heatmap.flatten(1).amax(dim=1) > 0
        s = scores.detach() * present[:, None, None] * unlabeled_mask(heatmap)
        best, cls = s.flatten(1).max(dim=0)
        k = min(int(top_m), best.numel())
        top, index = best.topk(k)
        return index, cls[index], top > 0


def pgcl_loss(
    features: torch.Tensor,
    scores: torch.Tensor,
    heatmap: torch.Tensor,
    centers: torch.Tensor,
    classes: torch.Tensor,
    top_m: int = 128,
    tau: float = 0.07,
    normalization: str = "reference",
) -> PGCLTerms:
    """PGCL terms of one image.

    Args:
        features: (D, H, W) feature map (gradient flows through queries and keys).
        scores: (C, H, W) class probabilities, detached.
        heatmap: (C, H, W) ground-truth Y (before SPLG).
        centers: (Q, 2) long centre cells (x, y) of the annotated instances; classes: (Q,).
        top_m: m; tau: temperature.
    """
    if normalization not in PGCL_NORMALIZATIONS:
        raise ValueError(f"PGCL normalization must be one of {PGCL_NORMALIZATIONS}, got {normalization!r}")
    d, h, w = features.shape
    f = F.normalize(features, dim=0).flatten(1)  # (D, HW)
    index, key_cls, key_valid = select_latent_positives(scores, heatmap, top_m)
    selected = torch.zeros(h * w, dtype=torch.bool, device=features.device)
    selected[index[key_valid]] = True
    selected = selected.view(h, w)
    if len(centers) == 0:
        return PGCLTerms(features.sum() * 0, 0, selected)
    present = torch.nonzero(heatmap.flatten(1).amax(dim=1) > 0).flatten()
    k0 = class_prototypes(features, heatmap)[present]  # (N, D)
    keys = torch.cat([f[:, index].t(), k0], dim=0)  # (k + N, D)
    valid = torch.cat([key_valid, torch.ones(len(present), dtype=torch.bool, device=f.device)])
    key_class = torch.cat([key_cls, present])
    is_k0 = torch.cat([torch.zeros_like(key_valid), torch.ones(len(present), dtype=torch.bool, device=f.device)])

    queries = f[:, centers[:, 1] * w + centers[:, 0]].t()  # (Q, D)
    logits = queries @ keys.t() / tau  # (Q, K)
    logits = logits.masked_fill(~valid[None], float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (key_class[None] == classes[:, None].to(key_class)) & valid[None]  # (Q, K)
    nll = -log_prob.masked_fill(~positive, 0.0)
    if normalization == "reference":
        per_query = nll.sum(dim=1) / positive.sum(dim=1).clamp(min=1)
        return PGCLTerms(per_query.sum(), len(centers), selected)
    topm_term = nll[:, ~is_k0].sum() / max(int(top_m), 1)
    k0_term = nll[:, is_k0].sum() / len(centers)
    return PGCLTerms(topm_term + k0_term, 1, selected)
