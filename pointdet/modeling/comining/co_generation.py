"""Co-generation of pseudo boxes (Co-mining, Wang et al. AAAI 2021, Sec. "Co-Generation",
Algorithm 1 lines 6-13, Eq. 1), as pure functions on one image's dense predictions.

For one view of one image:

1. :func:`decode_pseudo_boxes` -- the detector's test-time decoding with its own thresholds:
   per level, candidates whose raw class probability is > tau (Step 1), the
   ``topk_candidates`` best of them by the ranking score (the class probability; for FCOS
   sqrt(probability x centerness), as FCOS ranks at test time), boxes decoded from the
   anchors; then class-aware NMS at theta1 over all levels (Step 2, torchvision's
   ``batched_nms``) and at most ``max_per_image`` boxes.
2. :func:`clip_and_drop_empty` -- boxes clipped to the image; boxes left without area are
   dropped (a degenerate target would be low-quality matched to arbitrary anchors).
3. :func:`drop_annotated_duplicates` -- a pseudo box is dropped when its IoU with an
   annotated box *of the same class* is > theta2 (Step 3; class-aware as the reference code).
4. :func:`merge_with_annotations` -- C = P^g u Y (Eq. 1): the annotations followed by the
   surviving pseudo boxes, as hard one-hot targets.

:func:`co_generate` chains 1-3. Nothing here keeps gradients: call it under ``torch.no_grad()``
on detached predictions (the paper's Fig. 2: no back-propagation through co-generation).
"""
from typing import Callable, List, Optional, Tuple

import torch
from torch import Tensor
from torchvision.ops import batched_nms

from detectron2.structures import Boxes, Instances, pairwise_iou

__all__ = [
    "decode_pseudo_boxes",
    "clip_and_drop_empty",
    "drop_annotated_duplicates",
    "co_generate",
    "merge_with_annotations",
]


def decode_pseudo_boxes(
    anchors: List[Tensor],
    class_probs: List[Tensor],
    box_deltas: List[Tensor],
    apply_deltas: Callable[[Tensor, Tensor], Tensor],
    image_size: Tuple[int, int],
    *,
    score_thresh: float,
    topk_candidates: int,
    nms_thresh: float,
    max_per_image: int,
    rank_scores: Optional[List[Tensor]] = None,
) -> Instances:
    """Decode one image's dense predictions into pseudo boxes (Steps 1-2).

    Args:
        anchors: per level, (R_l, 4) XYXY anchors (FCOS: the anchor-point boxes).
        class_probs: per level, (R_l, K) sigmoid class probabilities.
        box_deltas: per level, (R_l, 4) regression outputs.
        apply_deltas: ``box2box_transform.apply_deltas(deltas (n, 4), anchors (n, 4)) -> (n, 4)``.
        image_size: (H, W) of the image (the Instances' size).
        score_thresh: tau; a candidate needs class probability > tau.
        topk_candidates: at most this many candidates per level, best ranking score first.
        nms_thresh: theta1 of the class-aware NMS (IoU > theta1 suppresses).
        max_per_image: at most this many boxes (the highest ranking scores after NMS).
        rank_scores: per level, (R_l, K) scores used for top-k, NMS and the output ``scores``;
            None = ``class_probs`` (RetinaNet). FCOS: sqrt(probability x centerness).

    Returns:
        Instances of ``image_size`` with ``pred_boxes`` (Boxes, (P, 4) XYXY px),
        ``scores`` (P,) ranking scores, ``pred_classes`` (P,) int64, sorted by score.
    """
    if rank_scores is None:
        rank_scores = class_probs
    if not (len(anchors) == len(class_probs) == len(box_deltas) == len(rank_scores)):
        raise ValueError("anchors, class_probs, box_deltas and rank_scores need one entry per level")
    all_boxes, all_scores, all_classes = [], [], []
    for anc, prob, delta, rank in zip(anchors, class_probs, box_deltas, rank_scores):
        keep = prob > score_thresh  # (R_l, K)
        idx = keep.nonzero()  # (n, 2): anchor, class
        scores = rank[keep]
        if scores.numel() > topk_candidates:
            scores, top = scores.topk(topk_candidates)
            idx = idx[top]
        all_boxes.append(apply_deltas(delta[idx[:, 0]], anc[idx[:, 0]]).reshape(-1, 4))
        all_scores.append(scores)
        all_classes.append(idx[:, 1])
    device = anchors[0].device if anchors else torch.device("cpu")
    boxes = torch.cat(all_boxes) if all_boxes else torch.zeros((0, 4), device=device)
    scores = torch.cat(all_scores) if all_scores else torch.zeros((0,), device=device)
    classes = torch.cat(all_classes) if all_classes else torch.zeros((0,), dtype=torch.int64, device=device)
    keep = batched_nms(boxes.float(), scores.float(), classes, nms_thresh)[:max_per_image]  # sorted by score
    out = Instances(tuple(image_size))
    out.pred_boxes = Boxes(boxes[keep])
    out.scores = scores[keep]
    out.pred_classes = classes[keep]
    return out


