"""Co-mining's co-generation (pointdet.modeling.comining.co_generation) on constructed dense
predictions, against hand-computed results: threshold, top-k, class-aware NMS, cap, clipping,
class-aware duplicate removal, empty predictions and images without annotations."""
import pytest
import torch
from detectron2.structures import Boxes, Instances

from pointdet.modeling.comining import (
    clip_and_drop_empty,
    co_generate,
    decode_pseudo_boxes,
    drop_annotated_duplicates,
    merge_with_annotations,
)


def add(deltas, anchors):
    """A box transform for hand computation: box = anchor + delta."""
    return anchors + deltas


def _t(rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def _decode(anchors, probs, deltas=None, rank=None, **kw):
    params = dict(score_thresh=0.6, topk_candidates=1000, nms_thresh=0.5, max_per_image=100)
    params.update(kw)
    deltas = deltas if deltas is not None else [torch.zeros_like(a) for a in anchors]
    return decode_pseudo_boxes(anchors, probs, deltas, add, (100, 100), rank_scores=rank, **params)


def _gt(boxes, classes, size=(100, 100)):
    g = Instances(size)
    g.gt_boxes = Boxes(_t(boxes))
    g.gt_classes = torch.tensor(classes, dtype=torch.int64)
    return g


def test_score_threshold_is_strict_and_per_class():
    anchors = [_t([[0, 0, 10, 10], [50, 50, 60, 60], [20, 0, 30, 10]])]
    probs = [torch.tensor([[0.6, 0.61], [0.9, 0.2], [0.59, 0.0]])]  # (R, K=2)
    out = _decode(anchors, probs)
    # kept: (anchor 1, class 0, 0.9) and (anchor 0, class 1, 0.61); 0.6 is not > 0.6
    assert out.scores.tolist() == pytest.approx([0.9, 0.61])
    assert out.pred_classes.tolist() == [0, 1]
    assert out.pred_boxes.tensor.tolist() == [[50, 50, 60, 60], [0, 0, 10, 10]]


def test_deltas_are_decoded_and_levels_pooled():
    anchors = [_t([[0, 0, 10, 10]]), _t([[40, 40, 80, 80]])]
    probs = [torch.tensor([[0.7]]), torch.tensor([[0.8]])]
    deltas = [_t([[1, 2, 3, 4]]), _t([[-1, -1, 1, 1]])]
    out = _decode(anchors, probs, deltas)
    assert out.pred_boxes.tensor.tolist() == [[39, 39, 81, 81], [1, 2, 13, 14]]


def test_topk_per_level_then_class_aware_nms_then_cap():
    # level 0: three candidates; top-2 keeps 0.95 and 0.9
    anchors = [_t([[0, 0, 10, 10], [1, 0, 11, 10], [60, 60, 70, 70]]), _t([[0, 0, 10, 10], [30, 30, 40, 40]])]
    probs = [torch.tensor([[0.95], [0.9], [0.7]]), torch.tensor([[0.65], [0.8]])]
    out = _decode(anchors, probs, topk_candidates=2)
    # level 0: [0,0,10,10] 0.95 and [1,0,11,10] 0.9 (IoU 90/110 = 0.82 > 0.5: suppressed);
    # level 1: [30,30,40,40] 0.8 and [0,0,10,10] 0.65 (IoU 1 with the 0.95 box: suppressed)
    assert out.scores.tolist() == pytest.approx([0.95, 0.8])
    assert out.pred_boxes.tensor.tolist() == [[0, 0, 10, 10], [30, 30, 40, 40]]
    # NMS is per class: the same boxes as two classes both survive
    two_classes = _decode([_t([[0, 0, 10, 10], [1, 0, 11, 10]])], [torch.tensor([[0.95, 0.0], [0.0, 0.9]])])
    assert two_classes.pred_classes.tolist() == [0, 1] and len(two_classes) == 2
    # IoU 0.82 <= theta1 = 0.9: both kept; the cap keeps the best max_per_image
    loose = _decode([_t([[0, 0, 10, 10], [1, 0, 11, 10]])], [torch.tensor([[0.95], [0.9]])], nms_thresh=0.9)
    assert len(loose) == 2
    capped = _decode([_t([[0, 0, 10, 10], [1, 0, 11, 10]])], [torch.tensor([[0.95], [0.9]])], nms_thresh=0.9, max_per_image=1)
    assert capped.scores.tolist() == pytest.approx([0.95])


def test_rank_scores_order_candidates_but_tau_acts_on_probability():
    """FCOS: tau on the raw class probability; top-k, NMS and scores on sqrt(cls x ctr)."""
    anchors = [_t([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]])]
    probs = [torch.tensor([[0.9], [0.7], [0.5]])]
    rank = [torch.tensor([[0.3], [0.8], [0.99]])]  # the third fails tau whatever its rank
    out = _decode(anchors, probs, rank=rank, topk_candidates=1)
    assert out.pred_boxes.tensor.tolist() == [[50, 50, 60, 60]] and out.scores.tolist() == pytest.approx([0.8])
    assert len(_decode(anchors, probs, rank=rank)) == 2


