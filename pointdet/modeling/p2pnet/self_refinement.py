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
(cpr.md 2.5, constraint III): a prediction never moves two annotations. Crowd annotations are
never refined.
"""
import copy
import math
from collections import OrderedDict, defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

__all__ = ["self_refine_points", "prediction_point", "self_refine_coco"]


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
        # nearest same-class annotation of each prediction (ties: lower index, as argmin)
        masked = torch.where(same, dist, torch.full_like(dist, math.inf))
        nearest = masked.argmin(dim=1)
        support &= torch.nn.functional.one_hot(nearest, G).bool()
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


def self_refine_coco(
    points_dict: Dict[str, Any],
    predictions: Sequence[Dict[str, Any]],
    radius: float = 64.0,
    score_thresh: float = 0.05,
    ann_weight: float = 0.0,
    nearest_filter: bool = True,
    points_file: str = "<points>",
    predictions_file: str = "<predictions>",
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """
    Apply :func:`self_refine_points` to every image of a point-annotation COCO dict.

    Args:
        points_dict: a pointdet point file (annotations with ``point``, no ``bbox``).
        predictions: COCO results list (``image_id``, ``category_id``, ``score`` and ``point``
            or ``bbox``) in original-image pixels, e.g. a localizer's or a pseudo-box detector's
            output on the training images.
        points_file, predictions_file: names used in error messages.
        Other args: as :func:`self_refine_points`.

    Returns:
        (new_dict, statistics). ``new_dict`` is a deep copy whose non-crowd annotations have the
        refined ``point`` and the original one as ``coarse_point`` (annotations that no
        prediction supports keep their point and also get ``coarse_point``).
    """
    out = copy.deepcopy(points_dict)
    image_ids = {img["id"] for img in out["images"]}
    cat_ids = {c["id"] for c in out["categories"]}
    preds_per_image: Dict[Any, List[Dict[str, Any]]] = defaultdict(list)
    for det in predictions:
        iid = det.get("image_id")
        if iid not in image_ids:
            raise ValueError(f"{predictions_file}: prediction for image_id {iid!r} not in {points_file}")
        if det.get("category_id") not in cat_ids:
            raise ValueError(
                f"{predictions_file}: prediction for image_id {iid!r} has unknown category_id "
                f"{det.get('category_id')!r} (categories of {points_file}: {sorted(cat_ids)})"
            )
        preds_per_image[iid].append(det)

    anns_per_image: Dict[Any, List[Dict[str, Any]]] = defaultdict(list)
    for ann in out["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        if "point" not in ann:
            raise ValueError(f"{points_file}: annotation id {ann.get('id')!r} has no 'point'")
        anns_per_image[ann["image_id"]].append(ann)

    num_refined = num_anns = 0
    shifts = []
    for iid, anns in anns_per_image.items():
        dets = preds_per_image.get(iid, [])
        a = torch.tensor([ann["point"] for ann in anns], dtype=torch.float64)
        ac = torch.tensor([ann["category_id"] for ann in anns], dtype=torch.long)
        if dets:
            p = torch.tensor([prediction_point(d, predictions_file) for d in dets], dtype=torch.float64)
            ps = torch.tensor([float(d["score"]) for d in dets], dtype=torch.float64)
            pc = torch.tensor([d["category_id"] for d in dets], dtype=torch.long)
        else:
            p, ps, pc = torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long)
        refined, weight, _ = self_refine_points(
            a, ac, p, ps, pc, radius=radius, score_thresh=score_thresh,
            ann_weight=ann_weight, nearest_filter=nearest_filter,
        )
        for ann, r, w in zip(anns, refined.tolist(), weight.tolist()):
            ann["coarse_point"] = list(ann["point"])
            num_anns += 1
            if w > 0:
                num_refined += 1
                shifts.append(math.hypot(r[0] - ann["point"][0], r[1] - ann["point"][1]))
                ann["point"] = [r[0], r[1]]
    stats = OrderedDict(
        annotations=num_anns,
        refined=num_refined,
        unchanged=num_anns - num_refined,
        mean_shift_px=(sum(shifts) / len(shifts)) if shifts else 0.0,
        predictions=len(predictions),
    )
    return out, stats
