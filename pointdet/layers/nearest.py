"""Nearest annotated point of the same class: one helper for every method that needs it.

* CPR refinement, constraint III (Yu et al. CVPR 2022, Sec. 3.3, Alg. 2): a bag point of
  object j is kept only if a_j is its nearest annotated point of class k_j
  (:func:`nearest_is_self`).
* P2PNet self-refinement (CPR Sec. 4.2): a prediction supports only its nearest same-class
  annotation.
* SAPNet's point-distance guidance and click assignment: distances from proposals or clicks
  to the nearest same-class point.

Distances are Euclidean in the units of the inputs (pixels), computed as
``sqrt(sum((q - r)^2))`` without ``cdist``'s matrix-product shortcut, so equal distances are
exactly equal. Ties go to the lower reference index (``argmin`` returns the first minimum),
as in the reference CPR code.
"""
from typing import Tuple

import torch

__all__ = ["nearest_same_class", "nearest_is_self"]


def nearest_same_class(
    query_xy: torch.Tensor,
    query_cls: torch.Tensor,
    ref_xy: torch.Tensor,
    ref_cls: torch.Tensor,
    chunk_elements: int = 1 << 22,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """For each query, the nearest reference point of the same class.

    Args:
        query_xy: (Q, 2) query points (x, y).
        query_cls: (Q,) int class of each query.
        ref_xy: (N, 2) reference points, e.g. the annotated points of one image.
        ref_cls: (N,) int class of each reference.
        chunk_elements: queries are processed in chunks of about this many (query,
            reference) pairs, bounding memory.
    Returns:
        index: (Q,) int64 index into ``ref_xy`` of the nearest same-class reference (lower
            index on ties); -1 where no reference has the query's class.
        distance: (Q,) distance to it in the inputs' units (dtype of ``query_xy``); inf where
            ``index`` is -1.
    """
    query_xy = query_xy.reshape(-1, 2)
    query_cls = query_cls.reshape(-1).long()
    ref_xy = ref_xy.reshape(-1, 2).to(device=query_xy.device, dtype=query_xy.dtype)
    ref_cls = ref_cls.reshape(-1).long().to(query_xy.device)
    if query_xy.shape[0] != query_cls.shape[0] or ref_xy.shape[0] != ref_cls.shape[0]:
        raise ValueError(
            f"nearest_same_class: query {tuple(query_xy.shape)} / {tuple(query_cls.shape)} and reference "
            f"{tuple(ref_xy.shape)} / {tuple(ref_cls.shape)} lengths differ"
        )
    Q, N = query_xy.shape[0], ref_xy.shape[0]
    index = torch.full((Q,), -1, dtype=torch.long, device=query_xy.device)
    distance = torch.full((Q,), float("inf"), dtype=query_xy.dtype, device=query_xy.device)
    if Q == 0 or N == 0:
        return index, distance
    step = max(1, int(chunk_elements) // N)
    for start in range(0, Q, step):
        sl = slice(start, min(start + step, Q))
        d2 = (query_xy[sl, None, :] - ref_xy[None, :, :]).pow(2).sum(-1)  # (q, N)
        d2 = d2.masked_fill(query_cls[sl, None] != ref_cls[None, :], float("inf"))
        best, idx = d2.min(dim=1)  # first minimum: lower index on ties
        found = torch.isfinite(best)
        index[sl] = torch.where(found, idx, torch.full_like(idx, -1))
        distance[sl] = best.sqrt()
    return index, distance


def nearest_is_self(query_xy: torch.Tensor, owner: torch.Tensor, ref_xy: torch.Tensor, ref_cls: torch.Tensor) -> torch.Tensor:
    """Whether each query's nearest reference of its owner's class is its owner.

    The CPR nearest filter (Alg. 2, constraint III): query = a bag point of object j, owner =
    j, references = the annotated points of the image. Ties go to the lower index, so the
    owner wins iff it is strictly nearer than every same-class reference before it and not
    farther than every one after it.

    Args:
        query_xy: (..., 2) query points.
        owner: (...) int64 index into ``ref_xy`` of each query's owner.
        ref_xy: (N, 2) reference points; ref_cls: (N,) their classes.
    Returns:
        bool tensor of shape ``owner.shape``.
    """
    shape = owner.shape
    owner = owner.reshape(-1).long().to(query_xy.device)
    ref_cls = ref_cls.reshape(-1).long().to(query_xy.device)
    index, _ = nearest_same_class(query_xy.reshape(-1, 2), ref_cls[owner], ref_xy, ref_cls)
    return (index == owner).reshape(shape)
