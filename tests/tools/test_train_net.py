"""tools/train_net.py as a command: a trainer named by the config, and a 2-process gloo run,
on the tiny synthetic dataset of tests/engine/tiny_train.py (CPU)."""
import json
import os
import subprocess
import sys

import pytest
import torch

from tests.engine.tiny_train import REPO_ROOT, write_tiny_config


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    return write_tiny_config(str(tmp_path_factory.mktemp("tiny_data")))


def _train_net(cwd, *argv, timeout=280):
    cmd = [sys.executable, os.path.join(REPO_ROOT, "tools", "train_net.py"), "--num-threads", "1", *argv]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="" if not torch.cuda.is_available() else
               os.environ.get("CUDA_VISIBLE_DEVICES", ""))  # fmt: skip
    proc = subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.timeout(300)
def test_config_names_a_custom_trainer(tiny_config, tmp_path):
    """A config whose ``train.trainer`` names another training loop trains through the tool
    unchanged; the recipe written for 2 processes is scaled to 1 (twice the iterations)."""
    cfg_file = tmp_path / "custom_trainer.py"
    cfg_file.write_text(
        "from detectron2.config import LazyCall as L\n"
        "from detectron2.config import LazyConfig\n"
        "from tests.engine.tiny_train import CountingTrainer\n"
        f"_base = LazyConfig.load({tiny_config!r})\n"
        "model, dataloader, optimizer, lr_multiplier, train = (_base.model, _base.dataloader,\n"
        "    _base.optimizer, _base.lr_multiplier, _base.train)\n"
        "train.trainer = L(CountingTrainer)(tag='counting')\n"
        "train.reference_world_size = 2\n"
        "dataloader.train.total_batch_size = 4\n"
    )
    out = tmp_path / "out"
    _train_net(tmp_path, "--config-file", str(cfg_file), f"train.output_dir={out}", "train.max_iter=2",
               "train.eval_period=100")  # fmt: skip
    with open(out / "metrics.json") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    assert [r["counting_steps"] for r in rows if "counting_steps" in r] == [1, 2, 3, 4]
    log = (out / "log.txt").read_text()
    assert "train.max_iter 2 -> 4" in log
    assert "CountingTrainer" in (out / "config.yaml").read_text()
    assert (out / "model_final.pth").exists()


@pytest.mark.timeout(300)
def test_two_process_gloo_run(tiny_config, tmp_path):
    """``--num-gpus 2`` on a CPU machine spawns two gloo processes that train together."""
    out = tmp_path / "ddp"
    _train_net(tmp_path, "--num-gpus", "2", "--dist-url", "auto", "--config-file", tiny_config,
               f"train.output_dir={out}", "train.max_iter=2", "train.eval_period=2",
               "dataloader.train.total_batch_size=2")  # fmt: skip
    log = (out / "log.txt").read_text()
    assert "World size: 2" in log
    assert (out / "model_final.pth").exists()
    assert "copypaste: Task: bbox" in log
