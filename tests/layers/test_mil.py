"""MIL toolkit against hand-computed values: bag scores (CPR Eq. 5-6, sigmoid or softmax over
K+1), per-instance scores, the probability-space focal term (Eq. 4), MIL loss with per-bag
weights (Eq. 7) and the negative loss (Eq. 10)."""
import math

import pytest
import torch

from pointdet.layers.mil import (
    class_scores,
    focal_loss_on_probabilities,
    mil_bag_scores,
    mil_loss,
    negative_loss,
)

L3 = math.log(3.0)


def test_mil_bag_scores_hand_values():
    cls = torch.tensor([[[0.0], [L3]]])  # sigmoid: 0.5, 0.75
    ins = torch.tensor([[[0.0], [L3]]])  # softmax: 0.25, 0.75
    out = mil_bag_scores(cls, ins, torch.tensor([[True, True]]))
    assert torch.allclose(out.bag_scores, torch.tensor([[0.5 * 0.25 + 0.75 * 0.75]]))
    assert out.bag_valid.tolist() == [True]
    assert torch.allclose(out.cls_scores[0, :, 0], torch.tensor([0.5, 0.75]))
    assert torch.allclose(out.ins_scores[0, :, 0], torch.tensor([0.25, 0.75]))
    assert torch.allclose(out.instance_scores[0, :, 0], torch.tensor([0.125, 0.5625]))
    # softmax over valid points only
    out = mil_bag_scores(cls, ins, torch.tensor([[True, False]]))
    assert torch.allclose(out.bag_scores, torch.tensor([[0.5]]))
    assert out.ins_scores[0, :, 0].tolist() == [1.0, 0.0] and out.instance_scores[0, 1, 0].item() == 0.0


def test_mil_bag_scores_per_class_softmax_and_invalid_bag():
    cls = torch.zeros(2, 3, 2)
    ins = torch.tensor([[[0.0, 5.0], [0.0, 0.0], [0.0, 0.0]]]).repeat(2, 1, 1)
    cls[0, 0, 1] = 100.0  # class-1 score 1 at the point that dominates class-1 selection
    s, v = mil_bag_scores(cls, ins, torch.tensor([[True, True, True], [False, False, False]]))[:2]
    e5 = math.exp(5.0)
    assert torch.allclose(s[0], torch.tensor([0.5, (1.0 * e5 + 0.5 * 2) / (e5 + 2)]))
    assert torch.equal(s[1], torch.zeros(2)) and v.tolist() == [True, False]
    assert torch.isfinite(s).all()


def test_softmax_activation_over_k_plus_one_with_background():
    # one bag of two proposals, K = 2 classes + background column
    cls = torch.tensor([[[0.0, L3, 0.0], [L3, 0.0, 0.0]]])  # softmax rows: (1,3,1)/5, (3,1,1)/5
    ins = torch.zeros(1, 2, 3)  # uniform over the two proposals
    out = mil_bag_scores(cls, ins, torch.ones(1, 2, dtype=torch.bool), activation="softmax")
    assert out.bag_scores.shape == (1, 3)
    assert torch.allclose(out.cls_scores[0].sum(-1), torch.ones(2))
    assert torch.allclose(out.bag_scores[0], torch.tensor([0.5 * (0.2 + 0.6), 0.5 * (0.6 + 0.2), 0.5 * (0.2 + 0.2)]))
    assert torch.allclose(class_scores(torch.tensor([0.0, L3]), "sigmoid"), torch.tensor([0.5, 0.75]))
    with pytest.raises(ValueError, match="activation"):
        class_scores(torch.zeros(2), "relu")


def test_mil_bag_scores_gradient_finite_for_invalid_bag():
    cls = torch.zeros(1, 2, 1, requires_grad=True)
    ins = torch.zeros(1, 2, 1, requires_grad=True)
    s = mil_bag_scores(cls, ins, torch.tensor([[False, False]])).bag_scores
    s.sum().backward()
    assert torch.isfinite(cls.grad).all() and torch.isfinite(ins.grad).all()
    with pytest.raises(ValueError, match="shape mismatch"):
        mil_bag_scores(torch.zeros(1, 2, 1), torch.zeros(1, 3, 1), torch.ones(1, 2, dtype=torch.bool))


