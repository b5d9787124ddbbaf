"""tools/evaluate_points.py as a command (the evaluation itself is tested through
``evaluate_point_ap_files`` in tests/evaluation/test_point_ap.py)."""
import json
import math

import pytest

from pointdet.utils.cli import run_cli
from tests.evaluation.test_point_ap import _det, _gt, _random_problem
from tools.evaluate_points import build_parser, main


def test_prints_the_tables_and_writes_the_outputs(tmp_path, capsys):
    gt, dets = _random_problem(2, n_img=2, n_cat=2)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(dets))
    r = main([str(tmp_path / "gt.json"), str(tmp_path / "res.json"), "--taus", "0.5", "1", "--area-preset", "tiny",
              "--output-dir", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert "Location eval: (AP/AR) @[ dis=1.0 | area=tiny" in out
    assert [float(t) for t in r.taus] == [0.5, 1.0]
    with open(tmp_path / "o" / "point_ap_metrics.json") as f:
        assert json.load(f)["metrics"]["AP@1.0"] == pytest.approx(r.metrics()["AP@1.0"])
    assert (tmp_path / "o" / "point_pr_curves.png").is_file()


def test_custom_area_ranges_and_rules(tmp_path, capsys):
    gt = _gt([{"bbox": [0, 0, 10, 10]}, {"bbox": [50, 50, 40, 40], "ignore": 1}], n_cats=2)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps([_det(5, 5, 0.9), _det(70, 70, 0.8)]))
    args = [str(tmp_path / "gt.json"), str(tmp_path / "res.json"), "--taus", "1",
            "--area-range", "everything", "0", "1e10", "--area-range", "big", "400", "1e10"]
    r = main(args)
    assert r.area_labels == ["everything", "big"] and r.npos[0].tolist() == [1, 0]
    assert math.isnan(r.mean_ap[1, 0, 0])
    r = main(args + ["--ignore-rule", "reference", "--empty-class-rule", "reference"])
    assert r.npos[0].tolist() == [2, 1] and r.ap[1, 0, 0, 0] == 1.0
    capsys.readouterr()
    with pytest.raises(SystemExit):  # a bad range is a usage error of the parser
        main(args + ["--area-range", "bad", "10", "5"])
    assert "min_area < max_area" in capsys.readouterr().err


def test_help_shows_defaults():
    text = build_parser().format_help()
    assert "(default: coco)" in text and "(default: iscrowd_or_ignore)" in text
    assert "(default: [0.5, 1.0, 2.0])" in text and "--area-range" in text


def test_bad_input_is_one_line_and_exit_status_2(tmp_path, capsys):
    (tmp_path / "gt.json").write_text("{")
    (tmp_path / "res.json").write_text("[]")
    assert run_cli(main, [str(tmp_path / "gt.json"), str(tmp_path / "res.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "gt.json" in err and err.count("\n") == 1
