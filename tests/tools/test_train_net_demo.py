"""tools/train_net.py on the real demo data: a 2-process gloo run of a point-supervised model."""
import json
import os
import subprocess
import sys

import pytest

from pointdet.data.annotations import run_coarse_points
from pointdet.data.demo import demo_root

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.timeout(600)
def test_two_process_gloo_p2pnet_on_demo_coarse_points(tmp_path):
    ann = os.path.join(demo_root(), "trees", "annotations")
    coarse = os.path.join(ann, "trees_train_coarse_points_s0.json")
    if not os.path.exists(coarse):  # deterministic: the same bytes `make data` writes
        run_coarse_points(os.path.join(ann, "trees_train.json"), coarse, seed=0, verbose=False)
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, os.path.join(REPO_ROOT, "tools", "train_net.py"),
        "--num-gpus", "2", "--num-threads", "1", "--dist-url", "auto",
        "--config-file", os.path.join(REPO_ROOT, "configs", "CPR", "p2pnet_mnv2_fpn_trees_coarse.py"),
        f"train.output_dir={out}", "train.max_iter=2", "train.eval_period=2",
        "dataloader.train.total_batch_size=2", "dataloader.test.dataset.names=pointdet_trees_test",
    ]  # fmt: skip
    # the subprocess runs in tmp_path: give it the absolute dataset root
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", DETECTRON2_DATASETS=os.path.abspath(os.path.dirname(demo_root())))
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=580)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = (out / "log.txt").read_text()
    assert "World size: 2" in log
    assert (out / "model_final.pth").exists()
    with open(out / "point_ap_metrics.json") as f:
        metrics = json.load(f)["metrics"]
    assert 0.0 <= metrics["AP@1.0"] <= 100.0
    assert "copypaste: Task: points" in log  # the point evaluator ran after the gather
