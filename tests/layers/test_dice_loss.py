"""Dice loss against hand-computed values."""
import pytest
import torch

from pointdet.layers import dice_loss


def test_hand_computed():
    p = torch.tensor([[0.5, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    q = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    # row 0: 1 - 2 * 1.5 / (1.25 + 2) ; row 1: no overlap -> 1
    assert dice_loss(p, q, eps=0.0).tolist() == pytest.approx([1 - 3 / 3.25, 1.0])
    assert dice_loss(p, q).tolist() == pytest.approx([1 - 3 / 3.252, 1.0])


def test_perfect_and_shapes():
    m = torch.ones(2, 3, 3)
    assert dice_loss(m, m, eps=0.0).tolist() == pytest.approx([0.0, 0.0])
    with pytest.raises(ValueError):
        dice_loss(m, torch.ones(2, 9))
