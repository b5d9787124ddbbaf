"""The result of point mAP: per-category AP/AR, the mean over categories, tables and JSON.

Categories without GT (CPR paper Sec. 4.1 does not say; the two conventions differ):

* ``empty_class_rule="coco"`` (default, COCO's convention): a category without regular GT
  in an area range has no AP/AR there (NaN, reported as missing) and is left out of that
  range's mean; a range in which no category has GT has no mean (NaN). A category without
  GT can therefore never raise the mean.
* ``empty_class_rule="reference"``: the reference evaluator's rule, for parity with the
  published numbers: the mean runs over every category of the GT file, a category without
  GT scoring AP 1 (AR 1) when it has no detections and AP 0 when it has some.
"""
import itertools
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__all__ = ["EMPTY_CLASS_RULES", "PointAPResult"]

EMPTY_CLASS_RULES = ("coco", "reference")


def check_empty_class_rule(rule: str) -> str:
    if rule not in EMPTY_CLASS_RULES:
        raise ValueError(f"empty_class_rule must be one of {EMPTY_CLASS_RULES}, got {rule!r}")
    return rule


def _fmt_tau(t: float) -> str:
    return str(float(t))


def _mean_over_categories(values: np.ndarray, dtype) -> np.ndarray:
    """Mean over axis 0 ignoring NaN (missing categories), in ``dtype``; NaN where all are missing."""
    values = values.astype(dtype)
    if values.shape[0] == 0:
        return np.full(values.shape[1:], np.nan)
    present = ~np.isnan(values)
    count = present.sum(0)
    total = np.where(present, values, 0).sum(0, dtype=dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1).astype(dtype), np.nan)
    if (count == values.shape[0]).all():  # nothing missing: NumPy's own mean (pairwise sums)
        mean = values.mean(0, dtype=dtype)
    return mean.astype(np.float64)


def _json_number(v: float) -> Optional[float]:
    return float(v) if math.isfinite(v) else None


