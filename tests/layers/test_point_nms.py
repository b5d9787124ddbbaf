import torch

from pointdet.layers.point_nms import point_nms, points_to_pseudo_boxes


def test_pseudo_boxes_centred():
    boxes = points_to_pseudo_boxes(torch.tensor([[10.0, 20.0]]), 32)
    assert boxes.tolist() == [[-6.0, 4.0, 26.0, 36.0]]
    boxes = points_to_pseudo_boxes(torch.tensor([[10.0, 20.0]]), (16, 8))
    assert boxes.tolist() == [[2.0, 16.0, 18.0, 24.0]]


def test_same_class_within_radius_suppressed_other_class_kept():
    pts = torch.tensor([[100.0, 100.0], [110.0, 100.0], [110.0, 100.0], [300.0, 300.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.1])
    classes = torch.tensor([0, 0, 1, 0])
    keep = point_nms(pts, scores, classes, box_size=32, iou_threshold=0.01)
    # point 1 (same class, 10 px away) is suppressed by point 0; point 2 has another class.
    assert keep.tolist() == [0, 2, 3]


def test_axis_radius_about_31px():
    # IoU of two 32-px boxes offset by d along x: 32(32-d) / (2048 - 32(32-d)).
    # d=31: 32/2016 = 0.0159 > 0.01 -> suppressed; d=31.5: 16/2032 = 0.0079 -> kept.
    for d, expected in [(31.0, [0]), (31.5, [0, 1]), (0.0, [0])]:
        pts = torch.tensor([[50.0, 50.0], [50.0 + d, 50.0]])
        keep = point_nms(pts, torch.tensor([0.9, 0.5]), torch.tensor([3, 3]))
        assert keep.tolist() == expected, d
    # the same along y
    keep = point_nms(torch.tensor([[50.0, 50.0], [50.0, 81.0]]), torch.tensor([0.5, 0.9]), torch.tensor([0, 0]))
    assert keep.tolist() == [1]


def test_diagonal_radius():
    # offsets (d, d): overlap (32-d)^2 > 0.01 * 2048 / 1.01 = 20.28 iff d < 27.5
    for d, n in [(27.0, 1), (28.0, 2)]:
        pts = torch.tensor([[50.0, 50.0], [50.0 + d, 50.0 + d]])
        keep = point_nms(pts, torch.tensor([0.9, 0.5]), torch.tensor([0, 0]))
        assert len(keep) == n, d


def test_empty_and_shape_errors():
    keep = point_nms(torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    assert keep.numel() == 0
    try:
        point_nms(torch.zeros(2, 2), torch.zeros(3), torch.zeros(2, dtype=torch.long))
    except ValueError as e:
        assert "same length" in str(e)
    else:
        raise AssertionError("expected ValueError")
