"""The SIOD demo stage's command sequence (dry run): Keep1 files per seed, then per detector and
seed the paired SIOD-base / DMiner runs (and FSOD in the full form), every config existing."""
import json
import os

from pointdet.engine.demo import DEMO_STAGES
from pointdet.engine.demo.runner import REPO
from pointdet.engine.demo.siod import FULL_ITERS, SHORT_ITERS
from tests.engine.demo_fixtures import dry_run_commands


def _configs(cmds):
    return [c[c.index("--config-file") + 1] for c in cmds if "--config-file" in c]


def test_siod_stage_is_registered_off_by_default():
    assert "siod" in DEMO_STAGES and DEMO_STAGES["siod"].default is False


def test_short_siod_stage_commands(capsys, tmp_path):
    cmds = dry_run_commands(capsys, tmp_path, ["siod"])
    assert os.path.basename(cmds[0][1]) == "make_weak_annotations.py" and cmds[0][2] == "keep1"
    assert cmds[0][cmds[0].index("--seed") + 1] == "0"
    assert _configs(cmds) == ["configs/SIOD/centernet_mnv2_trees_siod_base.py", "configs/SIOD/centernet_mnv2_trees_siod_dminer.py"]
    base, miner = [c for c in cmds if "--config-file" in c]
    # paired: same Keep1 file and seed, only the config (DMiner on/off) differs
    pick = lambda c: sorted(a for a in c if a.startswith(("train.seed=", "dataloader.train.dataset.names=")))  # noqa: E731
    assert pick(base) == pick(miner) == ["dataloader.train.dataset.names=pointdet_trees_train_keep1_s0", "train.seed=0"]
    # a short schedule with its own warm-up, the same for both runs
    assert all(f"train.max_iter={SHORT_ITERS}" in c and f"lr_multiplier.warmup_length={20 / SHORT_ITERS}" in c
               for c in (base, miner))  # fmt: skip
    assert not os.listdir(tmp_path)


def test_full_siod_stage_commands(capsys, tmp_path):
    cmds = dry_run_commands(capsys, tmp_path, ["siod"], full=True)
    seeds = [c[c.index("--seed") + 1] for c in cmds if "keep1" in c]
    assert seeds == ["0", "1"]
    configs = _configs(cmds)
    assert len(configs) == 2 * (1 + 2 * 2)
    for det in ("centernet_mnv2", "fcos_mnv2_fpn"):
        assert configs.count(f"configs/SIOD/{det}_trees_fsod.py") == 1
        assert configs.count(f"configs/SIOD/{det}_trees_siod_dminer.py") == 2
    assert all(os.path.isfile(os.path.join(REPO, c)) for c in configs)
    # every run of the full form has the same longer schedule (FSOD, base and DMiner alike)
    trains = [c for c in cmds if "--config-file" in c]
    milestones = f"lr_multiplier.scheduler.milestones=[{round(0.67 * FULL_ITERS)}, {round(0.89 * FULL_ITERS)}]"
    assert all(f"train.max_iter={FULL_ITERS}" in c and milestones in c for c in trains)
    outputs = [a for c in cmds for a in c if a.startswith("train.output_dir=")]
    assert len(set(outputs)) == len(outputs)


def test_summary_prints_each_run_and_plots_one_panel_per_detector(tmp_path, capsys):
    from pointdet.engine.demo.siod import print_siod_summary

    thresholds = [i / 10 for i in range(10)]
    runs = []
    for det, label, ap in (("centernet_mnv2", "fsod", 10.0), ("centernet_mnv2", "siod_base_s0", 2.0),
                           ("fcos_mnv2_fpn", "siod_dminer_s0", 4.0)):  # fmt: skip
        d = tmp_path / f"{det}_{label}"
        d.mkdir()
        metrics = {"AP@S": ap / 2, **{f"AP@S_{i}": ap * (1 - t) for i, t in enumerate(thresholds)}}
        metrics["AP@S_9"] = None
        (d / "score_aware_bbox.json").write_text(json.dumps({"thresholds": thresholds, "metrics": metrics}))
        runs.append((det, label, str(d)))
    print_siod_summary(runs, str(tmp_path / "plot.png"))
    out = capsys.readouterr().out
    assert "| centernet_mnv2_fsod | 5.0 | 10.0 | 7.0 | 5.0 | 3.0 | - |" in out
    assert "| fcos_mnv2_fpn_siod_dminer_s0 | 2.0 | 4.0 |" in out
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
