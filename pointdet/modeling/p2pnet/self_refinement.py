"""Self-refinement of coarse point annotations (CPR paper Sec. 4.2 "Self-Refinement", Table 1 row 3).

The paper's rule in full: "the aforementioned pseudo box strategy is adopted to train a point
localizer. Then, the weighted mean of the points predicted by the localizer works as the new
supervision." (inspired by Label Refinery). It gives no further detail and the reference code
has no implementation, so the association of predictions with annotations is ours
(documented in projects/CPR/README.md):

For annotated point a_j of class c_j in an image, the support set is

    S_j = { predicted point p of class c_j :  score(p) >= score_thresh,
            ||p - a_j||_2 <= radius,
            a_j is the nearest annotated point of class c_j to p (nearest filter) }

and the refined point is the score-weighted mean (with an optional weight w_a for a_j itself)

    a'_j = (w_a a_j + sum_{p in S_j} s_p p) / (w_a + sum_{p in S_j} s_p).

With S_j empty (and w_a = 0) a_j is kept. The nearest filter is the one CPR's refinement uses
(CPR Sec. 3.3, constraint III): a prediction never moves two annotations. Crowd annotations are
never refined. The file-level step (a point file + a results file -> a new point file) is
:class:`pointdet.engine.self_refinement.SelfRefinementProducer`, run by the relabel engine.
"""
from typing import Any, Dict, Tuple

import torch

from pointdet.layers.nearest import nearest_same_class

__all__ = ["self_refine_points", "prediction_point"]


def self_refine_points(
    ann_points: torch.Tensor,
    ann_classes: torch.Tensor,
    pred_points: torch.Tensor,
    pred_scores: torch.Tensor,
    pred_classes: torch.Tensor,
    radius: float = 64.0,
    score_thresh: float = 0.05,
    ann_weight: float = 0.0,
    nearest_filter: bool = True,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Refine the annotated points of one image (rule in the module docstring).

    Args:
        ann_points: (G, 2) annotated (x, y), image pixels.
        ann_classes: (G,) int class ids.
        pred_points: (P, 2) predicted (x, y), same image pixels.
        pred_scores: (P,) scores in [0, 1] (the weights).
        pred_classes: (P,) int class ids (same id space as ``ann_classes``).
        radius: maximum distance (px) of a supporting prediction from the annotated point.
        score_thresh: minimum score of a supporting prediction.
        ann_weight: weight w_a of the annotated point itself in the mean (0: predictions only).
        nearest_filter: a prediction supports only its nearest same-class annotated point.

    Returns:
        refined: (G, 2) refined points (float64 for exact arithmetic on file coordinates).
        weight: (G,) sum of the prediction scores used (0 where nothing supported a_j).
        num_support: (G,) int64, |S_j|.
    """
    a = torch.as_tensor(ann_points, dtype=torch.float64).reshape(-1, 2)
    ac = torch.as_tensor(ann_classes, dtype=torch.long).reshape(-1)
    p = torch.as_tensor(pred_points, dtype=torch.float64).reshape(-1, 2)
    ps = torch.as_tensor(pred_scores, dtype=torch.float64).reshape(-1)
    pc = torch.as_tensor(pred_classes, dtype=torch.long).reshape(-1)
    if a.shape[0] != ac.shape[0] or not (p.shape[0] == ps.shape[0] == pc.shape[0]):
        raise ValueError(
            f"self_refine_points: inconsistent lengths: ann {tuple(a.shape)}/{tuple(ac.shape)}, "
            f"pred {tuple(p.shape)}/{tuple(ps.shape)}/{tuple(pc.shape)}"
        )
    G, P = a.shape[0], p.shape[0]
    if G == 0 or P == 0:
        return a.clone(), a.new_zeros(G), torch.zeros(G, dtype=torch.long)

    dist = torch.cdist(p, a)  # (P, G) Euclidean px
    same = pc[:, None] == ac[None, :]
    support = same & (dist <= radius) & (ps[:, None] >= score_thresh)
    if nearest_filter:
        # a prediction supports only its nearest same-class annotation (ties: lower index)
        nearest, _ = nearest_same_class(p, pc, a, ac)
        support &= nearest[:, None] == torch.arange(G)[None, :]
    w = support.to(torch.float64) * ps[:, None]  # (P, G)
    weight = w.sum(dim=0)  # (G,)
    num = w.t() @ p + ann_weight * a  # (G, 2)
    den = weight + ann_weight
    refined = torch.where(den[:, None] > 0, num / den.clamp(min=1e-12)[:, None], a)
    return refined, weight, support.sum(dim=0)


def prediction_point(det: Dict[str, Any], source: str = "<predictions>") -> Tuple[float, float]:
    """(x, y) of one COCO-style result: its ``point``, else its ``bbox`` centre (x + w/2, y + h/2)."""
    if "point" in det:
        x, y = det["point"]
    elif "bbox" in det:
        bx, by, bw, bh = det["bbox"]
        x, y = bx + bw / 2.0, by + bh / 2.0
    else:
        raise ValueError(
            f"{source}: prediction for image_id {det.get('image_id')!r} has neither 'point' nor 'bbox'"
        )
    return float(x), float(y)
