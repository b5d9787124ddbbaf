"""tools/evaluate_score_aware.py as a command (the evaluation itself is tested through
``evaluate_score_aware_tasks`` in tests/evaluation/test_score_aware.py)."""
import json

import numpy as np

from pointdet.utils.cli import run_cli
from tests.evaluation.test_score_aware import _one_gt, _write, make_dets, make_gt
from tools.evaluate_score_aware import main


def test_prints_a_table_per_task_and_writes_the_outputs(tmp_path, capsys):
    rng = np.random.default_rng(6)
    gt = make_gt(rng, 3, 2, with_masks=True)
    gp, rp = _write(tmp_path / "gt.json", gt), _write(tmp_path / "res.json", make_dets(rng, gt, with_masks=True))
    out_json, png = tmp_path / "out" / "sa.json", tmp_path / "out" / "sa.png"
    argv = [gp, rp, "--iou-type", "bbox", "segm", "--output-json", str(out_json), "--plot", str(png)]
    assert run_cli(main, argv) == 0
    printed = capsys.readouterr().out
    assert "(SIOD), bbox, values in percent" in printed and "(SIOD), segm, values in percent" in printed
    assert "| S_3 | 0.30000000000000004 |" in printed
    assert set(json.load(open(out_json))) == {"bbox", "segm"} and png.is_file()


def test_bad_input_is_one_line_and_exit_status_2(tmp_path, capsys):
    gp = _write(tmp_path / "gt.json", _one_gt())
    rp = _write(tmp_path / "res.json", [{"image_id": 5, "category_id": 1, "bbox": [0, 0, 2, 2], "score": 0.1}])
    out_json = tmp_path / "o.json"
    assert run_cli(main, [gp, rp, "--output-json", str(out_json)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "image id 5" in err and err.count("\n") == 1
    assert not out_json.exists()
    before = open(rp, "rb").read()
    assert run_cli(main, [gp, rp, "--plot", rp]) == 2
    assert "would overwrite the input file" in capsys.readouterr().err
    assert open(rp, "rb").read() == before
