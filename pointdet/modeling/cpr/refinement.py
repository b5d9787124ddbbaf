"""Point refinement of CPR (Yu et al. CVPR 2022, Sec. 3.3, Algorithm 2), as a pure function.

Given a trained CPRNet's class scores on the bag of each annotated point, keep the bag points
that satisfy the constraints and replace the annotated point by the score-weighted mean of
the kept set B_j^+ (Alg. 2 line 15):

* I   ``s_p > score_threshold`` (delta_1) and ``s_p > relative_score_threshold * S_{a_j,k_j}``
      (delta_2), with s_p = S_{p,k_j};
* II  classify filter: ``argmax_k S_{p,k} == k_j``;
* III class-wise nearest filter: the nearest annotated point of class k_j to p is a_j
      (ties go to the lower index, as the reference);
* p is valid (inside the padded image) and inside the unpadded image (reference).

Every rule is a switch (Table 4c ablations). By default a_j is always in B_j^+ (Alg. 2 line 5);
``always_include_annotated=False`` reproduces the reference code, where a_j is in B_j^+ only
if the bag contains it and it passes the constraints. If no bag point is kept, or the mean
score of the kept bag points is below ``refine_th`` (reference), the annotated point stays.
"""
from typing import Dict, Tuple

import torch

__all__ = ["refine_points"]


def _nearest_is_self(points: torch.Tensor, classes: torch.Tensor, bag_pts: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """(N, U) bool: for each bag point of object j, whether a_j is its nearest same-class point.

    Ties go to the lower index: a_j wins iff d_j < d_i for every same-class i < j and
    d_j <= d_i for every same-class i > j.
    """
    N, U = bag_pts.shape[:2]
    out = torch.ones((N, U), dtype=torch.bool, device=bag_pts.device)
    idx = torch.arange(N, device=bag_pts.device)
    for start in range(0, N, chunk):
        sl = slice(start, min(start + chunk, N))
        d = (bag_pts[sl, :, None, :] - points[None, None, :, :]).pow(2).sum(-1)  # (n, U, N)
        d_self = d[torch.arange(d.shape[0], device=d.device), :, idx[sl]]  # (n, U)
        same = classes[sl, None] == classes[None, :]  # (n, N)
        lower = idx[None, :] < idx[sl, None]
        higher = idx[None, :] > idx[sl, None]
        beats_lower = (d_self[:, :, None] < d) | ~(same & lower)[:, None, :]
        beats_higher = (d_self[:, :, None] <= d) | ~(same & higher)[:, None, :]
        out[sl] = (beats_lower & beats_higher).all(dim=-1)
    return out


def refine_points(
    points: torch.Tensor,
    classes: torch.Tensor,
    bag_pts: torch.Tensor,
    bag_scores: torch.Tensor,
    bag_valid: torch.Tensor,
    annotated_scores: torch.Tensor,
    image_size: Tuple[int, int],
    *,
    score_threshold: float = 0.1,
    relative_score_threshold: float = 0.5,
    use_classify_filter: bool = True,
    use_nearest_filter: bool = True,
    restrict_to_image: bool = True,
    always_include_annotated: bool = True,
    refine_th: float = 0.1,
) -> Dict[str, torch.Tensor]:
    """Refine the annotated points of one image (Algorithm 2).

    All coordinates are in the same frame (CPRNet uses input-image pixels after resize).

    Args:
        points: (N, 2) annotated points a_j (x, y).
        classes: (N,) long class k_j in [0, K).
        bag_pts: (N, U, 2) bag points B_j. With ``always_include_annotated`` pass the bag
            without a_j (a_j is added by this function); otherwise pass the bag as sampled (the
            reference's bag ends with a_j).
        bag_scores: (N, U, K) class scores S_p = sigmoid(f_cls(F_p)) of the bag points.
        bag_valid: (N, U) bool, bag points inside the padded image.
        annotated_scores: (N, K) class scores S_{a_j} at the annotated points.
        image_size: (h, w) of the unpadded image, for ``restrict_to_image``.
        score_threshold: delta_1 (paper 0.1).
        relative_score_threshold: delta_2 (paper 0.5).
        use_classify_filter: constraint II.
        use_nearest_filter: constraint III.
        restrict_to_image: keep only points in [0, w) x [0, h) of the unpadded image.
        always_include_annotated: a_j always in B_j^+ (paper); False = reference.
        refine_th: objects whose mean kept-bag score is below this keep their point (reference 0.1).

    Returns:
        dict with
          ``points`` (N, 2) refined points (a_j where not refined),
          ``scores`` (N,) mean S_{p,k_j} over the kept bag points (0 if none),
          ``refined`` (N,) bool, whether the point changed source (something kept and score >= refine_th),
          ``keep`` (N, U) bool, the kept bag points.
    """
    N, U = bag_pts.shape[:2]
    device = bag_pts.device
    classes = classes.long().to(device)
    if N == 0:
        return {
            "points": points.clone().view(0, 2),
            "scores": bag_scores.new_zeros((0,)),
            "refined": torch.zeros((0,), dtype=torch.bool, device=device),
            "keep": torch.zeros((0, U), dtype=torch.bool, device=device),
        }
    gather_idx = classes.view(N, 1, 1).expand(N, U, 1)
    s_p = bag_scores.gather(2, gather_idx).squeeze(2)  # (N, U)
    s_a = annotated_scores.gather(1, classes.view(N, 1)).squeeze(1)  # (N,)

    keep = bag_valid.bool().clone()
    keep &= s_p > score_threshold  # constraint I (delta_1)
    keep &= s_p > relative_score_threshold * s_a[:, None]  # constraint I (delta_2)
    if use_classify_filter:  # constraint II
        keep &= bag_scores.argmax(dim=2) == classes[:, None]
    if use_nearest_filter:  # constraint III
        keep &= _nearest_is_self(points.to(bag_pts.dtype), classes, bag_pts)
    if restrict_to_image:
        h, w = float(image_size[0]), float(image_size[1])
        x, y = bag_pts[..., 0], bag_pts[..., 1]
        keep &= (x >= 0) & (y >= 0) & (x < w) & (y < h)

    wts = s_p * keep.to(s_p.dtype)
    n_kept = keep.sum(dim=1)
    scores = wts.sum(dim=1) / n_kept.clamp(min=1).to(s_p.dtype)
    num = (wts[..., None] * bag_pts).sum(dim=1)  # Alg. 2 line 15, numerator
    den = wts.sum(dim=1)
    if always_include_annotated:  # Alg. 2 line 5: B_j^+ <- {a_j}
        num = num + s_a[:, None] * points
        den = den + s_a
    refined_pts = num / (den[:, None] + 1e-8)
    refined = (n_kept > 0) & (scores >= refine_th)
    out_pts = torch.where(refined[:, None], refined_pts, points.to(refined_pts.dtype))
    return {"points": out_pts, "scores": scores, "refined": refined, "keep": keep}