def test_focal_loss_on_probabilities_hand_values():
    p = torch.tensor([0.5, 0.5, 0.8, 0.9])
    q = torch.tensor([1.0, 0.0, 0.0, 1.0])
    out = focal_loss_on_probabilities(p, q, gamma=2.0, eps=0.0)
    exp = torch.tensor(
        [0.25 * math.log(2), 0.25 * math.log(2), 0.64 * -math.log(0.2), 0.01 * -math.log(0.9)]
    )
    assert torch.allclose(out, exp, atol=1e-6)
    # eps enters the logarithm (reference gfocal): p = 0 with q = 1 stays finite
    out = focal_loss_on_probabilities(torch.tensor([0.0]), torch.tensor([1.0]), gamma=2.0, eps=1e-6)
    assert torch.allclose(out, torch.tensor([-math.log(1e-6)]))
    # gamma = 0 is the binary cross-entropy
    out = focal_loss_on_probabilities(torch.tensor([0.3]), torch.tensor([1.0]), gamma=0.0, eps=0.0)
    assert torch.allclose(out, torch.tensor([-math.log(0.3)]))


def _fl(p, q):
    """Hand focal term (gamma 2, eps 0) of one probability."""
    return -((p - q) ** 2) * (q * math.log(p) + (1 - q) * math.log(1 - p))


def test_mil_loss_per_bag_weights_and_normaliser():
    scores = torch.tensor([[0.5, 0.2], [0.75, 0.4], [0.9, 0.1]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    per_bag = [_fl(0.5, 1) + _fl(0.2, 0), _fl(0.75, 0) + _fl(0.4, 1), _fl(0.9, 1) + _fl(0.1, 0)]
    # default: all weights 1, normalised by the 3 bags
    assert mil_loss(scores, targets, eps=0.0).item() == pytest.approx(sum(per_bag) / 3, rel=1e-6)
    # CPR: a bag without valid points has weight 0 and is not counted in the normaliser
    w = torch.tensor([1.0, 0.0, 1.0])
    assert mil_loss(scores, targets, w, eps=0.0).item() == pytest.approx((per_bag[0] + per_bag[2]) / 2, rel=1e-6)
    # SAPNet's PRM: soft weights, normalised by the number of bags
    w = torch.tensor([0.5, 0.25, 1.0])
    exp = (0.5 * per_bag[0] + 0.25 * per_bag[1] + per_bag[2]) / 3
    assert mil_loss(scores, targets, w, normalizer=3.0, eps=0.0).item() == pytest.approx(exp, rel=1e-6)
    # gamma 0: binary cross-entropy (SAPNet's PSM)
    bce = -math.log(0.5) - math.log(0.8)
    assert mil_loss(scores[:1], targets[:1], gamma=0.0, eps=0.0).item() == pytest.approx(bce, rel=1e-6)
    # no bag with positive weight: normaliser 1, loss 0
    assert mil_loss(scores, targets, torch.zeros(3)).item() == 0.0


def test_negative_loss_mask_weights_normaliser():
    logits = torch.tensor([[0.0, L3], [-L3, 0.0]])  # p = 0.5, 0.75 / 0.25, 0.5
    neg = lambda p: -(p**2) * math.log(1 - p)  # noqa: E731
    mask = torch.tensor([[True, True], [False, True]])
    exp = neg(0.5) + neg(0.75) + neg(0.5)
    assert negative_loss(logits, mask).item() == pytest.approx(exp, rel=1e-6)
    assert negative_loss(logits, mask, normalizer=2.0).item() == pytest.approx(exp / 2, rel=1e-6)
    w = torch.tensor([[2.0], [0.5]])  # per-sample weights broadcast over classes
    exp_w = 2 * (neg(0.5) + neg(0.75)) + 0.5 * neg(0.5)
    assert negative_loss(logits, mask, weights=w).item() == pytest.approx(exp_w, rel=1e-6)
    # gamma 0: -log(1 - p)
    assert negative_loss(logits[:1, :1], mask[:1, :1], gamma=0.0).item() == pytest.approx(math.log(2), rel=1e-6)
