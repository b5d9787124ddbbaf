"""The demo stages (pointdet.engine.demo, behind tools/run_demo.py and ``make demo``): their
command sequences (a dry run prints them and runs nothing), the thread choice and the stage
registry. The command line is tested in tests/tools/test_run_demo.py."""
import os

import pytest

from pointdet.engine.demo import DEMO_STAGES, DemoRunner, choose_num_threads, register_stage, run_demo
from pointdet.engine.demo.runner import busy_cores
from pointdet.engine.demo.runner import REPO
from tests.engine.demo_fixtures import dry_run_commands, dry_run_output


def _check_cpr_chain(cmds, tmp_path, data, with_localizers):
    tools = [os.path.basename(c[1]) for c in cmds]
    expected = ["make_weak_annotations.py", "train_net.py", "evaluate_annotations.py", "evaluate_annotations.py"]
    assert tools == expected + (["train_net.py", "train_net.py"] if with_localizers else []), tools
    configs = [c[c.index("--config-file") + 1] for c in cmds if "--config-file" in c]
    expected_configs = [f"configs/CPR/cprnet_mnv2_fpn_{data}.py"]
    if with_localizers:
        expected_configs += [f"configs/CPR/p2pnet_mnv2_fpn_{data}_coarse.py", f"configs/CPR/p2pnet_mnv2_fpn_{data}_refined.py"]
    assert configs == expected_configs
    assert all(os.path.isfile(os.path.join(REPO, c)) for c in configs)
    # no schedule override: each run is its config's (the measured) schedule
    assert not any(a.startswith("train.max_iter=") for c in cmds for a in c)
    # the refinement hook writes the refined training file into the CPRNet run's folder
    run_dir = os.path.join(str(tmp_path), f"cpr_{data}", "cprnet")
    refined = os.path.join(run_dir, f"{data}_train_coarse_points_s0_cpr_refined.json")
    assert f"train.output_dir={run_dir}" in cmds[1]
    assert not any(a.startswith("hooks.") for a in cmds[1])
    assert cmds[3][3] == refined  # RSV of the refined file
    if with_localizers:
        assert f"dataloader.train.dataset.json_file={refined}" in cmds[-1]
    assert all("--resume" in c for c in cmds if "train_net.py" in c[1])
    assert not os.listdir(tmp_path)  # a dry run writes nothing


def test_make_demo_runs_the_short_cpr_chain_then_click_supervision_by_default(capsys, tmp_path):
    cmds = dry_run_commands(capsys, tmp_path)
    assert [s.name for s in DEMO_STAGES.values() if s.default] == ["cpr", "clickmil"]
    cpr = cmds[:4]
    _check_cpr_chain(cpr, tmp_path, "nuclei", with_localizers=False)
    assert cmds[4:] == dry_run_commands(capsys, tmp_path, ["clickmil"])


@pytest.mark.parametrize("kw,data", [(dict(stages=["cpr"], full=True), "nuclei"), (dict(stages=["cpr_trees"]), "trees")])
def test_full_cpr_chain_adds_the_localizers(capsys, tmp_path, kw, data):
    cmds = dry_run_commands(capsys, tmp_path, **kw)
    _check_cpr_chain(cmds, tmp_path, data, with_localizers=True)


def test_iteration_overrides_threads_and_unknown_stage(capsys, tmp_path):
    cmds = dry_run_commands(capsys, tmp_path, stages=["cpr"], full=True, cpr_iters=7, p2p_iters=5)
    train = [c for c in cmds if c[1].endswith("train_net.py")]
    assert "train.max_iter=7" in train[0] and "train.checkpointer.period=7" in train[0]
    assert all("train.max_iter=5" in c and "train.eval_period=5" in c for c in train[1:])
    assert not any(a.startswith("--num-threads") for c in train for a in c)  # --num-threads 0: torch's default
    assert "--num-threads=3" in dry_run_output(capsys, tmp_path, stages=["detector"], num_threads=3)
    with pytest.raises(KeyError, match="unknown demo stage"):
        dry_run_output(capsys, tmp_path, stages=["nope"])


