"""Co-mining under DistributedDataParallel: ``tools/train_net.py --num-gpus 2`` (two gloo CPU
processes, one image each) logs the same losses as one process on the same image (the two
processes see identical data, so the averaged gradients equal the single-process ones)."""
import json

import pytest

from tests.engine.comining_tiny import write_comining_tiny_config
from tests.tools.test_train_net import _train_net


def _losses(out):
    with open(out / "metrics.json") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {r["iteration"]: {k: v for k, v in r.items() if k.startswith(("loss_", "comining/"))} for r in rows
            if "loss_cls_original" in r}  # fmt: skip


@pytest.mark.timeout(600)
def test_two_gloo_processes_log_the_losses_of_one(tmp_path):
    cfg = write_comining_tiny_config(str(tmp_path / "data"))
    one, two = tmp_path / "one", tmp_path / "two"
    _train_net(tmp_path, "--config-file", cfg, f"train.output_dir={one}", "dataloader.train.total_batch_size=1")
    _train_net(tmp_path, "--num-gpus", "2", "--dist-url", "auto", "--config-file", cfg, f"train.output_dir={two}",
               "dataloader.train.total_batch_size=2")  # fmt: skip
    assert "World size: 2" in (two / "log.txt").read_text()
    a, b = _losses(one), _losses(two)
    assert sorted(a) == sorted(b) == [0, 1, 2]
    for it in a:
        assert set(a[it]) == set(b[it]) and {"loss_cls_original", "loss_box_reg_augmented",
                                             "comining/pseudo_per_image_original"} <= set(a[it])  # fmt: skip
        for k in a[it]:
            assert b[it][k] == pytest.approx(a[it][k], rel=1e-4, abs=1e-6), (it, k)
    assert (two / "model_final.pth").exists()
