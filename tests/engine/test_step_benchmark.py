"""pointdet.engine.step_benchmark: the shared pieces of the side-by-side step benchmarks (timing
order, memory measurement, the table) and the generic LazyConfig form on its own data."""
import json
import math

import pytest
import torch

from pointdet.engine.step_benchmark import (
    benchmark_train_steps,
    format_config_table,
    cpu_peak_rss_mb,
    format_side_by_side,
    peak_memory_mb,
    ratio,
    time_steps,
    train_step,
)

CFG = "configs/SAPNet/solov2_mnv2_fpn_nuclei.py"


def _allocating_step(mb: int):
    """A step factory for the memory child: each step holds ``mb`` MB of ones for a moment."""

    def step():
        torch.ones(mb * 2**18, dtype=torch.float32).sum()  # 4 bytes * 2**18 = 1 MB

    return step


def _failing_step():
    raise RuntimeError("no model here")


def test_time_steps_warms_up_then_interleaves():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = time_steps(fns, steps=2, device="cpu", warmup=1)
    assert calls == ["a", "b"] * 3
    assert list(times) == ["a", "b"] and all(len(t) == 2 and min(t) >= 0 for t in times.values())


def test_train_step_updates_the_model():
    model = torch.nn.Linear(2, 1)
    before = model.weight.detach().clone()
    step = train_step(model, [torch.ones(1, 2)], loss_fn=lambda m, b: m(b[0]).sum() * 1e6)
    step()
    assert model.training and not torch.equal(model.weight, before)


def test_cpu_peak_rss_sees_the_step_allocation():
    small = cpu_peak_rss_mb(_allocating_step, (1,))
    big = cpu_peak_rss_mb(_allocating_step, (200,))
    assert big - small > 150  # the 200 MB buffer, not the process's own size
    with pytest.raises(OSError, match="'broken'.*no model here"):
        peak_memory_mb("cpu", factories={"broken": (_failing_step, ())})


def test_ratio_and_table():
    assert ratio(3.0, 2.0) == 1.5 and math.isnan(ratio(1.0, 0.0))
    text = format_side_by_side("title", ("single branch", "B"), [0.5, 1.0], [100.0, 300.0], "peak RSS (MB)")
    lines = text.splitlines()
    assert lines[0] == "title" and len(lines) == 5
    assert lines[1] == "| measure                            | single branch |          B |  ratio |"
    assert lines[3].endswith("|         0.500 |      1.000 |   2.00 |")
    assert lines[4].startswith("| peak RSS (MB)") and lines[4].endswith("|           100 |        300 |   3.00 |")
    assert len({len(x) for x in lines[1:]}) == 1  # aligned columns
    assert "peak" not in format_side_by_side("t", ("a", "b"), [1.0, 1.0])


OPTS = ["model.ins_head.feat_channels=16", "model.ins_head.stacked_convs=1", "dataloader.train.total_batch_size=1"]


def test_benchmark_train_steps():
    out = benchmark_train_steps([CFG], steps=1, device="cpu", opts=OPTS, memory=False)
    r = out[CFG]
    assert r["images"] == 1 and len(r["steps"]) == 1 and r["step_s"] == r["steps"][0] > 0 and r["peak_mib"] is None


def test_config_steps_take_the_same_seeded_batch():
    from pointdet.engine.step_benchmark import _config_train_step

    torch.manual_seed(123)  # the factory seeds the sampler itself
    a = _config_train_step(CFG, OPTS, "cpu")
    torch.manual_seed(456)
    b = _config_train_step(CFG, OPTS, "cpu")
    assert a.file_names == b.file_names and a.images == 1


def test_config_table_states_ratios_to_the_first_config():
    result = {
        "a.py": dict(step_s=2.0, images=2, peak_mib=100.0, memory="peak RSS increase in step (MB)"),
        "b.py": dict(step_s=3.0, images=2, peak_mib=250.0, memory="peak RSS increase in step (MB)"),
    }
    lines = format_config_table(result).splitlines()
    assert lines[0].count("x first") == 2
    assert lines[2] == "| a.py | 2 | 2.00 | 1.00 | 100 | 1.00 |"
    assert lines[3] == "| b.py | 2 | 3.00 | 1.50 | 250 | 2.50 |"
    no_mem = {k: dict(v, memory=None, peak_mib=None) for k, v in result.items()}
    assert format_config_table(no_mem).splitlines()[3] == "| b.py | 2 | 3.00 | 1.50 |"


def test_benchmark_train_step_cli(capsys):
    from tools.benchmark_train_step import main

    threads = torch.get_num_threads()
    try:
        main(["--config-file", CFG, "--steps", "2", "--device", "cpu", "--num-threads", "1", "--json", *OPTS])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    r = json.loads(capsys.readouterr().out)[CFG]
    assert list(r) == ["step_s", "steps", "images", "peak_mib", "memory", "device"] and len(r["steps"]) == 2
    assert r["peak_mib"] > 0 and r["memory"] == "peak RSS increase in step (MB)"
