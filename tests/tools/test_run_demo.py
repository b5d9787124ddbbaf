"""tools/run_demo.py: the demo's command sequence (``--dry-run`` prints it, runs nothing)."""
import os
import re
import shlex

import pytest

from tools.run_demo import REPO, main


def _commands(capsys, *argv):
    main(["--dry-run", *argv])
    out = capsys.readouterr().out
    marks = ("[demo] $ ", "[demo] skip (outputs exist): ")  # to run / already done (the demo data's points)
    return [shlex.split(line.split(m, 1)[1]) for line in out.splitlines() for m in marks if line.startswith(m)]


@pytest.mark.parametrize("stage,data", [("cpr", "nuclei"), ("cpr_trees", "trees")])
def test_cpr_stage_runs_the_chain_with_the_configs_schedules(capsys, tmp_path, stage, data):
    cmds = _commands(capsys, "--stages", stage, "--output-dir", str(tmp_path))
    tools = [os.path.basename(c[1]) for c in cmds]
    assert tools == ["make_weak_annotations.py", "train_net.py", "evaluate_annotations.py",
                     "evaluate_annotations.py", "train_net.py", "train_net.py"], tools
    configs = [c[c.index("--config-file") + 1] for c in cmds if "--config-file" in c]
    assert configs == [f"configs/CPR/cprnet_mnv2_fpn_{data}.py", f"configs/CPR/p2pnet_mnv2_fpn_{data}_coarse.py",
                       f"configs/CPR/p2pnet_mnv2_fpn_{data}_refined.py"]
    assert all(os.path.isfile(os.path.join(REPO, c)) for c in configs)
    # no schedule override: each run is its config's (the measured) schedule
    assert not any(a.startswith("train.max_iter=") for c in cmds for a in c)
    # the refined P2PNet trains on the file the CPRNet run writes, and training resumes
    # (written by the CPRNet run's refinement hook into that run's folder, with no override)
    run_dir = os.path.join(str(tmp_path), f"cpr_{data}", "cprnet")
    refined = os.path.join(run_dir, f"{data}_train_coarse_points_s0_cpr_refined.json")
    assert f"dataloader.train.dataset.json_file={refined}" in cmds[-1]
    assert f"train.output_dir={run_dir}" in cmds[1]
    assert not any(a.startswith("hooks.") for a in cmds[1])
    assert all("--resume" in c for c in cmds if "train_net.py" in c[1])
    assert not os.listdir(tmp_path)  # a dry run writes nothing


def test_iteration_overrides_and_unknown_stage(capsys, tmp_path):
    cmds = _commands(capsys, "--stages", "cpr", "--cpr-iters", "7", "--p2p-iters", "5", "--output-dir", str(tmp_path))
    train = [c for c in cmds if c[1].endswith("train_net.py")]
    assert "train.max_iter=7" in train[0] and "train.checkpointer.period=7" in train[0]
    assert all("train.max_iter=5" in c and "train.eval_period=5" in c for c in train[1:])
    with pytest.raises(SystemExit):
        main(["--dry-run", "--stages", "nope"])
    assert re.search(r"unknown stage", capsys.readouterr().err)
