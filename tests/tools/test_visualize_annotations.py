"""tools/visualize_annotations.py as a command (the drawing itself is tested through
``visualize_file`` in tests/utils/test_visualize_annotations.py)."""
import os

import pytest

from pointdet.utils.cli import run_cli
from tests.data.fixtures import write_tiny_images_coco_file
from tools.visualize_annotations import main


@pytest.fixture
def tiny_coco(tmp_path):
    return write_tiny_images_coco_file(tmp_path)


def test_draws_and_exit_status(tiny_coco, tmp_path, capsys):
    src, img_dir, coco = tiny_coco
    out_dir = tmp_path / "vis"
    assert run_cli(main, ["--input", src, "--image-root", img_dir, "--output-dir", str(out_dir), "--max-images", "2"]) == 0
    assert "wrote 2 images" in capsys.readouterr().out and len(os.listdir(out_dir)) == 2
    os.remove(os.path.join(img_dir, "im2.png"))  # the second image is missing: nothing is drawn
    out2 = tmp_path / "vis2"
    assert run_cli(main, ["--input", src, "--image-root", img_dir, "--output-dir", str(out2)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "image id 2 file not found" in err[0] and src in err[0]
    assert not out2.exists()
