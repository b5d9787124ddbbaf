"""End-to-end tests of tools/make_weak_annotations.py and tools/visualize_annotations.py
on a tiny synthetic COCO file with tiny images in tmp_path (the drawing itself is tested in
tests/utils/test_visualize_annotations.py)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pointdet.data.coco_io import CocoFormatError, file_sha256
from tools import make_weak_annotations as mwa
from tools import visualize_annotations as va

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def tiny_coco(tmp_path):
    """3 images of 48x40 (one empty), 2 categories, polygon masks, one crowd annotation."""
    from PIL import Image

    img_dir = tmp_path / "images"
    img_dir.mkdir()
    rng = np.random.default_rng(0)
    images, anns = [], []
    boxes = {
        1: [(1, [4.0, 5.0, 12.0, 10.0], 0), (1, [20.5, 8.2, 15.0, 14.0], 0), (2, [6.0, 22.0, 9.0, 11.0], 0),
            (2, [25.0, 25.0, 10.0, 8.0], 1)],
        2: [(2, [10.0, 10.0, 20.0, 20.0], 0), (2, [2.0, 2.0, 6.0, 6.0], 0), (1, [30.0, 4.0, 1.5, 1.5], 0)],
        3: [],
    }
    aid = 1
    for i in (1, 2, 3):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(img_dir / f"im{i}.png")
        images.append({"id": i, "file_name": f"im{i}.png", "width": 48, "height": 40})
        for cat, (x, y, w, h), crowd in boxes[i]:
            anns.append({"id": aid, "image_id": i, "category_id": cat, "bbox": [x, y, w, h], "area": w * h,
                         "iscrowd": crowd, "segmentation": [[x, y + h, x + w / 2, y, x + w, y + h]]})
            aid += 1
    coco = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "tree"}, {"id": 2, "name": "cell"}]}
    path = tmp_path / "train.json"
    path.write_text(json.dumps(coco))
    return str(path), str(img_dir), coco


CASES = [
    (["coarse-points"], ["train_coarse_points_s{s}.json"]),
    (["quasi-center-points"], ["train_quasi_center_points_s{s}.json"]),
    (["clicks"], ["train_clicks1_s{s}.json"]),
    (["clicks", "--num-annotators", "2", "--alpha", "0.2"], ["train_clicks2_s{s}.json"]),
    (["keep1"], ["train_keep1_s{s}.json", "train_keep1_s{s}_erased.json"]),
    (["keep1", "--keep-first"], ["train_keep1_first.json", "train_keep1_first_erased.json"]),
    (["sparse", "--level", "easy"], ["train_sparse_easy_s{s}.json", "train_sparse_easy_s{s}_erased.json"]),
    (["sparse", "--level", "hard"], ["train_sparse_hard_s{s}.json", "train_sparse_hard_s{s}_erased.json"]),
    (["sparse", "--level", "extreme"], ["train_sparse_extreme_s{s}.json", "train_sparse_extreme_s{s}_erased.json"]),
    (["sparse", "--level", "50miss"], ["train_sparse_50miss_s{s}.json", "train_sparse_50miss_s{s}_erased.json"]),
]


@pytest.mark.parametrize("args,names", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_cli_subcommands_default_names(tiny_coco, args, names, capsys):
    src, img_dir, coco = tiny_coco
    seed = 4
    out = mwa.main(args + ["--input", src, "--seed", str(seed), "--image-root", img_dir])
    expected = [os.path.join(os.path.dirname(src), n.format(s=seed)) for n in names]
    assert out == expected and all(os.path.isfile(p) for p in expected)
    assert "per category" in capsys.readouterr().out
    data = json.load(open(expected[0]))
    assert data["info"]["source_sha256"] == file_sha256(src)
    assert data["images"] == coco["images"]
    if args[0] in ("coarse-points", "quasi-center-points", "clicks"):
        assert len(data["annotations"]) == len(coco["annotations"])
        assert all(not {"bbox", "segmentation", "area"} & set(a) for a in data["annotations"])
    if "--alpha" in args:
        assert data["info"]["params"]["alpha"] == 0.2
        assert all(len(a["clicks"]) == 2 for a in data["annotations"])
    if len(expected) == 2:
        erased = json.load(open(expected[1]))
        assert len(data["annotations"]) + len(erased["annotations"]) == len(coco["annotations"])
    # same seed again (explicit --output elsewhere): byte-identical
    again = mwa.main(args + ["--input", src, "--seed", str(seed), "--quiet",
                             "--output", os.path.join(os.path.dirname(src), "again", "x.json")])
    assert open(again[0], "rb").read() == open(expected[0], "rb").read()


def test_cli_bad_input_error_and_no_output(tiny_coco, tmp_path):
    src, _, coco = tiny_coco
    coco["annotations"][2]["id"] = coco["annotations"][0]["id"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(coco))
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(CocoFormatError, match="duplicate annotation id 1"):
        mwa.main(["sparse", "--level", "hard", "--input", str(bad)])
    with pytest.raises(CocoFormatError, match="image id 1 file not found"):
        mwa.main(["coarse-points", "--input", src, "--image-root", str(tmp_path / "nowhere")])
    assert sorted(os.listdir(tmp_path)) == before
    with pytest.raises(SystemExit):
        mwa.main(["sparse", "--level", "medium", "--input", src])


def test_cli_as_script_subprocess(tiny_coco, tmp_path):
    src, img_dir, coco = tiny_coco
    script = os.path.join(REPO, "tools", "make_weak_annotations.py")
    r = subprocess.run([sys.executable, script, "clicks", "--input", src, "--seed", "1", "--quiet"],
                       capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(tmp_path / "train_clicks1_s1.json")


def test_cli_exit_status_on_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert mwa.cli(["keep1", "--input", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "expected a COCO JSON object" in err
    assert mwa.cli(["keep1", "--input", str(tmp_path / "missing.json")]) == 2
    assert os.listdir(tmp_path) == ["bad.json"]


def test_visualizer_cli_exit_status(tiny_coco, tmp_path, capsys):
    src, img_dir, coco = tiny_coco
    out_dir = tmp_path / "vis"
    assert va.cli(["--input", src, "--image-root", img_dir, "--output-dir", str(out_dir), "--max-images", "2"]) == 0
    assert "wrote 2 images" in capsys.readouterr().out and len(os.listdir(out_dir)) == 2
    os.remove(os.path.join(img_dir, "im2.png"))  # the second image is missing: nothing is drawn
    out2 = tmp_path / "vis2"
    assert va.cli(["--input", src, "--image-root", img_dir, "--output-dir", str(out2)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "image id 2 file not found" in err[0] and src in err[0]
    assert not out2.exists()


def test_cli_unwritable_output_exit_status(tiny_coco, tmp_path, capsys):
    src, _, _ = tiny_coco
    (tmp_path / "blocker").write_text("a file where a folder should be")
    assert mwa.cli(["keep1", "--input", src, "--output", str(tmp_path / "blocker" / "k.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "blocker" in err[0]
