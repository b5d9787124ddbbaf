"""Evaluation plots are written atomically, through unpredictable temporary names."""
import os

import numpy as np
import pytest

from pointdet.evaluation.plots import plot_ap_vs_score_threshold, plot_relative_position_heatmap
from pointdet.evaluation.score_aware import SCORE_THRESHOLDS

PNG = b"\x89PNG\r\n\x1a\n"


def _stats():
    return np.tile(np.linspace(0.5, 0.1, 10)[:, None], (1, 12))


@pytest.mark.parametrize("temp_name", [".tmp_{name}", ".tmp_{pid}_{name}"])
def test_plot_does_not_follow_a_planted_temporary_name(tmp_path, temp_name):
    # Earlier versions wrote to a predictable name next to the output; a symbolic link planted
    # there made the plot overwrite the link's target.
    victim = tmp_path / "victim.json"
    victim.write_text("precious")
    out = tmp_path / "sa.png"
    os.symlink(victim, tmp_path / temp_name.format(name=out.name, pid=os.getpid()))
    plot_ap_vs_score_threshold(_stats(), SCORE_THRESHOLDS, str(out))
    assert victim.read_text() == "precious"
    assert out.read_bytes()[:8] == PNG


def test_plots_leave_only_the_png(tmp_path):
    plot_ap_vs_score_threshold({"bbox": _stats(), "segm": _stats()}, SCORE_THRESHOLDS, str(tmp_path / "a.png"))
    edges = np.linspace(-1, 1, 5)
    plot_relative_position_heatmap(np.ones((4, 4)) / 16, edges, edges, str(tmp_path / "h.png"), title="t")
    assert sorted(os.listdir(tmp_path)) == ["a.png", "h.png"]
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG


def test_failed_plot_leaves_nothing(tmp_path):
    (tmp_path / "a.png").write_bytes(b"old")
    with pytest.raises(ValueError):
        plot_ap_vs_score_threshold(np.zeros((3, 12)), SCORE_THRESHOLDS, str(tmp_path / "a.png"))
    assert os.listdir(tmp_path) == ["a.png"] and (tmp_path / "a.png").read_bytes() == b"old"


def test_comparison_plot_draws_every_run_and_checks_lengths(tmp_path):
    from pointdet.evaluation.plots import plot_score_threshold_comparison

    panels = {"CenterNet": {"FSOD": list(np.linspace(10, 0, 10)), "base s0": [1.0] * 9 + [None]},
              "FCOS": {"DMiner s0": [float("nan")] * 10}}  # fmt: skip
    out = plot_score_threshold_comparison(panels, SCORE_THRESHOLDS, str(tmp_path / "c.png"))
    assert os.listdir(tmp_path) == ["c.png"] and open(out, "rb").read()[:8] == PNG
    with pytest.raises(ValueError, match="'CenterNet' / 'x': 3 values for 10 thresholds"):
        plot_score_threshold_comparison({"CenterNet": {"x": [1, 2, 3]}}, SCORE_THRESHOLDS, str(tmp_path / "d.png"))
    with pytest.raises(ValueError, match="at least one run"):
        plot_score_threshold_comparison({"CenterNet": {}}, SCORE_THRESHOLDS, str(tmp_path / "d.png"))
    assert os.listdir(tmp_path) == ["c.png"]
