"""Plotting helpers for evaluation outputs (matplotlib, PNG files).

Each helper is a separate function writing one figure. Figures are drawn on matplotlib's
Agg canvas directly (no pyplot, no change of the process-wide backend) and written through
:func:`pointdet.utils.file_io.atomic_open` (a temporary file with an unpredictable name,
renamed when complete), so a failed plot never leaves a half-written PNG.
"""
from typing import Mapping, Optional, Sequence

import numpy as np

from pointdet.utils.file_io import atomic_open

__all__ = [
    "plot_point_pr_curves",
    "plot_relative_position_heatmap",
    "plot_ap_vs_score_threshold",
    "plot_score_threshold_comparison",
]


def _figure(**kwargs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str, **kwargs) -> str:
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", **kwargs)
    return path


def plot_point_pr_curves(
    result, path: str, area_index: int = 0, max_dets_index: int = -1, max_classes: int = 10
) -> str:
    """Precision-recall curves of a :class:`~pointdet.evaluation.point_ap.PointAPResult`, one
    panel per tau, one line per category (the first ``max_classes``), AP in the legend.

    The curves are the kept (recall, precision) points of the reference rules (no precision
    envelope), drawn as steps. Returns ``path``.
    """
    num_taus = len(result.taus)
    m = max_dets_index % len(result.max_dets)
    fig = _figure(figsize=(4.2 * num_taus, 4))
    axes = fig.subplots(1, num_taus, squeeze=False)
    for t, tau in enumerate(result.taus):
        ax = axes[0, t]
        for k, name in enumerate(result.category_names[:max_classes]):
            recall, precision = result.curves[(k, area_index, t, m)]
            ax.step(np.asarray(recall, np.float64), precision, where="post",
                    label=f"{name} AP={result.ap[k, area_index, t, m] * 100:.1f}")
        ax.set_xlim(0, 1.0)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(
            f"tau={tau}  area={result.area_labels[area_index]}  mAP={result.mean_ap[area_index, t, m] * 100:.1f}"
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    return _save(fig, path, dpi=100, bbox_inches="tight")


def plot_relative_position_heatmap(
    hist: np.ndarray, xedges: Sequence[float], yedges: Sequence[float], path: str, title: Optional[str] = None
) -> str:
    """Heat-map of a normalised relative-position histogram (CPR Fig. 6). Returns ``path``."""
    fig = _figure(figsize=(4.5, 4))
    ax = fig.subplots()
    im = ax.imshow(
        hist, origin="upper", extent=(xedges[0], xedges[-1], yedges[-1], yedges[0]), cmap="viridis",
        interpolation="nearest",
    )
    ax.set_xlabel("x' = (x - xc) / w")
    ax.set_ylabel("y' = (y - yc) / h")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="Prob(x', y')")
    return _save(fig, path, dpi=100, bbox_inches="tight")


def plot_ap_vs_score_threshold(
    stats,
    thresholds: Sequence[float],
    path: str,
    title: str = "score-aware AP",
    stat_names: Sequence[str] = ("AP", "AP50", "AP75"),
) -> str:
    """COCO stats (percent) versus the score threshold (SIOD score-aware AP), as a PNG.

    Args:
        stats: (S, 12) array of per-threshold COCO stats (fractions, -1 undefined), or a dict
            ``{title: (S, 12) array}`` for one panel per entry (e.g. per task).
        thresholds: (S,) score thresholds.
        path: output PNG path (folders are created).
        stat_names: which of the 12 COCO stats to draw.
    Returns:
        ``path``.
    """
    from .score_aware_core import STAT_NAMES

    panels = dict(stats) if isinstance(stats, dict) else {title: stats}
    thresholds = np.asarray(thresholds, dtype=np.float64)
    for name, s in panels.items():
        s = np.asarray(s, dtype=np.float64)
        if s.ndim != 2 or s.shape != (len(thresholds), len(STAT_NAMES)):
            raise ValueError(
                f"stats must be (S, {len(STAT_NAMES)}) with S = len(thresholds) = {len(thresholds)}, "
                f"got {s.shape} for {name!r}"
            )
    fig = _figure(figsize=(5 * len(panels), 3.5), dpi=100)
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (panel_title, s) in zip(axes[0], panels.items()):
        s = np.asarray(s, dtype=np.float64)
        for name in stat_names:
            j = STAT_NAMES.index(name)
            ax.plot(thresholds, np.where(s[:, j] >= 0, s[:, j] * 100, np.nan), marker="o", label=name)
        if np.all(s[:, 0] >= 0):
            ax.axhline(float(np.mean(s[:, 0]) * 100), color="gray", linestyle="--", label="AP@S (mean)")
        ax.set_xlabel("score threshold t (kept: score >= t)")
        ax.set_ylabel("AP (%)")
        ax.set_title(panel_title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def plot_score_threshold_comparison(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    thresholds: Sequence[float],
    path: str,
    ylabel: str = "AP (%)",
) -> str:
    """Several runs' score-aware curves side by side (e.g. FSOD, SIOD base and DMiner per
    detector), as a PNG: one panel per key of ``panels``, one line per run.

    Args:
        panels: ``{panel title: {run label: (S,) values}}``, values in percent (None or NaN:
            undefined, not drawn).
        thresholds: (S,) score thresholds.
        path: output PNG path (folders are created).
    Returns:
        ``path``.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if not panels or any(not runs for runs in panels.values()):
        raise ValueError("panels must hold at least one panel, each with at least one run")
    curves = {}
    for title, runs in panels.items():
        for label, values in runs.items():
            v = np.array([np.nan if x is None else x for x in values], dtype=np.float64)
            if v.shape != thresholds.shape:
                raise ValueError(f"{title!r} / {label!r}: {v.shape[0]} values for {len(thresholds)} thresholds")
            curves[title, label] = v
    fig = _figure(figsize=(5 * len(panels), 3.5), dpi=100)
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (title, runs) in zip(axes[0], panels.items()):
        for label in runs:
            ax.plot(thresholds, curves[title, label], marker="o", label=label)
        ax.set_xlabel("score threshold t (kept: score >= t)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)
