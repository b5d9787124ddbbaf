"""MIL bag scores (CPR Eq. 5-6) and the probability-space focal term (Eq. 4)."""
import math

import torch

from pointdet.layers.mil import focal_loss_on_probabilities, mil_bag_scores


def test_mil_bag_scores_hand_values():
    l3 = math.log(3.0)
    cls = torch.tensor([[[0.0], [l3]]])  # sigmoid: 0.5, 0.75
    ins = torch.tensor([[[0.0], [l3]]])  # softmax: 0.25, 0.75
    s, v = mil_bag_scores(cls, ins, torch.tensor([[True, True]]))
    assert torch.allclose(s, torch.tensor([[0.5 * 0.25 + 0.75 * 0.75]]))
    assert v.tolist() == [True]
    # softmax over valid points only
    s, v = mil_bag_scores(cls, ins, torch.tensor([[True, False]]))
    assert torch.allclose(s, torch.tensor([[0.5]]))


def test_mil_bag_scores_per_class_softmax_and_invalid_bag():
    cls = torch.zeros(2, 3, 2)
    ins = torch.tensor([[[0.0, 5.0], [0.0, 0.0], [0.0, 0.0]]]).repeat(2, 1, 1)
    cls[0, 0, 1] = 100.0  # class-1 score 1 at the point that dominates class-1 selection
    s, v = mil_bag_scores(cls, ins, torch.tensor([[True, True, True], [False, False, False]]))
    e5 = math.exp(5.0)
    assert torch.allclose(s[0], torch.tensor([0.5, (1.0 * e5 + 0.5 * 2) / (e5 + 2)]))
    assert torch.equal(s[1], torch.zeros(2)) and v.tolist() == [True, False]
    assert torch.isfinite(s).all()


def test_mil_bag_scores_gradient_finite_for_invalid_bag():
    cls = torch.zeros(1, 2, 1, requires_grad=True)
    ins = torch.zeros(1, 2, 1, requires_grad=True)
    s, _ = mil_bag_scores(cls, ins, torch.tensor([[False, False]]))
    s.sum().backward()
    assert torch.isfinite(cls.grad).all() and torch.isfinite(ins.grad).all()


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