@pytest.mark.parametrize("cpus,load,threads", [(2, 0.0, 2), (2, 0.4, 2), (2, 1.2, 1), (2, 6.0, 1), (16, 3.6, 12)])
def test_threads_follow_the_free_cores(cpus, load, threads):
    assert 0.0 <= busy_cores(0.05) <= (os.cpu_count() or 1) + 1e-6
    assert choose_num_threads(cpu_count=cpus, busy=load) == threads


def test_a_stage_runs_resumes_and_reruns_with_force(tmp_path, capsys):
    out = tmp_path / "made.txt"
    name = "test_touch_stage"
    cmd = ["python3", "-c", f"open({str(out)!r}, 'a').write('x')"]

    @register_stage(name, "writes one file", default=False)
    def _stage(runner):
        runner.run(cmd, outputs=[str(out)])

    try:
        assert not DEMO_STAGES[name].default
        run_demo([name], DemoRunner(output_dir=str(tmp_path)))
        run_demo([name], DemoRunner(output_dir=str(tmp_path)))  # complete: skipped
        assert out.read_text() == "x"
        run_demo([name], DemoRunner(output_dir=str(tmp_path), force=True))
        assert out.read_text() == "xx"
        assert "skip (outputs exist)" in capsys.readouterr().out
        with pytest.raises(KeyError, match="registered twice"):
            register_stage(name, "again")(_stage)
        with pytest.raises(KeyError, match="unknown demo stage"):
            run_demo(["nope"], DemoRunner(output_dir=str(tmp_path)))
    finally:
        DEMO_STAGES.pop(name, None)


def test_a_truncated_checkpoint_is_not_a_finished_step(tmp_path):
    ckpt = tmp_path / "model_final.pth"
    ckpt.write_bytes(b"PK\x03\x04 truncated")
    assert not DemoRunner._complete(str(ckpt))
    assert DemoRunner._complete(str(tmp_path))  # any other output: it exists


@pytest.mark.parametrize("max_iter", [900, 1500])
def test_schedule_overrides_rebuild_the_demo_schedule(max_iter):
    """The overrides applied to a 300-iteration demo config give the multiplier that
    multistep_with_warmup(max_iter) builds: warm-up of 100 iterations, x0.1 at 2/3 and 8/9."""
    from detectron2.config import LazyConfig, instantiate

    from pointdet.engine.demo.runner import schedule_overrides
    from pointdet.solver import multistep_with_warmup

    cfg = LazyConfig.load(os.path.join(REPO, "configs/SIOD/centernet_mnv2_trees_fsod.py"))
    before = instantiate(cfg.lr_multiplier)
    cfg = LazyConfig.apply_overrides(cfg, schedule_overrides(max_iter))
    assert cfg.train.max_iter == cfg.train.eval_period == max_iter
    assert cfg.train.checkpointer.period == 250  # an interrupted long run resumes from the last 250
    short = LazyConfig.apply_overrides(LazyConfig.load(os.path.join(REPO, "configs/SIOD/centernet_mnv2_trees_fsod.py")),
                                       schedule_overrides(60, warmup_iters=20))
    assert short.train.checkpointer.period == 60
    got, want = instantiate(cfg.lr_multiplier), instantiate(multistep_with_warmup(max_iter))
    points = [0, 50, 100, 250, 299, 300, 599, 600, 601, 799, 800, 801, 1000, 1333, 1334, 1499]
    ts = [i / max_iter for i in points if i < max_iter]
    assert [got(t) for t in ts] == pytest.approx([want(t) for t in ts])
    # hand values: full rate after the warm-up, x0.1 after 2/3, x0.01 after 8/9 of training
    assert got(100 / max_iter) == pytest.approx(1.0)
    assert got((round(0.67 * max_iter) + 1) / max_iter) == pytest.approx(0.1)
    assert got((max_iter - 1) / max_iter) == pytest.approx(0.01)
    assert before(250 / 300) == pytest.approx(0.1)  # the config's own schedule differed
