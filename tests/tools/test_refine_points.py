"""tools/refine_points.py as a command (the refinement itself is tested through
``refine_with_checkpoint`` in tests/engine/test_refinement.py)."""
import json

import pytest

from pointdet.utils.cli import run_cli
from tests.engine.test_refinement import _write_point_file
from tests.modeling.fixtures import constant_scores, tiny_cprnet, write_tiny_cprnet_config
from tools.refine_points import main


def test_refines_prints_rsv_and_exit_status(tmp_path, capsys):
    src, root = _write_point_file(tmp_path)
    model = tiny_cprnet()
    constant_scores(model, 0.0)
    cfg, weights = write_tiny_cprnet_config(tmp_path, model)
    out = tmp_path / "refined.json"
    argv = ["--config-file", cfg, "--weights", weights, "--input", src, "--image-root", root, "--output", str(out),
            "--quiet", "--device", "cpu"]
    assert run_cli(main, argv) == 0
    printed = capsys.readouterr().out
    assert f"CPR refinement -> {out}" in printed and "RSV before: 0.00521" in printed
    assert {a["id"]: a for a in json.loads(out.read_text())["annotations"]}[11]["point"] == pytest.approx(
        [16.0 / 3.0, 16.0], abs=1e-3)
    # overrides after the options reach the config
    assert run_cli(main, argv + ["model.refinement.refine_th=2.0"]) == 0
    assert {a["id"]: a for a in json.loads(out.read_text())["annotations"]}[11]["point"] == [4.0, 16.0]
    capsys.readouterr()
    argv[argv.index("--weights") + 1] = str(tmp_path / "missing.pth")
    assert run_cli(main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.pth" in err and err.count("\n") == 1
