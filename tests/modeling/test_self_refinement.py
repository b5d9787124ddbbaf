"""pointdet.modeling.p2pnet.self_refinement: the score-weighted mean of same-class predictions
around each annotated point (CPR Sec. 4.2 "Self-Refinement"), on hand-computed cases."""
import pytest
import torch

from pointdet.modeling.p2pnet.self_refinement import prediction_point, self_refine_points

ANN = torch.tensor([[10.0, 10.0], [100.0, 10.0], [10.0, 10.0]])
ANN_CLS = torch.tensor([0, 0, 1])
PRED = torch.tensor([[14.0, 10.0], [10.0, 16.0], [60.0, 10.0], [12.0, 10.0], [10.0, 10.0], [200.0, 10.0]])
PRED_S = torch.tensor([0.5, 0.25, 0.9, 0.01, 0.4, 0.9])
PRED_CLS = torch.tensor([0, 0, 0, 0, 1, 0])


def test_weighted_mean_hand_values():
    r, w, n = self_refine_points(ANN, ANN_CLS, PRED, PRED_S, PRED_CLS)
    # a0 <- p0 (0.5) and p1 (0.25); p2 is nearer a1; p3 below 0.05; p5 beyond 64 px of a1
    assert r[0].tolist() == pytest.approx([(7 + 2.5) / 0.75, (5 + 4) / 0.75])
    assert r[1].tolist() == pytest.approx([60.0, 10.0])
    assert r[2].tolist() == pytest.approx([10.0, 10.0])  # class-1 prediction only
    assert w.tolist() == pytest.approx([0.75, 0.9, 0.4])
    assert n.tolist() == [2, 1, 1]


def test_options():
    r, _, n = self_refine_points(ANN, ANN_CLS, PRED, PRED_S, PRED_CLS, nearest_filter=False)
    # p2 (50 px from a0) now also supports a0
    assert r[0].tolist() == pytest.approx([63.5 / 1.65, 18.0 / 1.65])
    assert n.tolist() == [3, 1, 1]
    r, _, _ = self_refine_points(ANN, ANN_CLS, PRED, PRED_S, PRED_CLS, ann_weight=1.0)
    assert r[0].tolist() == pytest.approx([19.5 / 1.75, 19.0 / 1.75])
    r, w, _ = self_refine_points(ANN, ANN_CLS, PRED, PRED_S, PRED_CLS, radius=3.0, score_thresh=0.0)
    # only p3 (2 px, score 0.01) supports a0, p4 supports a2; a1 unsupported -> unchanged
    assert r[0].tolist() == pytest.approx([12.0, 10.0])
    assert r[1].tolist() == [100.0, 10.0] and w[1].item() == 0.0


def test_empty_inputs_keep_points():
    r, w, n = self_refine_points(ANN, ANN_CLS, torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    assert r.tolist() == ANN.tolist() and w.tolist() == [0, 0, 0] and n.tolist() == [0, 0, 0]
    r, _, _ = self_refine_points(torch.zeros(0, 2), torch.zeros(0), PRED, PRED_S, PRED_CLS)
    assert r.shape == (0, 2)
    with pytest.raises(ValueError):
        self_refine_points(ANN, ANN_CLS[:2], PRED, PRED_S, PRED_CLS)


def test_prediction_point_bbox_centre():
    assert prediction_point({"point": [3, 4]}) == (3.0, 4.0)
    assert prediction_point({"bbox": [10, 20, 16, 8]}) == (18.0, 24.0)
    with pytest.raises(ValueError, match="image_id 7"):
        prediction_point({"image_id": 7, "score": 1.0})
