"""tools/self_refine_points.py as a command (the refinement itself is tested through
``self_refine_file`` in tests/engine/test_self_refinement.py)."""
import json

import pytest

from pointdet.utils.cli import run_cli
from tests.engine.test_self_refinement import _point_file
from tools.self_refine_points import main


@pytest.fixture
def inputs(tmp_path):
    pts = tmp_path / "trees_coarse_points_s0.json"
    pts.write_text(json.dumps(_point_file()))
    pred_file = tmp_path / "preds.json"
    pred_file.write_text(json.dumps([{"image_id": 1, "category_id": 5, "score": 0.8, "point": [12.0, 12.0]},
                                     {"image_id": 1, "category_id": 5, "score": 0.6, "point": [70.0, 50.0]}]))
    return str(pts), str(pred_file)


def test_options_reach_the_refinement_and_statistics_are_printed(inputs, tmp_path, capsys):
    pts, preds = inputs
    out = tmp_path / "refined.json"
    argv = ["--points", pts, "--predictions", preds, "--output", str(out)]
    assert run_cli(main, argv + ["--radius", "5", "--score-thresh", "0.1", "--ann-weight", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"self-refinement -> {out}" in printed and "refined: 1" in printed
    res = json.loads(out.read_text())
    assert res["info"]["params"]["radius"] == 5.0 and res["info"]["params"]["ann_weight"] == 1.0
    anns = {a["id"]: a for a in res["annotations"]}
    assert anns[11]["point"] == pytest.approx([(10 + 0.8 * 12) / 1.8] * 2)  # annotated point weighs 1
    assert anns[12]["point"] == [80.0, 50.0]  # 10 px away: beyond --radius 5
    assert run_cli(main, argv + ["--quiet", "--no-nearest-filter"]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text())["info"]["params"]["nearest_filter"] is False


def test_input_errors_are_one_line_and_exit_status_2(inputs, tmp_path, capsys):
    pts, preds = inputs
    with open(preds, "w") as f:
        json.dump([{"image_id": 99, "category_id": 5, "score": 0.5, "point": [1, 1]}], f)
    out = tmp_path / "o.json"
    assert run_cli(main, ["--points", pts, "--predictions", preds, "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "image_id 99" in err and err.count("\n") == 1
    assert not out.exists()
    assert run_cli(main, ["--points", pts, "--predictions", preds, "--output", pts]) == 2
    assert "overwrite" in capsys.readouterr().err
