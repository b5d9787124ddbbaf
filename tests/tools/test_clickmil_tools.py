"""The click-supervision command-line tools on tiny images: proposals -> mu -> MIL -> box file."""
import json
import os

import pytest

from tests.engine.test_clickmil import tiny  # noqa: F401  (fixture)
from tools import click_mil, click_proposals, fit_click_area


def test_tools_chain(tiny, capsys):  # noqa: F811
    t = tiny["tmp"]
    click_proposals.main(["--input", tiny["clicks"], "--image-root", tiny["root"], "--output", str(t / "p.json"),
                          "--max-proposals", "40"])
    assert os.path.isfile(t / "p.json") and os.path.isfile(t / "p.pkl")
    assert "4 images" in capsys.readouterr().out
    # mu needs every object's two clicks inside: put annotation 2's back
    with open(tiny["clicks"]) as f:
        c = json.load(f)
    c["annotations"][1]["clicks"] = [[40.0, 34.0], [48.0, 42.0]]
    calib = str(t / "calib.json")
    with open(calib, "w") as f:
        json.dump(c, f)
    fit_click_area.main(["--clicks", calib, "--gt", tiny["gt"], "--output", str(t / "mu.json")])
    assert "n = 4" in capsys.readouterr().out
    with pytest.raises(ValueError):  # an output over an input is refused
        fit_click_area.main(["--clicks", calib, "--gt", tiny["gt"], "--output", calib])
    click_mil.main(["--config-file", "configs/common/models/clickmil_mnv2.py", "--clicks", calib,
                    "--image-root", tiny["root"], "--proposals", str(t / "p.pkl"), "--gt", tiny["gt"],
                    "--mu", str(t / "mu.json"), "--output", str(t / "out" / "boxes.json"),
                    "model.backbone.weights=''", "mil.num_iterations=1", "mil.num_folds=2", "mil.lbfgs_iters=5"])
    out = capsys.readouterr().out
    assert "iteration 0: CorLoc" in out and "iteration 1: CorLoc" in out
    with open(t / "out" / "boxes.json") as f:
        boxes = json.load(f)
    assert all("bbox" in a for a in boxes["annotations"])
    assert boxes["info"]["params"]["mu"]["slope"] == pytest.approx(json.load(open(t / "mu.json"))["mu"]["slope"])
    assert os.path.isfile(t / "out" / "corloc.png")
