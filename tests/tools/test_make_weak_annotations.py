"""tools/make_weak_annotations.py as a command, on a tiny synthetic COCO file with tiny images
in tmp_path (the generators are tested in tests/data/test_weak_annotations.py)."""
import json
import os
import subprocess
import sys

import pytest

from pointdet.data.coco_io import CocoFormatError, file_sha256
from pointdet.utils.cli import run_cli
from tests.data.fixtures import write_tiny_images_coco_file
from tools import make_weak_annotations as mwa

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def tiny_coco(tmp_path):
    """3 images of 48x40 (one empty), 2 categories, polygon masks, one crowd annotation."""
    return write_tiny_images_coco_file(tmp_path)


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
    assert run_cli(mwa.main, ["keep1", "--input", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "expected a COCO JSON object" in err
    assert run_cli(mwa.main, ["keep1", "--input", str(tmp_path / "missing.json")]) == 2
    assert os.listdir(tmp_path) == ["bad.json"]


def test_cli_unwritable_output_exit_status(tiny_coco, tmp_path, capsys):
    src, _, _ = tiny_coco
    (tmp_path / "blocker").write_text("a file where a folder should be")
    assert run_cli(mwa.main, ["keep1", "--input", src, "--output", str(tmp_path / "blocker" / "k.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "blocker" in err[0]
