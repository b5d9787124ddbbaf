"""Point-bag geometry, point-feature sampling and the class-wise negative mask (CPR Eq. 1-2)."""
import math

import pytest
import torch

from pointdet.layers.point_bags import (
    bag_points,
    circle_bag_offsets,
    class_negative_mask,
    padded_image_sizes,
    sample_point_features,
)
from pointdet.layers.image_bounds import points_inside_image


@pytest.mark.parametrize("R,u0", [(1, 8), (3, 8), (8, 8), (5, 4)])
def test_bag_counts(R, u0):
    off = circle_bag_offsets(R, u0, append_center=True)
    assert off.shape == (u0 * R * (R + 1) // 2 + 1, 2)
    assert torch.equal(off[-1], torch.zeros(2))
    radii = off[:-1].norm(dim=1)
    start = 0
    for r in range(1, R + 1):
        n = r * u0
        seg = radii[start : start + n]
        assert torch.allclose(seg, torch.full((n,), float(r)), atol=1e-5), f"circle {r}"
        # first point of circle r at (r, 0), then counter-clockwise in image coordinates (y down)
        assert torch.allclose(off[start], torch.tensor([float(r), 0.0]), atol=1e-6)
        a1 = 2 * math.pi / n
        assert torch.allclose(off[start + 1], torch.tensor([r * math.cos(a1), r * math.sin(a1)]), atol=1e-5)
        start += n
    assert circle_bag_offsets(8, 8, append_center=False).shape == (288, 2)
    assert circle_bag_offsets(5, 8).shape == (121, 2)


def test_bag_points_in_pixels():
    off = circle_bag_offsets(2, 4)
    pts = bag_points(torch.tensor([[10.0, 20.0]]), off, stride=8)
    assert pts.shape == (1, 13, 2)
    assert torch.allclose(pts[0, 0], torch.tensor([18.0, 20.0]))  # (a_x + r*s, a_y) for r=1
    assert torch.allclose(pts[0, 1], torch.tensor([10.0, 28.0]), atol=1e-5)
    assert torch.allclose(pts[0, 4], torch.tensor([26.0, 20.0]))  # first point of circle 2
    assert torch.allclose(pts[0, -1], torch.tensor([10.0, 20.0]))


def test_sample_point_features_continuous_convention():
    # cell (row i, col j) value = 10*i + j; stride 4: cell j's centre is x = 4*j + 2
    feat = torch.tensor([[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]]).view(1, 1, 2, 3)
    pts = torch.tensor([[6.0, 2.0], [8.0, 2.0], [4.0, 2.0], [2.0, 4.0], [10.0, 6.0], [0.0, 0.0]])
    out = sample_point_features(feat, pts, torch.zeros(6, dtype=torch.long), stride=4)
    expected = torch.tensor([1.0, 1.5, 0.5, 5.0, 12.0, 0.0])  # last: border padding clamps to cell 0
    assert out.shape == (6, 1)
    assert torch.allclose(out[:, 0], expected, atol=1e-5)


def test_sample_point_features_batch_index():
    feat = torch.stack([torch.full((2, 3, 3), 1.0), torch.full((2, 3, 3), 7.0)])
    pts = torch.tensor([[5.0, 5.0], [5.0, 5.0], [1.0, 1.0]])
    out = sample_point_features(feat, pts, torch.tensor([1, 0, 1]), stride=4)
    assert torch.allclose(out, torch.tensor([[7.0, 7.0], [1.0, 1.0], [7.0, 7.0]]))
    assert sample_point_features(feat, torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), 4).shape == (0, 2)


def test_exclusion_outside_padded_image():
    off = circle_bag_offsets(1, 4)  # (1,0), (0,1), (-1,0), (0,-1), (0,0)
    pts = bag_points(torch.tensor([[2.0, 2.0]]), off, stride=8)
    valid = points_inside_image(pts, torch.tensor([[[32.0, 32.0]]]))
    assert valid.tolist() == [[True, True, False, False, True]]
    # a bag point exactly on the padded border is valid (the closed rule of image_bounds)
    pts = bag_points(torch.tensor([[24.0, 2.0]]), off, stride=8)  # (32, 2) first
    assert points_inside_image(pts, torch.tensor([[[32.0, 32.0]]])).tolist() == [[True, True, True, False, True]]


def test_padded_image_sizes():
    s = padded_image_sizes([(30, 50), (64, 17)], 32, (64, 64))
    assert s.tolist() == [[32.0, 64.0], [64.0, 32.0]]
    assert padded_image_sizes([(30, 50)], 0, (30, 50)).tolist() == [[30.0, 50.0]]


def test_class_negative_mask_hand_layout():
    # 4x4 cells, stride 4, centres at 2, 6, 10, 14; one class-0 point at (6, 6)
    pts = [torch.tensor([[6.0, 6.0]]), torch.zeros(0, 2)]
    cls = [torch.tensor([0]), torch.zeros(0, dtype=torch.long)]
    sizes = torch.tensor([[16.0, 16.0], [16.0, 12.0]])
    m = class_negative_mask(pts, cls, (4, 4), 4, num_classes=2, bag_radius=1, valid_sizes_hw=sizes)
    assert m.shape == (2, 4, 4, 2)
    exp0 = torch.ones(4, 4, dtype=torch.bool)
    exp0[1, 1] = False  # distance 0; the 4-neighbours are at exactly R*s = 4 -> negatives
    assert torch.equal(m[0, :, :, 0], exp0)
    assert m[0, :, :, 1].all()  # class absent from the image: all valid cells
    # image 1: no points; width 12 -> the column with centre x = 14 is outside
    exp1 = torch.ones(4, 4, dtype=torch.bool)
    exp1[:, 3] = False
    assert torch.equal(m[1, :, :, 0], exp1) and torch.equal(m[1, :, :, 1], exp1)

    m2 = class_negative_mask(pts[:1], cls[:1], (4, 4), 4, 2, 2, sizes[:1])
    exp2 = torch.ones(4, 4, dtype=torch.bool)
    exp2[:3, :3] = False  # d < 8: the 3x3 block around (6, 6); (14, 6) and (6, 14) are at d = 8
    assert torch.equal(m2[0, :, :, 0], exp2)
    assert m2[0, :, :, 1].all()


def test_class_negative_mask_other_class_points_do_not_exclude():
    pts = [torch.tensor([[6.0, 6.0], [10.0, 10.0]])]
    cls = [torch.tensor([1, 1])]
    m = class_negative_mask(pts, cls, (4, 4), 4, 2, 1, torch.tensor([[16.0, 16.0]]))
    assert m[0, :, :, 0].all()
    assert (~m[0, :, :, 1]).sum() == 2 and not m[0, 1, 1, 1] and not m[0, 2, 2, 1]
