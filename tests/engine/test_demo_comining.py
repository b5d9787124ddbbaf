"""The Co-mining demo stage (pointdet.engine.demo.comining): its command sequence in a dry run
(short and full form) and its summary of finished runs."""
import json
import os

from pointdet.engine.demo import DEMO_STAGES
from pointdet.engine.demo.comining import ABLATION_SCHEMES, FULL_ITERS, print_comining_summary, read_last_metrics
from pointdet.engine.demo.runner import REPO
from tests.engine.demo_fixtures import dry_run_commands


def test_stage_is_registered_off_by_default():
    assert "comining" in DEMO_STAGES and DEMO_STAGES["comining"].default is False
    assert "comining_joint" in DEMO_STAGES and DEMO_STAGES["comining_joint"].default is False


def test_short_form_commands(capsys, tmp_path):
    cmds = dry_run_commands(capsys, tmp_path, ["comining"])
    assert [os.path.basename(c[1]) for c in cmds] == ["make_weak_annotations.py", "train_net.py", "train_net.py",
                                                      "mine_boxes.py"]  # fmt: skip
    gen = cmds[0]
    assert gen[2:4] == ["sparse", "--level"] and gen[4] == "hard" and gen[gen.index("--seed") + 1] == "0"
    assert gen[gen.index("--input") + 1].endswith(os.path.join("trees", "annotations", "trees_train.json"))
    configs = [c[c.index("--config-file") + 1] for c in cmds[1:]]
    assert configs == ["configs/CoMining/retinanet_mnv2_fpn_trees_original.py",
                       "configs/CoMining/retinanet_mnv2_fpn_trees_comining.py",
                       "configs/CoMining/retinanet_mnv2_fpn_trees_comining.py"]  # fmt: skip
    assert all(os.path.isfile(os.path.join(REPO, c)) for c in configs)
    run_dirs = [os.path.join(str(tmp_path), "comining", f"retinanet_{s}_s0") for s in ("original", "comining")]
    # the Co-mining run's final mined boxes are measured over all tiles (skipped when the hook did)
    assert cmds[3][cmds[3].index("--weights") + 1] == os.path.join(run_dirs[1], "model_final.pth")
    for c, d in zip(cmds[1:3], run_dirs):
        assert f"train.output_dir={d}" in c and "train.seed=0" in c and "--resume" in c
        assert not any(a.startswith(("train.max_iter=", "optimizer.lr=")) for a in c)  # the configs' recipe
    assert not os.listdir(tmp_path)  # a dry run writes nothing


def test_full_form_pairs_seeds_for_both_detectors(capsys, tmp_path):
    cmds = dry_run_commands(capsys, tmp_path, ["comining"], full=True)
    trainings = [c for c in cmds if os.path.basename(c[1]) == "train_net.py"]
    assert len(cmds) == 1 + 8 + 4  # the sparse set, 8 trainings, 4 measurements of mined boxes
    runs = [(c[c.index("--config-file") + 1], [a for a in c if a.startswith("train.seed=")][0]) for c in trainings]
    expected = [(f"configs/CoMining/{d}_mnv2_fpn_trees_{s}.py", f"train.seed={seed}")
                for d in ("retinanet", "fcos") for seed in (0, 1) for s in ("original", "comining")]  # fmt: skip
    assert runs == expected
    # every run of the full form has the same longer schedule (with its milestones rebuilt)
    assert all(f"train.max_iter={FULL_ITERS}" in c and f"lr_multiplier.scheduler.num_updates={FULL_ITERS}" in c
               for c in trainings)  # fmt: skip


def test_joint_stage_adds_the_joint_scheme_to_the_fcos_pairs(capsys, tmp_path):
    short = dry_run_commands(capsys, tmp_path, ["comining_joint"])
    configs = [c[c.index("--config-file") + 1] for c in short if os.path.basename(c[1]) == "train_net.py"]
    assert configs == [f"configs/CoMining/fcos_mnv2_fpn_trees_{s}.py" for s in ABLATION_SCHEMES]
    assert all(os.path.isfile(os.path.join(REPO, c)) for c in configs)
    full = dry_run_commands(capsys, tmp_path, ["comining_joint"], full=True)
    trainings = [c for c in full if os.path.basename(c[1]) == "train_net.py"]
    out_dirs = [[a for a in c if a.startswith("train.output_dir=")][0] for c in trainings]
    # the same directories as the comining stage's full form: its finished runs are reused
    assert out_dirs == [f"train.output_dir={os.path.join(str(tmp_path), 'comining', f'fcos_{s}_s{seed}')}"
                        for seed in (0, 1) for s in ABLATION_SCHEMES]  # fmt: skip
    assert all(f"train.max_iter={FULL_ITERS}" in c for c in trainings)
    # mined boxes are measured for the Co-mining runs only (joint does not co-generate)
    mined = [c[c.index("--weights") + 1] for c in full if os.path.basename(c[1]) == "mine_boxes.py"]
    assert mined == [os.path.join(str(tmp_path), "comining", f"fcos_comining_s{s}", "model_final.pth") for s in (0, 1)]


def test_summary_reads_the_last_metrics(tmp_path, capsys):
    out = tmp_path / "comining"
    for scheme, ap in (("original", 10.0), ("comining", 12.5)):
        d = out / f"retinanet_{scheme}_s0"
        d.mkdir(parents=True)
        rows = [{"iteration": 99, "bbox/AP": 1.0}, {"iteration": 299, "bbox/AP": ap, "bbox/AP50": 2 * ap}]
        if scheme == "comining":
            (d / "mined").mkdir()
            (d / "mined" / "mined_quality.json").write_text(json.dumps(
                {"images": 60, "mined_per_image": 3.25, "mined_precision": 0.5, "mined_recall": 0.25}))  # fmt: skip
        (d / "metrics.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert read_last_metrics(str(d / "metrics.json"), ["bbox/AP", "x"]) == {"bbox/AP": 12.5, "x": None}
    print_comining_summary(str(out), ["retinanet"], [0])
    text = capsys.readouterr().out
    assert "| retinanet | 0 | original | 10.0 | 20.0 | n/a | n/a | n/a |" in text
    assert "| retinanet | 0 | comining | 12.5 | 25.0 | 3.2 | 50.0 | 25.0 |" in text
    print_comining_summary(str(out), ["retinanet"], [0], ABLATION_SCHEMES)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[demo] | retinanet")]
    assert [r.split(" | ")[3] for r in rows] == list(ABLATION_SCHEMES)
    assert rows[1].endswith("| joint | n/a | n/a | n/a | n/a | n/a |")  # not run yet
