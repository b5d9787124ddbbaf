"""pointdet.modeling.cpr.benchmark on the tiny CPRNet (CPU, one step, no memory child)."""
import pytest
import torch

from pointdet.modeling.cpr.benchmark import benchmark_cprnet, format_cprnet_benchmark, synthetic_point_batch
from tests.modeling.fixtures import tiny_cprnet, write_tiny_cprnet_config


def test_synthetic_point_batch():
    batch = synthetic_point_batch(num_classes=3, batch_size=2, size=16, points=4, seed=1)
    assert [x["image"].shape for x in batch] == [(3, 16, 16)] * 2
    inst = batch[1]["instances"]
    assert inst.gt_ann_ids.tolist() == [5, 6, 7, 8]  # unique over the batch
    assert ((inst.gt_points >= 0) & (inst.gt_points <= 16)).all() and inst.gt_classes.max() < 3
    again = synthetic_point_batch(num_classes=3, batch_size=2, size=16, points=4, seed=1)
    assert torch.equal(again[0]["image"], batch[0]["image"])


def test_tiny_run_reports_every_measure(tmp_path):
    cfg, _ = write_tiny_cprnet_config(tmp_path, tiny_cprnet())
    report = benchmark_cprnet(cfg, ["model.bag_radius=2"], batch_size=1, image_size=32, points=3, steps=1,
                              memory=False)
    assert report["bag_radius"] == 2 and report["stride"] == 8 and report["memory_mb"] is None
    assert report["train_step_s"]["cpr"] > 0 and report["train_step_s"]["backbone"] > 0
    assert report["refine_images_per_s"] > 0
    text = format_cprnet_benchmark(report)
    assert "batch 1 x 32px, 3 points/image, R=2, stride 8" in text and "train step, median (s)" in text
    assert "peak" not in text
    with pytest.raises(FileNotFoundError, match="nope.py"):
        benchmark_cprnet(str(tmp_path / "nope.py"), memory=False)


def test_tiny_run_with_cpu_memory(tmp_path):
    cfg, _ = write_tiny_cprnet_config(tmp_path, tiny_cprnet())
    report = benchmark_cprnet(cfg, ["model.bag_radius=2"], batch_size=1, image_size=32, points=3, steps=1,
                              threads=1)
    assert report["memory_error"] is None and report["memory_kind"] == "rss"
    assert set(report["memory_mb"]) == {"backbone", "cpr"} and all(v >= 0 for v in report["memory_mb"].values())
    lines = format_cprnet_benchmark(report).splitlines()
    assert lines[1].split("|")[2:4] == [" backbone+FPN ", "     CPRNet "]
    assert lines[4].startswith("| peak RSS increase in step (MB)") and lines[5].startswith("refinement throughput")
