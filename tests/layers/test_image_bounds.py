"""The one inside-the-image rule: closed [0, w] x [0, h], for tensors and arrays."""
import numpy as np
import torch

from pointdet.layers.image_bounds import points_inside_image


def test_closed_rule_on_every_border():
    pts = torch.tensor([[0.0, 0.0], [32.0, 1.0], [31.9, 1.0], [5.0, 20.0], [32.01, 1.0], [-0.01, 3.0], [3.0, 20.01]])
    assert points_inside_image(pts, (20, 32)).tolist() == [True, True, True, True, False, False, False]


def test_broadcast_sizes_per_image_and_batch_shape():
    pts = torch.tensor([[[10.0, 10.0], [40.0, 10.0]], [[10.0, 10.0], [40.0, 10.0]]])  # (2 images, 2 points, 2)
    sizes = torch.tensor([[[16.0, 48.0]], [[16.0, 16.0]]])  # (2, 1, 2) (h, w)
    assert points_inside_image(pts, sizes).tolist() == [[True, True], [True, False]]
    assert points_inside_image(torch.zeros(0, 2), (4, 4)).shape == (0,)


def test_numpy_input_as_the_mapper_uses_it():
    moved = np.array([[[40.0, 0.0]], [[40.01, 0.0]], [[0.0, 30.0]]])  # (N, clicks, 2)
    inside = points_inside_image(moved, (30, 40)).all(axis=1)
    assert isinstance(inside, np.ndarray) and inside.tolist() == [True, False, True]


def test_flip_invariant():
    """A point on the left border stays inside after a horizontal flip (x -> w - x)."""
    w = 24.0
    pts = torch.tensor([[0.0, 5.0], [24.0, 5.0], [7.5, 0.0]])
    flipped = torch.stack([w - pts[:, 0], pts[:, 1]], dim=1)
    assert points_inside_image(pts, (10, 24)).tolist() == points_inside_image(flipped, (10, 24)).tolist() == [True] * 3
