"""CornerNet radius and Gaussian, heat-map drawing and targets, the penalty-reduced focal loss
(SIOD Eq. 1 and 5) against hand-computed values."""
import math

import pytest
import torch

from pointdet.layers.heatmap import (
    box_heatmap_targets,
    draw_gaussian,
    gaussian_kernel,
    gaussian_radius,
    heatmap_focal_loss,
)


def test_gaussian_radius_hand_value():
    # 10 x 10 box, IoU 0.7: case 3 gives (-28 + sqrt(784 + 336)) / 2 = 2.7332; cases 1 and 2 are larger
    r = gaussian_radius(torch.tensor([10.0]), torch.tensor([10.0]), 0.7)
    assert r.item() == pytest.approx((-28 + math.sqrt(1120)) / 2, abs=1e-6)
    assert int(r.item()) == 2
    # a larger min_overlap gives a smaller radius
    assert gaussian_radius(torch.tensor(10.0), torch.tensor(10.0), 0.9) < r


def test_gaussian_kernel_radius_one():
    g = gaussian_kernel(1)  # sigma = 0.5: exp(-d^2 / 0.5)
    assert g.shape == (3, 3)
    assert g[1, 1].item() == 1.0
    assert g[1, 0].item() == pytest.approx(math.exp(-2), rel=1e-6)
    assert g[0, 0].item() == pytest.approx(math.exp(-4), rel=1e-6)
    assert torch.equal(gaussian_kernel(0), torch.ones(1, 1))


def test_draw_gaussian_cut_at_border_and_max():
    hm = torch.zeros(3, 3)
    hm[2, 2] = 0.5
    draw_gaussian(hm, 0, 0, 1)
    assert hm[0, 0].item() == 1.0
    assert hm[0, 1].item() == pytest.approx(math.exp(-2), rel=1e-6)
    assert hm[1, 1].item() == pytest.approx(math.exp(-4), rel=1e-6)
    assert hm[2, 2].item() == 0.5  # outside the kernel, kept
    draw_gaussian(hm, 5, 5, 1)  # centre outside: nothing drawn
    assert hm.sum().item() == pytest.approx(1 + 2 * math.exp(-2) + math.exp(-4) + 0.5, rel=1e-6)


def test_box_heatmap_targets_hand_values():
    boxes = torch.tensor([[8.0, 8.0, 48.0, 48.0], [0.0, 0.0, 0.0, 5.0], [10.0, 10.0, 19.0, 13.0]])
    t = box_heatmap_targets(boxes, torch.tensor([1, 0, 0]), num_classes=2, height=16, width=16, stride=4)
    # box 0: map box (2, 2, 12, 12): centre 7, size 10, radius int(2.733) = 2, sigma 5/6
    assert t.valid.tolist() == [True, False, True]
    assert t.centers[0].tolist() == [7, 7] and t.sizes[0].tolist() == [10.0, 10.0]
    assert t.offsets[0].tolist() == [0.0, 0.0]
    assert t.heatmap[1, 7, 7].item() == 1.0
    assert t.heatmap[1, 7, 9].item() == pytest.approx(math.exp(-4 / (2 * (5 / 6) ** 2)), rel=1e-5)
    # box 2: map box (2.5, 2.5, 4.75, 3.25): centre (3.625, 2.875) -> cell (3, 2), offset (0.625, 0.875)
    assert t.centers[2].tolist() == [3, 2]
    assert torch.allclose(t.offsets[2], torch.tensor([0.625, 0.875]))
    assert t.heatmap[0, 2, 3].item() == 1.0
    assert (t.heatmap == 1).sum().item() == 2  # the zero-width box draws nothing


def test_heatmap_focal_loss_hand_value():
    logits = torch.zeros(1, 1, 1, 3)  # p = 0.5 everywhere
    target = torch.tensor([1.0, 0.5, 0.0]).view(1, 1, 1, 3)
    t = math.log(0.5) * 0.25  # log(p) p^2 = log(1 - p) (1 - p)^2
    expected = -(t + 0.5 ** 4 * t + t)
    assert heatmap_focal_loss(logits, target).item() == pytest.approx(expected, rel=1e-5)
    # explicit positives: a soft 1.0 that is not a positive adds no term (weight (1 - 1)^4 = 0)
    target2 = torch.tensor([1.0, 1.0, 0.0]).view(1, 1, 1, 3)
    pos = torch.tensor([True, False, False]).view(1, 1, 1, 3)
    assert heatmap_focal_loss(logits, target2, positive=pos).item() == pytest.approx(-(t + t), rel=1e-5)
    # negative mask removes the last cell's negative term
    mask = torch.tensor([1.0, 1.0, 0.0]).view(1, 1, 1, 3)
    assert heatmap_focal_loss(logits, target, negative_mask=mask).item() == pytest.approx(-(t + 0.0625 * t), rel=1e-5)
    # no positive: the negative sum, not divided
    assert heatmap_focal_loss(logits, torch.zeros(1, 1, 1, 3)).item() == pytest.approx(-3 * t, rel=1e-5)
