"""The click-supervision demo stage's command sequence (dry run: nothing runs or is written)."""
import os

from pointdet.engine.demo import DEMO_STAGES
from pointdet.engine.demo.runner import REPO
from tests.engine.demo_fixtures import dry_run_commands


def test_clickmil_stage_commands(capsys, tmp_path):
    assert DEMO_STAGES["clickmil"].default  # part of make demo
    cmds = dry_run_commands(capsys, tmp_path, ["clickmil"])
    tools = [os.path.basename(c[1]) for c in cmds]
    assert tools == ["make_weak_annotations.py"] * 3 + ["fit_click_area.py", "click_proposals.py"] + ["click_mil.py"] * 3
    mil = cmds[-3:]
    # the three MIL runs differ only in their click terms
    assert "mil.use_clicks=False" in mil[0] and not any("use_clicks" in a for c in mil[1:] for a in c)
    assert "--mu" in mil[2] and "--mu" not in mil[0] + mil[1]
    assert mil[0][mil[0].index("--clicks") + 1] == mil[1][mil[1].index("--clicks") + 1]
    assert mil[2][mil[2].index("--clicks") + 1].endswith("trees_train_clicks2_s0.json")
    cfg = mil[0][mil[0].index("--config-file") + 1]
    assert os.path.isfile(os.path.join(REPO, cfg))
    assert not os.listdir(tmp_path)