@dataclass
class PointAPResult:
    """Per-category point AP/AR for every (area range, tau, max_dets) setting.

    ``ap`` and ``ar`` have shape (K, A, T, M): categories (GT file order), area ranges, taus,
    max-dets values; values are fractions in [0, 1], NaN where a category is missing (no GT
    in that range under ``empty_class_rule="coco"``). ``npos`` (K, A) counts the regular GTs.
    ``curves[(k, a, t, m)]`` is the kept (recall, precision) pair of arrays (for PR plots).
    """

    category_ids: List[int]
    category_names: List[str]
    area_ranges: Tuple[Tuple[str, float, float], ...]
    taus: Tuple[float, ...]
    max_dets: Tuple[int, ...]
    ap: np.ndarray
    ar: np.ndarray
    npos: np.ndarray
    curves: Dict[Tuple[int, int, int, int], Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    empty_class_rule: str = "coco"
    ignore_rule: str = "iscrowd_or_ignore"

    @classmethod
    def from_reference_values(cls, ap, ar, npos, *, empty_class_rule: str = "coco", **fields) -> "PointAPResult":
        """Build from per-category values computed by the reference rules (AP 1 / 0 for a
        category without GT), applying ``empty_class_rule``."""
        check_empty_class_rule(empty_class_rule)
        ap, ar = np.array(ap, dtype=np.float64), np.array(ar, dtype=np.float64)
        if empty_class_rule == "coco":
            missing = (np.asarray(npos) == 0)[:, :, None, None]
            ap[np.broadcast_to(missing, ap.shape)] = np.nan
            ar[np.broadcast_to(missing, ar.shape)] = np.nan
        return cls(ap=ap, ar=ar, npos=np.asarray(npos), empty_class_rule=empty_class_rule, **fields)

    @property
    def area_labels(self) -> List[str]:
        return [r[0] for r in self.area_ranges]

    @property
    def mean_ap(self) -> np.ndarray:
        """(A, T, M) mean AP over the evaluated categories (NaN where none has GT)."""
        return _mean_over_categories(self.ap, np.float64)

    @property
    def mean_ar(self) -> np.ndarray:
        """(A, T, M) mean AR; averaged in float32 under ``ignore_rule="reference"``, as the reference."""
        return _mean_over_categories(self.ar, np.float32 if self.ignore_rule == "reference" else np.float64)

    def missing_categories(self) -> "OrderedDict[str, List[str]]":
        """Per area range label, the names of the categories left out of the mean (no GT there)."""
        out = OrderedDict()
        for a, label in enumerate(self.area_labels):
            out[label] = [n for k, n in enumerate(self.category_names) if np.isnan(self.ap[k, a]).all()]
        return out

    def missing_area_ranges(self) -> List[str]:
        """Labels of the area ranges without any evaluated category (no mean)."""
        return [label for a, label in enumerate(self.area_labels) if np.isnan(self.mean_ap[a]).all()]

    def exclusion_lines(self) -> List[str]:
        """Human-readable lines naming what was left out of the means (empty when nothing was)."""
        lines = []
        for label, names in self.missing_categories().items():
            if names and len(names) < len(self.category_names):
                lines.append(
                    f"point mAP, area '{label}': {len(names)} of {len(self.category_names)} categories have no GT "
                    f"and are left out of the mean: {', '.join(names)}"
                )
        missing = self.missing_area_ranges()
        if missing:
            lines.append(f"point mAP: area ranges without any GT (no mean, reported as NaN): {', '.join(missing)}")
        return lines

    def log_exclusions(self, logger: logging.Logger) -> None:
        for line in self.exclusion_lines():
            logger.info(line)

    def headline_tau_index(self) -> int:
        return self.taus.index(1.0) if 1.0 in self.taus else 0

    def metrics(self) -> "OrderedDict[str, float]":
        """Flat metrics in percent, Detectron2 style (NaN where missing).

        ``AP@{tau}`` / ``AR@{tau}`` for the first area range and the largest max_dets;
        ``AP@{tau}-{area}`` for the other ranges; ``/md{m}`` suffix for other max_dets;
        ``AP-{class}`` per category at the headline tau (1.0 if evaluated).
        """
        out = OrderedDict()
        mean_ap, mean_ar = self.mean_ap, self.mean_ar
        last = len(self.max_dets) - 1
        for m, md in enumerate(self.max_dets):
            suffix = "" if m == last else f"/md{md}"
            for a, label in enumerate(self.area_labels):
                area = "" if a == 0 else f"-{label}"
                for t, tau in enumerate(self.taus):
                    out[f"AP@{_fmt_tau(tau)}{area}{suffix}"] = float(mean_ap[a, t, m] * 100)
                for t, tau in enumerate(self.taus):
                    out[f"AR@{_fmt_tau(tau)}{area}{suffix}"] = float(mean_ar[a, t, m] * 100)
        headline = self.headline_tau_index()
        for k, name in enumerate(self.category_names):
            out[f"AP-{name}"] = float(self.ap[k, 0, headline, last] * 100)
        return out

    def summary_lines(self) -> List[str]:
        """Lines in the reference's layout: ``Location eval: (AP/AR) @[ dis=.. | area=.. | maxDets=..] = ap/ar``."""
        lines = []
        mean_ap, mean_ar = self.mean_ap, self.mean_ar
        for a, label in enumerate(self.area_labels):
            for t, tau in enumerate(self.taus):
                for m, md in enumerate(self.max_dets):
                    lines.append(
                        f"Location eval: (AP/AR) @[ dis={tau} | area={label} | maxDets={md} ] = "
                        f"{mean_ap[a, t, m]:.4f}/{mean_ar[a, t, m]:.4f}"
                    )
        return lines

    def metrics_table(self) -> str:
        """Mean AP / AR (percent) as a table: one row per (area range, max_dets), one column per tau."""
        from tabulate import tabulate

        mean_ap, mean_ar = self.mean_ap, self.mean_ar
        rows = []
        for a, label in enumerate(self.area_labels):
            categories = int((~np.isnan(self.ap[:, a, 0, 0])).sum())
            for m, md in enumerate(self.max_dets):
                rows.append(
                    [label, md, int(self.npos[:, a].sum()), categories]
                    + [mean_ap[a, t, m] * 100 for t in range(len(self.taus))]
                    + [mean_ar[a, t, m] * 100 for t in range(len(self.taus))]
                )
        headers = ["area", "maxDets", "GT", "categories"]
        headers += [f"AP@{_fmt_tau(t)}" for t in self.taus] + [f"AR@{_fmt_tau(t)}" for t in self.taus]
        return tabulate(rows, headers=headers, tablefmt="pipe", floatfmt=".2f", missingval="-")

    def per_category_table(self, tau_index: Optional[int] = None) -> str:
        """Per-category AP (percent) at one tau (headline by default), area 'all', largest maxDets."""
        from tabulate import tabulate

        t = self.headline_tau_index() if tau_index is None else tau_index
        rows = [(n, float(self.ap[k, 0, t, -1] * 100)) for k, n in enumerate(self.category_names)]
        ncol = min(6, len(rows) * 2) or 2
        flat = list(itertools.chain(*rows))
        grouped = itertools.zip_longest(*[flat[i::ncol] for i in range(ncol)])
        return tabulate(
            grouped,
            tablefmt="pipe",
            floatfmt=".3f",
            headers=["category", f"AP@{_fmt_tau(self.taus[t])}"] * (ncol // 2),
            numalign="left",
        )

    def to_json_dict(self) -> Dict[str, Any]:
        """JSON-serialisable form (missing values as null)."""

        def nested(a):
            return np.vectorize(_json_number, otypes=[object])(a).tolist() if a.size else a.tolist()

        return {
            "metrics": OrderedDict((k, _json_number(v)) for k, v in self.metrics().items()),
            "empty_class_rule": self.empty_class_rule,
            "ignore_rule": self.ignore_rule,
            "taus": list(self.taus),
            "max_dets": list(self.max_dets),
            "area_ranges": [list(r) for r in self.area_ranges],
            "category_ids": list(self.category_ids),
            "category_names": list(self.category_names),
            "missing_categories": self.missing_categories(),
            "ap": nested(self.ap),
            "ar": nested(self.ar),
            "npos": self.npos.tolist(),
        }
