"""The SAPNet demo stage's command sequence (dry run: printed, nothing run or written)."""
import os

from pointdet.engine.demo import DEMO_STAGES
from pointdet.engine.demo.runner import REPO
from tests.engine.demo_fixtures import dry_run_commands


def test_sapnet_stage_commands(capsys, tmp_path):
    assert not DEMO_STAGES["sapnet"].default
    cmds = dry_run_commands(capsys, tmp_path, ["sapnet"])
    tools = [os.path.basename(c[1]) for c in cmds]
    assert tools == ["make_weak_annotations.py", "sam_proposals.py", "sapnet_select.py", "train_net.py",
                     "sapnet_select.py", "evaluate_annotations.py", "evaluate_annotations.py"], tools
    out = os.path.join(str(tmp_path), "sapnet")
    props = os.path.join(out, "nuclei_train_coarse_points_s0_classical.json")
    assert cmds[1][cmds[1].index("--source") + 1] == "classical" and cmds[1][cmds[1].index("--output") + 1] == props
    train = cmds[3]
    assert train[train.index("--config-file") + 1] == "configs/SAPNet/sapnet_mnv2_fpn_nuclei.py"
    assert f"dataloader.train.dataset.proposal_file={props}" in train and f"train.output_dir={out}/sapnet_s0" in train
    assert "train.seed=0" in train and f"dataloader.evaluator.output_dir={out}/sapnet_s0" in train
    assert cmds[2][2] == "top1" and cmds[4][2] == "sapnet"
    assert cmds[4][cmds[4].index("--weights") + 1] == os.path.join(out, "sapnet_s0", "model_final.pth")
    assert [c[3] for c in cmds[5:]] == [os.path.join(out, "top1_boxes.json"), os.path.join(out, "sapnet_s0_boxes.json")]
    assert all(c[4].endswith("nuclei_train.json") for c in cmds[5:])  # against the true boxes
    for c in cmds:
        if "--config-file" in c:
            assert os.path.isfile(os.path.join(REPO, c[c.index("--config-file") + 1]))
    assert not os.listdir(tmp_path)


def test_sapnet_stage_full_pairs_seeds_and_evaluates_on_the_training_tiles(capsys, tmp_path):
    cmds = dry_run_commands(capsys, tmp_path, ["sapnet"], full=True)
    trains = [c for c in cmds if "train_net.py" in c[1] and "--eval-only" not in c]
    runs = [(c[c.index("--config-file") + 1], next(a for a in c if a.startswith("train.seed="))) for c in trains]
    assert runs == [("configs/SAPNet/sapnet_mnv2_fpn_nuclei.py", "train.seed=0"),
                    ("configs/SAPNet/sapnet_mnv2_fpn_nuclei.py", "train.seed=1"),
                    ("configs/SAPNet/solov2_mnv2_fpn_nuclei_top1.py", "train.seed=0"),
                    ("configs/SAPNet/solov2_mnv2_fpn_nuclei_top1.py", "train.seed=1"),
                    ("configs/SAPNet/solov2_mnv2_fpn_nuclei.py", "train.seed=0")]
    evals = [c for c in cmds if "--eval-only" in c]
    assert len(evals) == 5
    out = os.path.join(str(tmp_path), "sapnet")
    for c, name in zip(evals, ["sapnet_s0", "sapnet_s1", "solov2_top1_s0", "solov2_top1_s1", "solov2_gt_s0"]):
        assert f"train.init_checkpoint={out}/{name}/model_final.pth" in c
        assert "dataloader.test.dataset.names=pointdet_nuclei_train" in c
        assert f"dataloader.evaluator.output_dir={out}/{name}/eval_train" in c
    selects = [c for c in cmds if "sapnet_select.py" in c[1] and c[2] == "sapnet"]
    outputs = [c[c.index("--output") + 1] for c in selects]
    assert outputs == [f"{out}/sapnet_s0_boxes.json", f"{out}/sapnet_s1_boxes.json"]


def test_sapnet_summary_reads_the_written_results(capsys, tmp_path):
    import json

    from pointdet.engine.demo.sapnet import print_sapnet_summary

    for name, corloc, miou in [("top1", 0.45, 0.5), ("sapnet_s0", 0.75, 0.672), ("sapnet_s1", 0.77, 0.696)]:
        (tmp_path / f"{name}_boxes_quality.json").write_text(json.dumps({"corloc": corloc, "miou_box": miou}))
    for run, ap in [("sapnet_s0", 23.56), ("solov2_top1_s0", 10.0)]:
        for sub in ("", "eval_train"):
            d = tmp_path / run / sub
            d.mkdir(parents=True, exist_ok=True)
            (d / "score_aware_segm.json").write_text(json.dumps({"metrics": {"AP@S_0": ap + len(sub), "AP@S": 1.25}}))
    print_sapnet_summary(str(tmp_path), seeds=(0, 1), full=True)
    out = capsys.readouterr().out
    assert "| sapnet_s1 | 0.770 | 0.696 |" in out and "| top1 | 0.450 | 0.500 |" in out
    assert "| sapnet_s0 | 23.6 | 1.2 | 33.6 | 1.2 |" in out
    assert "| sapnet_s1 | n/a | n/a | n/a | n/a |" in out and "| solov2_top1_s0 | 10.0 |" in out
