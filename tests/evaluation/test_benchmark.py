"""pointdet.evaluation.benchmark: the synthetic data and a small run of every comparison."""
import json

import numpy as np
import pytest

from pointdet.evaluation.benchmark import format_evaluator_benchmark, make_synthetic_coco, run_evaluator_benchmark


def test_synthetic_data_is_deterministic_and_well_formed():
    gt, dets = make_synthetic_coco(num_images=20, num_classes=5, dets_per_image=10, seed=3)
    assert (gt, dets) == make_synthetic_coco(num_images=20, num_classes=5, dets_per_image=10, seed=3)
    assert make_synthetic_coco(num_images=20, num_classes=5, dets_per_image=10, seed=4)[1] != dets
    assert len(gt["images"]) == 20 and len(dets) == 20 * 10
    ids = [a["id"] for a in gt["annotations"]]
    assert ids == list(range(1, len(ids) + 1))
    boxes = np.array([a["bbox"] for a in gt["annotations"]])
    assert (boxes[:, 2:] >= 4 - 1e-9).all() and (boxes[:, 0] + boxes[:, 2] <= 640 + 1e-9).all()
    assert all(0 <= d["score"] <= 1 and 1 <= d["category_id"] <= 5 for d in dets)


def test_small_run_routes_agree_and_report_is_written(tmp_path):
    out = tmp_path / "bench.json"
    report = run_evaluator_benchmark(num_images=8, num_classes=3, dets_per_image=6, seed=1, output_json=str(out))
    # both routes of each comparison compute the same numbers
    assert report["score_aware"]["max_abs_stats_diff_vs_ten"] == 0.0
    assert report["score_aware"]["max_abs_stats_diff_s0_vs_one"] == 0.0
    assert report["point_ap"]["max_abs_ap_diff"] == 0.0
    assert [r["target"] for r in report["rows"]] == ["<= 2x", "-", ">= 5x", "<= 1.5x", ">= 10x"]
    assert report["rows"][1]["pass"] is None
    assert json.loads(out.read_text())["args"]["num_images"] == 8
    table = format_evaluator_benchmark(report).splitlines()
    assert table[0].startswith("Evaluator benchmark: 8 images, 3 classes, 6 detections/image, seed 1")
    assert len(table) == 3 + len(report["rows"]) and table[-1].startswith("| PointAP (3 tau)")
    only_points = run_evaluator_benchmark(num_images=4, num_classes=2, dets_per_image=3, score_aware=False,
                                          clock="wall")
    assert "score_aware" not in only_points and len(only_points["rows"]) == 1
    with pytest.raises(ValueError, match="clock"):
        run_evaluator_benchmark(num_images=2, clock="gpu")
