"""The SAPNet demo stage's command sequence (dry run: printed, nothing run or written)."""
import os

from pointdet.engine.demo import DEMO_STAGES
from pointdet.engine.demo.runner import REPO
from tests.engine.demo_fixtures import dry_run_commands


def test_sapnet_stage_commands(capsys, tmp_path):
    assert not DEMO_STAGES["sapnet"].default
    cmds = dry_run_commands(capsys, tmp_path, ["sapnet"])
    tools = [os.path.basename(c[1]) for c in cmds]
    assert tools == ["make_weak_annotations.py", "sam_proposals.py", "train_net.py", "sapnet_select.py",
                     "sapnet_select.py", "evaluate_annotations.py", "evaluate_annotations.py"], tools
    out = os.path.join(str(tmp_path), "sapnet")
    props = os.path.join(out, "nuclei_train_coarse_points_s0_classical.json")
    assert cmds[1][cmds[1].index("--source") + 1] == "classical" and cmds[1][cmds[1].index("--output") + 1] == props
    train = cmds[2]
    assert train[train.index("--config-file") + 1] == "configs/SAPNet/sapnet_mnv2_fpn_nuclei.py"
    assert f"dataloader.train.dataset.proposal_file={props}" in train and f"train.output_dir={out}/sapnet" in train
    assert cmds[3][2] == "top1" and cmds[4][2] == "sapnet"
    assert cmds[4][cmds[4].index("--weights") + 1] == os.path.join(out, "sapnet", "model_final.pth")
    assert [c[3] for c in cmds[5:]] == [os.path.join(out, "top1_boxes.json"), os.path.join(out, "sapnet_boxes.json")]
    assert all(c[4].endswith("nuclei_train.json") for c in cmds[5:])  # against the true boxes
    for c in cmds:
        if "--config-file" in c:
            assert os.path.isfile(os.path.join(REPO, c[c.index("--config-file") + 1]))
    assert not os.listdir(tmp_path)


def test_sapnet_stage_full_adds_the_solov2_baselines(capsys, tmp_path):
    cmds = dry_run_commands(capsys, tmp_path, ["sapnet"], full=True)
    configs = [c[c.index("--config-file") + 1] for c in cmds if "train_net.py" in c[1]]
    assert configs == ["configs/SAPNet/sapnet_mnv2_fpn_nuclei.py", "configs/SAPNet/solov2_mnv2_fpn_nuclei_top1.py",
                       "configs/SAPNet/solov2_mnv2_fpn_nuclei.py"]
