"""Matrix NMS against hand-computed decays (three 1-D masks)."""
import math

import pytest
import torch

from pointdet.layers import matrix_nms

# A (0.9) = cells 0-3, B (0.8) = cells 0-1, C (0.7) = cells 2-5
# IoU(A,B) = 2/4, IoU(A,C) = 2/6, IoU(B,C) = 0; compensations: A 0, B 1/2, C 1/3
A = [1, 1, 1, 1, 0, 0]
B = [1, 1, 0, 0, 0, 0]
C = [0, 0, 1, 1, 1, 1]


def _run(labels, kernel, sigma=2.0):
    masks = torch.tensor([C, A, B], dtype=torch.bool)  # not in score order on purpose
    scores = torch.tensor([0.7, 0.9, 0.8])
    return matrix_nms(masks, torch.tensor(labels), scores, kernel=kernel, sigma=sigma)


def test_gaussian_same_class():
    out = _run([0, 0, 0], "gaussian")
    # B: exp(-2 * 0.5^2); C: min(exp(-2 * (1/3)^2), exp(-2 * (0 - 0.5^2))) = exp(-2/9)
    expected = [0.7 * math.exp(-2 / 9), 0.9, 0.8 * math.exp(-0.5)]
    assert out.tolist() == pytest.approx(expected, abs=1e-6)


def test_linear_same_class():
    out = _run([0, 0, 0], "linear")
    # B: (1 - 1/2) / 1; C: min((1 - 1/3) / 1, (1 - 0) / (1 - 1/2)) = 2/3
    assert out.tolist() == pytest.approx([0.7 * 2 / 3, 0.9, 0.4], abs=1e-6)


def test_other_class_does_not_decay():
    out = _run([1, 0, 0], "gaussian")
    assert out.tolist() == pytest.approx([0.7, 0.9, 0.8 * math.exp(-0.5)], abs=1e-6)


def test_empty_and_bad_kernel():
    assert matrix_nms(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), torch.zeros(0)).numel() == 0
    with pytest.raises(ValueError, match="kernel"):
        _run([0, 0, 0], "hard")
