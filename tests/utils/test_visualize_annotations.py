"""Tests of pointdet.utils.visualize_annotations.visualize_file on tiny images."""
import json
import os

import numpy as np
import pytest

from pointdet.data.annotations import make_center_clicks, make_coarse_points
from pointdet.data.coco_io import CocoFormatError
from pointdet.utils.visualize_annotations import visualize_file
from tests.data.fixtures import write_tiny_images_coco


@pytest.fixture
def tiny(tmp_path):
    """3 images of 40x48 (image 3 empty), 2 categories, polygon masks, one crowd box."""
    boxes = {1: [(1, [4.0, 5.0, 12.0, 10.0], 0), (2, [25.0, 25.0, 10.0, 8.0], 1)], 2: [(2, [10.0, 10.0, 20.0, 20.0], 0)]}
    coco, img_dir = write_tiny_images_coco(tmp_path, boxes)
    return coco, img_dir, tmp_path


def _write(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f)
    return str(path)


def test_draws_full_point_and_click_files(tiny):
    import cv2

    coco, img_dir, tmp = tiny
    src = _write(coco, tmp / "full.json")
    pts = _write(make_coarse_points(coco, 0), tmp / "pts.json")
    clicks = _write(make_center_clicks(coco, 0, num_annotators=2), tmp / "clicks.json")
    for f, gt, n in ((src, None, None), (pts, src, None), (clicks, src, 2)):
        out_dir = tmp / ("vis_" + os.path.basename(f)[:-5])
        paths = visualize_file(f, img_dir, str(out_dir), max_images=n, gt_path=gt)
        assert len(paths) == (n or 3) and sorted(os.listdir(out_dir)) == sorted(os.path.basename(p) for p in paths)
        assert os.path.basename(paths[0]) == "1_im1.png"  # images with annotations first
        drawn = cv2.imread(paths[0])[:, :, ::-1]
        raw = cv2.imread(os.path.join(img_dir, "im1.png"))[:, :, ::-1]
        assert drawn.shape == raw.shape and np.abs(drawn.astype(int) - raw.astype(int)).sum() > 0
    # the empty image is written unchanged
    np.testing.assert_array_equal(cv2.imread(str(tmp / "vis_full" / "3_im3.png")), cv2.imread(os.path.join(img_dir, "im3.png")))


def test_size_mismatch_is_an_error(tiny):
    coco, img_dir, tmp = tiny
    coco["images"][0]["width"] = 50
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] != 1]
    with pytest.raises(CocoFormatError, match="wrong.json: image id 1 is 48x40 on disk .* but 50x40"):
        visualize_file(_write(coco, tmp / "wrong.json"), img_dir, str(tmp / "v"))
    assert not (tmp / "v").exists()


def test_missing_second_image_writes_nothing(tiny):
    coco, img_dir, tmp = tiny
    os.remove(os.path.join(img_dir, "im2.png"))
    with pytest.raises(CocoFormatError, match="x.json: image id 2 file not found"):
        visualize_file(_write(coco, tmp / "x.json"), img_dir, str(tmp / "v"))
    assert not (tmp / "v").exists()  # the first image's PNG is not left behind


def test_unreadable_image_writes_nothing(tiny):
    coco, img_dir, tmp = tiny
    with open(os.path.join(img_dir, "im2.png"), "wb") as f:
        f.write(b"not a png")
    with pytest.raises(CocoFormatError, match="x.json: image id 2: cannot read image"):
        visualize_file(_write(coco, tmp / "x.json"), img_dir, str(tmp / "v"))
    assert not (tmp / "v").exists()


def test_unwritable_output_raises(tiny):
    coco, img_dir, tmp = tiny
    blocker = tmp / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    with pytest.raises(OSError, match="could not write .*not_a_folder/1_im1.png \\(0 of 3 images written\\)"):
        visualize_file(_write(coco, tmp / "x.json"), img_dir, str(blocker))


def test_garbage_segmentation_and_outside_file_names_refused(tiny):
    coco, img_dir, tmp = tiny
    coco["annotations"][0]["segmentation"] = "garbage"
    with pytest.raises(CocoFormatError, match="x.json: annotation id 1 has a malformed segmentation 'garbage'"):
        visualize_file(_write(coco, tmp / "x.json"), img_dir, str(tmp / "v"))
    coco["annotations"][0]["segmentation"] = []
    coco["images"][1]["file_name"] = "../images/im2.png"
    with pytest.raises(CocoFormatError, match="image id 2 has file_name '../images/im2.png'.*refused"):
        visualize_file(_write(coco, tmp / "x.json"), img_dir, str(tmp / "v"))
    assert len(visualize_file(_write(coco, tmp / "x.json"), img_dir, str(tmp / "v"), allow_outside_image_root=True)) == 3
    with pytest.raises(ValueError, match="would overwrite the input"):
        visualize_file(_write(coco, tmp / "x.json"), img_dir, img_dir, max_images=1,
                       gt_path=_write(coco, os.path.join(img_dir, "1_im1.png")))
