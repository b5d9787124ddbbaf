"""The Co-mining benchmark (pointdet.engine.benchmark_comining, tools/benchmark_comining.py) on
tiny sizes: both variants build from one config, run, and print side by side. Not a timing test."""
import pytest
import torch

from pointdet.engine.benchmark_comining import (
    benchmark_comining,
    build_variant,
    format_benchmark,
    synthetic_two_view_batch,
)
from tools.benchmark_comining import main

CONFIG = "configs/CoMining/retinanet_mnv2_fpn_trees_comining.py"
OPTS = ["model.backbone.bottom_up.weights=''"]  # random init (the slim demo head)


def test_variants_and_batch():
    single = build_variant(CONFIG, OPTS, "single_branch", "cpu")
    both = build_variant(CONFIG, OPTS, "comining", "cpu")
    assert (single.siamese, single.co_generation) == (False, False) and (both.siamese, both.co_generation) == (True, True)
    assert list(single.state_dict()) == list(both.state_dict())
    batch = synthetic_two_view_batch(1, 2, 64, 3)
    assert len(batch) == 2 and batch[0]["image_jittered"].shape == (3, 64, 64)
    assert not torch.equal(batch[0]["image"], batch[0]["image_jittered"])
    b = batch[0]["instances"].gt_boxes.tensor
    assert b.shape == (3, 4) and (b[:, 2:] > b[:, :2]).all() and (b >= 0).all() and (b <= 64).all()
    with pytest.raises(ValueError, match="variant"):
        build_variant(CONFIG, OPTS, "triple", "cpu")


def test_benchmark_runs_and_prints(capsys):
    res = benchmark_comining(CONFIG, OPTS, batch_size=1, image_size=128, boxes=2, steps=2, threads=1, memory=True)
    assert set(res["step_time_s"]) == {"single_branch", "comining"}
    assert all(len(v) == 2 and min(v) > 0 for v in res["step_times_s"].values())
    assert res["peak_memory_mb"] is not None and set(res["peak_memory_mb"]) == {"single_branch", "comining"}
    table = format_benchmark(res)
    assert "| train step, median (s)" in table and "peak RSS increase" in table
    main(["--config-file", CONFIG, "--batch-size", "1", "--image-size", "128", "--boxes", "2", "--steps", "1",
          "--threads", "1", "--no-memory", *OPTS])  # fmt: skip
    out = capsys.readouterr().out
    assert "Co-mining benchmark" in out and "single branch" in out and "peak" not in out
