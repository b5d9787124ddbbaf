"""The DMiner benchmark on tiny sizes: every demo pair runs, rows are consistent, the command prints
the side-by-side table (the measured numbers themselves are not asserted)."""
import math

import pytest

from pointdet.engine.benchmark_dminer import DEFAULT_PAIRS, benchmark_dminer, format_table, synthetic_siod_batch


def test_synthetic_batch_one_box_per_category():
    batch = synthetic_siod_batch(num_classes=3, batch_size=2, size=64, classes_per_image=2)
    for x in batch:
        inst = x["instances"]
        assert len(inst) == 2 and len(set(inst.gt_classes.tolist())) == 2
        b = inst.gt_boxes.tensor
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all() and b.max() <= 64


def test_benchmark_all_demo_pairs_tiny():
    rows = benchmark_dminer(DEFAULT_PAIRS, batch_size=1, image_size=128, steps=1, memory=False)
    assert [r["name"] for r in rows] == [p[0] for p in DEFAULT_PAIRS]
    for r in rows:
        assert r["base_s"] > 0 and r["dminer_s"] > 0 and r["time_ratio"] == pytest.approx(r["dminer_s"] / r["base_s"])
    table = format_table(rows)
    assert table.count("\n") == 1 + len(rows) and "| - | - | - |" in table


def test_benchmark_cli_with_memory(capsys):
    from tools.benchmark_dminer import main

    name, base, miner = DEFAULT_PAIRS[0]
    assert main(["--pair", name, base, miner, "--batch-size", "1", "--image-size", "64", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    line = [x for x in out.splitlines() if x.startswith(f"| {name} |")][0]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert len(cells) == 7 and all(math.isfinite(float(c)) for c in cells[1:])
