"""tools/evaluate_annotations.py as a command: each sub-command reaches its library function
(tested in tests/evaluation/test_annotation_quality.py), prints, and keeps the exit convention."""
import json

import pytest

from pointdet.utils.cli import run_cli
from tests.evaluation.test_annotation_quality import ERASED, GT, POINTS
from tools.evaluate_annotations import main


@pytest.fixture
def inputs(tmp_path):
    for name, obj in (("gt.json", GT), ("pts.json", POINTS), ("erased.json", ERASED)):
        (tmp_path / name).write_text(json.dumps(obj))
    return tuple(str(tmp_path / n) for n in ("pts.json", "gt.json", "erased.json"))


def test_subcommands(inputs, tmp_path, capsys):
    pts, gt, erased = inputs
    argv = ["rsv", pts, gt, "--size-edges", "5,12", "--bins", "10", "--heatmap", str(tmp_path / "heat.png"),
            "--output-json", str(tmp_path / "rsv.json")]
    assert run_cli(main, argv) == 0
    out = capsys.readouterr().out
    assert "RSV = 0.0204 over 3 objects" in out and "size 5-12 px: RSV = 0.0000 (n=1)" in out
    assert (tmp_path / "heat.png").exists() and json.loads((tmp_path / "rsv.json").read_text())["num"] == 3
    assert run_cli(main, ["boxes", gt, gt, "--iou", "0.9"]) == 0
    assert "CorLoc = 1.0000  mIoU_box = 1.0000" in capsys.readouterr().out
    (tmp_path / "mined.json").write_text(json.dumps([{"image_id": 1, "category_id": 2, "bbox": [20, 20, 10, 10],
                                                      "score": 0.3}]))
    assert run_cli(main, ["mined", str(tmp_path / "mined.json"), erased, "--score-thresh", "0.5"]) == 0
    assert "precision = nan  recall = 0.0000  (TP 0 / pseudo 0 / erased 3)" in capsys.readouterr().out


def test_input_errors_are_one_line_and_exit_status_2(inputs, tmp_path, capsys):
    pts, gt, _ = inputs
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert run_cli(main, ["rsv", pts, gt, "--output-json", gt]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "would overwrite the input file" in err and err.count("\n") == 1
    assert run_cli(main, ["boxes", str(tmp_path / "missing.json"), gt]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
