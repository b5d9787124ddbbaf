"""Plotting helpers for evaluation outputs (matplotlib, Agg backend, PNG files).

Each helper is a separate function writing one figure; other evaluators may add their own
functions here (keep them separate). Files are written through a temporary name and renamed,
so a failed plot never leaves a half-written PNG.
"""
import os
from typing import Optional, Sequence

import numpy as np

__all__ = ["plot_point_pr_curves", "plot_relative_position_heatmap"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> None:
    plt = _pyplot()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp_{os.getpid()}_{os.path.basename(path)}")
    try:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)


def plot_point_pr_curves(
    result, path: str, area_index: int = 0, max_dets_index: int = -1, max_classes: int = 10
) -> str:
    """Precision-recall curves of a :class:`~pointdet.evaluation.point_ap.PointAPResult`, one
    panel per tau, one line per category (the first ``max_classes``), AP in the legend.

    The curves are the kept (recall, precision) points of the reference rules (no precision
    envelope), drawn as steps. Returns ``path``.
    """
    plt = _pyplot()
    T = len(result.taus)
    mi = max_dets_index % len(result.max_dets)
    fig, axes = plt.subplots(1, T, figsize=(4.2 * T, 4), squeeze=False)
    for ti, tau in enumerate(result.taus):
        ax = axes[0, ti]
        for k, name in enumerate(result.category_names[:max_classes]):
            rec, prec = result.curves[(k, area_index, ti, mi)]
            ax.step(np.asarray(rec, np.float64), prec, where="post",
                    label=f"{name} AP={result.ap[k, area_index, ti, mi] * 100:.1f}")
        ax.set_xlim(0, 1.0)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(
            f"tau={tau}  area={result.area_labels[area_index]}  mAP={result.mean_ap[area_index, ti, mi] * 100:.1f}"
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    _save(fig, path)
    return path


def plot_relative_position_heatmap(
    hist: np.ndarray, xedges: Sequence[float], yedges: Sequence[float], path: str, title: Optional[str] = None
) -> str:
    """Heat-map of a normalised relative-position histogram (CPR Fig. 6). Returns ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    im = ax.imshow(
        hist, origin="upper", extent=(xedges[0], xedges[-1], yedges[-1], yedges[0]), cmap="viridis",
        interpolation="nearest",
    )
    ax.set_xlabel("x' = (x - xc) / w")
    ax.set_ylabel("y' = (y - yc) / h")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="Prob(x', y')")
    _save(fig, path)
    return path
