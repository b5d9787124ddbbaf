"""pointdet.utils.visualize_points: the refinement drawing and its atomic PNG output."""
import os

import numpy as np
import pytest

from pointdet.utils.visualize_points import save_point_refinement


def test_save_writes_png_and_raises_when_it_cannot(tmp_path):
    import cv2

    img = np.zeros((20, 30, 3), dtype=np.uint8)
    out = save_point_refinement(str(tmp_path / "sub" / "r.png"), img, [[5.0, 5.0]], [[10.0, 12.0]])
    drawn = cv2.imread(out)[:, :, ::-1]
    assert drawn.shape == img.shape and tuple(drawn[12, 10]) == (255, 230, 0)  # refined point, yellow
    assert os.listdir(tmp_path / "sub") == ["r.png"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        save_point_refinement(str(tmp_path / "file" / "r.png"), img, [[5.0, 5.0]], [[10.0, 12.0]])


def test_visualize_points_draws():
    from pointdet.utils.visualize_points import draw_point_refinement

    img = np.zeros((20, 20, 3), dtype=np.uint8)
    out = draw_point_refinement(img, [[5, 5]], [[15, 15]], bag_points=[[[10, 2]]], bag_scores=[[1.0]],
                                bag_keep=[[True]], radius=2)
    assert out.shape == img.shape and img.sum() == 0
    assert tuple(out[5, 5]) == (0, 200, 0) and tuple(out[15, 15]) == (255, 230, 0)
    assert out[2, 10].sum() > 0


def test_visualize_points_draws_true_boxes():
    from pointdet.utils.visualize_points import CYAN, draw_point_refinement

    img = np.zeros((30, 30, 3), dtype=np.uint8)
    out = draw_point_refinement(img, np.zeros((0, 2)), np.zeros((0, 2)), boxes=[[4, 6, 24, 20]], radius=2)
    assert tuple(out[6, 10]) == CYAN and tuple(out[20, 10]) == CYAN and tuple(out[12, 4]) == CYAN  # edges
    assert tuple(out[13, 14]) == CYAN  # centre cross
    assert out[9, 8].sum() == 0  # inside, away from the cross, untouched
    assert draw_point_refinement(img, np.zeros((0, 2)), np.zeros((0, 2))).sum() == 0  # no boxes: nothing drawn
