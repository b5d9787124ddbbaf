"""Point refinement of CPR (Yu et al. CVPR 2022, Sec. 3.3, Algorithm 2), as a pure function.

Given a trained CPRNet's class scores on the bag of each annotated point, keep the bag points
that satisfy the constraints and replace the annotated point by the score-weighted mean of
the kept set B_j^+ (Alg. 2 line 15):

* I   ``s_p > score_threshold`` (delta_1) and ``s_p > relative_score_threshold * S_{a_j,k_j}``
      (delta_2), with s_p = S_{p,k_j};
* II  classify filter: ``argmax_k S_{p,k} == k_j``;
* III class-wise nearest filter: the nearest annotated point of class k_j to p is a_j
      (ties go to the lower index, as the reference; :func:`pointdet.layers.nearest_is_self`);
* p is valid (inside the padded image) and inside the unpadded image (reference), by the
  one inside rule of :mod:`pointdet.layers.image_bounds`.

Every rule is a field of :class:`CPRRefinementParams` (Table 4c ablations). By default a_j is
always in B_j^+ (Alg. 2 line 5); ``always_include_annotated=False`` reproduces the reference
code, where a_j is in B_j^+ only if the bag contains it and it passes the constraints. If no
bag point is kept, or the mean score of the kept bag points is below ``refine_th``
(reference), the annotated point stays.
"""
import math
from dataclasses import asdict, dataclass
from typing import Dict, Tuple

import torch

from pointdet.layers.image_bounds import points_inside_image
from pointdet.layers.nearest import nearest_is_self

__all__ = ["CPRRefinementParams", "refine_points"]


@dataclass(frozen=True)
class CPRRefinementParams:
    """The refinement rules of Algorithm 2, built once and handed to CPRNet and :func:`refine_points`.

    Attributes (paper / reference defaults):
        score_threshold: delta_1, minimum class score of a kept bag point (0.1).
        relative_score_threshold: delta_2, minimum ratio to the annotated point's score (0.5).
        use_classify_filter: constraint II (True).
        use_nearest_filter: constraint III (True).
        restrict_to_image: keep only bag points inside the unpadded image (True, reference).
        always_include_annotated: a_j always in B_j^+ (True, paper Alg. 2 line 5); False = reference.
        refine_th: objects whose mean kept-bag score is below this keep their point (0.1, reference).

    LazyConfig: ``L(CPRRefinementParams)(score_threshold=0.1, ...)``; yacs:
    :meth:`from_config` reads ``cfg.MODEL.CPR.REFINE``.
    """

    score_threshold: float = 0.1
    relative_score_threshold: float = 0.5
    use_classify_filter: bool = True
    use_nearest_filter: bool = True
    restrict_to_image: bool = True
    always_include_annotated: bool = True
    refine_th: float = 0.1

    def __post_init__(self):
        for name in ("score_threshold", "relative_score_threshold", "refine_th"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"CPRRefinementParams.{name} must be a finite number, got {v!r}")

    @classmethod
    def from_config(cls, cfg) -> "CPRRefinementParams":
        r = cfg.MODEL.CPR.REFINE
        return cls(
            score_threshold=r.SCORE_THRESHOLD,
            relative_score_threshold=r.RELATIVE_SCORE_THRESHOLD,
            use_classify_filter=r.CLASSIFY_FILTER,
            use_nearest_filter=r.NEAREST_FILTER,
            restrict_to_image=r.RESTRICT_TO_IMAGE,
            always_include_annotated=r.ALWAYS_INCLUDE_ANNOTATED,
            refine_th=r.REFINE_TH,
        )

    def as_dict(self) -> Dict[str, object]:
        """The rules as a plain dict (for provenance records)."""
        return asdict(self)


def refine_points(
    points: torch.Tensor,
    classes: torch.Tensor,
    bag_pts: torch.Tensor,
    bag_scores: torch.Tensor,
    bag_valid: torch.Tensor,
    annotated_scores: torch.Tensor,
    image_size: Tuple[int, int],
    params: CPRRefinementParams = CPRRefinementParams(),
) -> Dict[str, torch.Tensor]:
    """Refine the annotated points of one image (Algorithm 2).

    All coordinates are in the same frame (CPRNet uses input-image pixels after resize).

    Args:
        points: (N, 2) annotated points a_j (x, y).
        classes: (N,) long class k_j in [0, K).
        bag_pts: (N, U, 2) bag points B_j. With ``params.always_include_annotated`` pass the
            bag without a_j (a_j is added by this function); otherwise pass the bag as sampled
            (the reference's bag ends with a_j).
        bag_scores: (N, U, K) class scores S_p = sigmoid(f_cls(F_p)) of the bag points.
        bag_valid: (N, U) bool, bag points inside the padded image.
        annotated_scores: (N, K) class scores S_{a_j} at the annotated points.
        image_size: (h, w) of the unpadded image, for ``params.restrict_to_image``.
        params: the rules (:class:`CPRRefinementParams`).

    Returns:
        dict with
          ``points`` (N, 2) refined points (a_j where not refined),
          ``scores`` (N,) mean S_{p,k_j} over the kept bag points (0 if none),
          ``refined`` (N,) bool, whether the point changed source (something kept and score >= refine_th),
          ``keep`` (N, U) bool, the kept bag points.
    """
    if not isinstance(params, CPRRefinementParams):
        raise TypeError(f"refine_points: params must be a CPRRefinementParams, got {type(params).__name__}")
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
    keep &= s_p > params.score_threshold  # constraint I (delta_1)
    keep &= s_p > params.relative_score_threshold * s_a[:, None]  # constraint I (delta_2)
    if params.use_classify_filter:  # constraint II
        keep &= bag_scores.argmax(dim=2) == classes[:, None]
    if params.use_nearest_filter:  # constraint III
        owner = torch.arange(N, device=device)[:, None].expand(N, U)
        keep &= nearest_is_self(bag_pts, owner, points.to(bag_pts.dtype), classes)
    if params.restrict_to_image:
        keep &= points_inside_image(bag_pts, (float(image_size[0]), float(image_size[1])))

    wts = s_p * keep.to(s_p.dtype)
    n_kept = keep.sum(dim=1)
    scores = wts.sum(dim=1) / n_kept.clamp(min=1).to(s_p.dtype)
    num = (wts[..., None] * bag_pts).sum(dim=1)  # Alg. 2 line 15, numerator
    den = wts.sum(dim=1)
    if params.always_include_annotated:  # Alg. 2 line 5: B_j^+ <- {a_j}
        num = num + s_a[:, None] * points
        den = den + s_a
    refined_pts = num / (den[:, None] + 1e-8)
    refined = (n_kept > 0) & (scores >= params.refine_th)
    out_pts = torch.where(refined[:, None], refined_pts, points.to(refined_pts.dtype))
    return {"points": out_pts, "scores": scores, "refined": refined, "keep": keep}