def test_empty_predictions():
    out = _decode([_t([[0, 0, 10, 10]])], [torch.tensor([[0.1, 0.2]])])
    assert len(out) == 0 and out.pred_boxes.tensor.shape == (0, 4) and out.pred_classes.dtype == torch.int64
    no_anchors = _decode([torch.zeros((0, 4))], [torch.zeros((0, 3))])
    assert len(no_anchors) == 0
    g = _gt([[0, 0, 10, 10]], [0])
    assert len(drop_annotated_duplicates(clip_and_drop_empty(out), g.gt_boxes, g.gt_classes, 0.4)) == 0
    merged = merge_with_annotations(g, out)
    assert merged.gt_boxes.tensor.tolist() == [[0, 0, 10, 10]] and merged.gt_pseudo.tolist() == [False]


def test_clipping_to_the_image_and_dropping_empty_boxes():
    p = Instances((20, 10))  # H 20, W 10
    p.pred_boxes = Boxes(_t([[-5, 2, 8, 30], [12, 0, 15, 5], [1, 1, 3, 3]]))
    p.scores = torch.tensor([0.9, 0.8, 0.7])
    p.pred_classes = torch.tensor([0, 1, 0])
    out = clip_and_drop_empty(p)
    # [12, 0, 15, 5] lies right of the image: clipped to [10, 0, 10, 5], no area, dropped
    assert out.pred_boxes.tensor.tolist() == [[0, 2, 8, 20], [1, 1, 3, 3]]
    assert out.scores.tolist() == pytest.approx([0.9, 0.7]) and out.pred_classes.tolist() == [0, 0]
    assert p.pred_boxes.tensor[0].tolist() == [-5, 2, 8, 30]  # input unchanged


def test_duplicates_of_annotations_are_removed_class_aware():
    p = Instances((100, 100))
    # IoU with the annotation [0,0,10,10] of class 0: 1.0, 0.4 (40/100), 0.5 (50/100), 1.0 (class 1)
    p.pred_boxes = Boxes(_t([[0, 0, 10, 10], [0, 0, 10, 4], [0, 0, 10, 5], [0, 0, 10, 10], [50, 50, 60, 60]]))
    p.scores = torch.tensor([0.9, 0.9, 0.9, 0.9, 0.9])
    p.pred_classes = torch.tensor([0, 0, 0, 1, 0])
    g = _gt([[0, 0, 10, 10]], [0])
    kept = drop_annotated_duplicates(p, g.gt_boxes, g.gt_classes, iou_thresh=0.4)
    # dropped: IoU 1.0 and 0.5 with the same class; kept: IoU exactly 0.4, the class-1 copy, the far box
    assert kept.pred_boxes.tensor.tolist() == [[0, 0, 10, 4], [0, 0, 10, 10], [50, 50, 60, 60]]
    assert kept.pred_classes.tolist() == [0, 1, 0]
    # an image without annotations keeps every pseudo box
    assert len(drop_annotated_duplicates(p, Boxes(torch.zeros((0, 4))), torch.zeros(0, dtype=torch.int64), 0.4)) == 5


def test_co_generate_chains_the_steps_and_merge_appends_pseudo_boxes():
    anchors = [_t([[0, 0, 10, 10], [40, 40, 60, 60], [90, 90, 110, 110], [1, 0, 11, 10]])]
    probs = [torch.tensor([[0.9], [0.8], [0.7], [0.65]])]
    deltas = [torch.zeros(4, 4)]
    gt = _gt([[0, 0, 10, 10]], [0])
    kw = dict(score_thresh=0.6, topk_candidates=1000, nms_thresh=0.5, max_per_image=100, duplicate_iou_thresh=0.4)
    pseudo = co_generate(anchors, probs, deltas, add, gt, **kw)
    # [0,0,10,10] duplicates the annotation; [1,0,11,10] is suppressed by it in NMS;
    # [90,90,110,110] is clipped to the 100x100 image
    assert pseudo.pred_boxes.tensor.tolist() == [[40, 40, 60, 60], [90, 90, 100, 100]]
    merged = merge_with_annotations(gt, pseudo)
    assert merged.gt_boxes.tensor.tolist() == [[0, 0, 10, 10], [40, 40, 60, 60], [90, 90, 100, 100]]
    assert merged.gt_classes.tolist() == [0, 0, 0] and merged.gt_pseudo.tolist() == [False, True, True]
    assert merged.image_size == (100, 100)
    # an image without annotations: every pseudo box survives, the NMS still applies
    empty = _gt([], [])
    no_ann = co_generate(anchors, probs, deltas, add, empty, **kw)
    assert no_ann.pred_boxes.tensor.tolist() == [[0, 0, 10, 10], [40, 40, 60, 60], [90, 90, 100, 100]]
    assert merge_with_annotations(empty, no_ann).gt_pseudo.tolist() == [True, True, True]
