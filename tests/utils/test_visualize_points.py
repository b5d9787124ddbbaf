"""Tests of pointdet.utils.visualize_points.save_point_refinement (atomic PNG output)."""
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