def clip_and_drop_empty(pseudo: Instances) -> Instances:
    """Clip ``pseudo.pred_boxes`` to ``pseudo.image_size`` and drop boxes without area.

    Returns a new Instances (the input is not modified).
    """
    boxes = Boxes(pseudo.pred_boxes.tensor.clone())
    boxes.clip(pseudo.image_size)
    out = pseudo[boxes.nonempty()]
    out.pred_boxes = boxes[boxes.nonempty()]
    return out


def drop_annotated_duplicates(pseudo: Instances, gt_boxes: Boxes, gt_classes: Tensor, iou_thresh: float) -> Instances:
    """Drop pseudo boxes whose IoU with an annotated box of the same class is > theta2 (Step 3).

    Args:
        pseudo: Instances with ``pred_boxes`` (P, 4) and ``pred_classes`` (P,).
        gt_boxes: (G, 4) annotated boxes Y; gt_classes: (G,) their classes.
        iou_thresh: theta2.

    Returns:
        The kept rows of ``pseudo`` (a pseudo box overlapping only annotations of other classes
        is kept).
    """
    if len(pseudo) == 0 or len(gt_boxes) == 0:
        return pseudo
    iou = pairwise_iou(pseudo.pred_boxes, gt_boxes)  # (P, G)
    same_class = pseudo.pred_classes[:, None] == gt_classes[None, :].to(pseudo.pred_classes.device)
    duplicate = ((iou > iou_thresh) & same_class).any(dim=1)
    return pseudo[~duplicate]


@torch.no_grad()
def co_generate(
    anchors: List[Tensor],
    class_probs: List[Tensor],
    box_deltas: List[Tensor],
    apply_deltas: Callable[[Tensor, Tensor], Tensor],
    gt: Instances,
    *,
    score_thresh: float,
    topk_candidates: int,
    nms_thresh: float,
    max_per_image: int,
    duplicate_iou_thresh: float,
    rank_scores: Optional[List[Tensor]] = None,
) -> Instances:
    """The pseudo-label set P^g of one view of one image: :func:`decode_pseudo_boxes`, then
    :func:`clip_and_drop_empty`, then :func:`drop_annotated_duplicates` against ``gt``
    (``gt_boxes``, ``gt_classes``; its ``image_size`` is the clipping size). Arguments as
    those functions'; returns Instances with ``pred_boxes``, ``scores``, ``pred_classes``."""
    pseudo = decode_pseudo_boxes(
        anchors, class_probs, box_deltas, apply_deltas, gt.image_size,
        score_thresh=score_thresh, topk_candidates=topk_candidates, nms_thresh=nms_thresh,
        max_per_image=max_per_image, rank_scores=rank_scores,
    )  # fmt: skip
    pseudo = clip_and_drop_empty(pseudo)
    return drop_annotated_duplicates(pseudo, gt.gt_boxes, gt.gt_classes, duplicate_iou_thresh)


def merge_with_annotations(gt: Instances, pseudo: Instances) -> Instances:
    """C = P^g u Y (Eq. 1): the training targets of the other view.

    Returns:
        Instances of ``gt.image_size`` with ``gt_boxes`` (Boxes, (G + P, 4)), ``gt_classes``
        (G + P,) int64 and ``gt_pseudo`` (G + P,) bool (True for the mined boxes); annotations
        first. Only these fields: what RetinaNet and FCOS read.
    """
    device = gt.gt_boxes.tensor.device
    out = Instances(gt.image_size)
    out.gt_boxes = Boxes(torch.cat([gt.gt_boxes.tensor, pseudo.pred_boxes.tensor.to(device, gt.gt_boxes.tensor.dtype)]))
    out.gt_classes = torch.cat([gt.gt_classes, pseudo.pred_classes.to(device, gt.gt_classes.dtype)])
    out.gt_pseudo = torch.cat(
        [
            torch.zeros(len(gt), dtype=torch.bool, device=device),
            torch.ones(len(pseudo), dtype=torch.bool, device=device),
        ]
    )
    return out
