"""Click scores of proposals (Papadopoulos, Uijlings, Keller, Ferrari, "Training object class
detectors with click supervision", CVPR 2017), as pure NumPy functions.

Symbols as in the paper (Sec. 3 "one click", Sec. 4 "two clicks"):

* box-centre score   s_bc(p; c, sigma_bc) = exp(-||c_p - c||^2 / (2 sigma_bc^2)), c the click
  or, with two clicks, their mean (c1 + c2) / 2;
* box-area score     s_ba(p; c1, c2, sigma_ba) = exp(-(log area_p - mu(||c1 - c2||))^2 / (2 sigma_ba^2)),
  mu predicting the log object area from the distance between the two clicks;
* objectness mix     S_ap(p) = w_A A(p) + (1 - w_A) O(p), w_A = 1/2 (reference MIL);
* re-localization    S(p) = S_ap(p) * s_bc(p) (* s_ba(p) with two clicks), the argmax chosen;
* initialization     the largest window centred on the click that lies inside the image.

mu is a line fitted by least squares: log area = a + b * log(||c1 - c2|| + d0) (our form; the
paper learns mu on held-out data but its form is not stated). Boxes are [x, y, w, h] in
Detectron2's continuous pixel convention (centre (x + w/2, y + h/2)); clicks are (x, y) pixels.
"""
import json
import math
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Sequence

import numpy as np

__all__ = [
    "click_center",
    "box_centers",
    "box_log_areas",
    "box_center_score",
    "box_area_score",
    "AreaFromClickDistance",
    "fit_area_from_click_distance",
    "objectness_mix",
    "rank_objectness",
    "initial_window",
    "relocalization_scores",
    "select_proposal",
]


def click_center(clicks) -> np.ndarray:
    """The object-centre estimate of one object's clicks: the click, or the mean of two.

    Args:
        clicks: (2,) or (A, 2) clicks (x, y), A >= 1 annotators.
    Returns:
        (2,) float64.
    """
    c = np.asarray(clicks, dtype=np.float64).reshape(-1, 2)
    if c.shape[0] == 0:
        raise ValueError("click_center: no clicks")
    return c.mean(0)


def box_centers(boxes) -> np.ndarray:
    """(M, 4) XYWH boxes -> (M, 2) centres (x + w/2, y + h/2)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return b[:, :2] + b[:, 2:] / 2.0


def box_log_areas(boxes, min_area: float = 1e-6) -> np.ndarray:
    """(M, 4) XYWH boxes -> (M,) natural log of w * h (areas below ``min_area`` px^2 clamped)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.log(np.maximum(b[:, 2] * b[:, 3], min_area))


def box_center_score(boxes, clicks, sigma_bc: float) -> np.ndarray:
    """s_bc of every proposal for one object (paper Sec. 3, "box center score").

    Args:
        boxes: (M, 4) XYWH proposals.
        clicks: (2,) one click or (A, 2) clicks of A annotators (their mean is the centre).
        sigma_bc: spread in pixels (> 0).
    Returns:
        (M,) scores in (0, 1].
    """
    if not sigma_bc > 0:
        raise ValueError(f"sigma_bc must be > 0, got {sigma_bc!r}")
    d2 = ((box_centers(boxes) - click_center(clicks)) ** 2).sum(1)
    return np.exp(-d2 / (2.0 * sigma_bc**2))


@dataclass
class AreaFromClickDistance:
    """mu(d) = intercept + slope * log(d + offset): the log object area (px^2) predicted from the
    distance d (px) between two annotators' clicks (paper Sec. 4, "box area score").

    ``fit`` holds the statistics of the least-squares fit (n, r2, residual_std, ...).
    """

    intercept: float
    slope: float
    offset: float = 1.0
    fit: Optional[Dict[str, float]] = None

    def __call__(self, distance) -> np.ndarray:
        d = np.asarray(distance, dtype=np.float64)
        return self.intercept + self.slope * np.log(d + self.offset)

    def save(self, path: str) -> None:
        """Write as JSON atomically."""
        from pointdet.utils.file_io import atomic_open

        with atomic_open(path, "w") as f:
            json.dump({"mu": asdict(self), "form": "log_area = intercept + slope * log(distance + offset)"}, f, indent=1)

    @classmethod
    def load(cls, path: str) -> "AreaFromClickDistance":
        with open(path) as f:
            d = json.load(f)
        if not isinstance(d, dict) or not isinstance(d.get("mu"), dict):
            raise ValueError(f"{path}: not a mu file (expected {{'mu': {{'intercept', 'slope', 'offset'}}}})")
        m = d["mu"]
        try:
            return cls(float(m["intercept"]), float(m["slope"]), float(m.get("offset", 1.0)), m.get("fit"))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: malformed mu ({e})") from None


def fit_area_from_click_distance(distances, areas, offset: float = 1.0) -> AreaFromClickDistance:
    """Least squares of log area on log(click distance + offset).

    Args:
        distances: (N,) distances ||c1 - c2|| in pixels (>= 0).
        areas: (N,) true object areas in px^2 (> 0).
        offset: d0 added to the distance before the log (two clicks may coincide).
    Returns:
        the fitted mu; ``fit`` = {n, r2, residual_std (a natural sigma_ba), mean_log_area}.
    """
    d = np.asarray(distances, dtype=np.float64).reshape(-1)
    a = np.asarray(areas, dtype=np.float64).reshape(-1)
    if d.shape != a.shape:
        raise ValueError(f"distances and areas differ in length: {d.shape[0]} vs {a.shape[0]}")
    if d.size < 2:
        raise ValueError(f"fitting mu needs at least 2 objects with two clicks, got {d.size}")
    if (d < 0).any() or not np.isfinite(d).all() or (a <= 0).any() or not np.isfinite(a).all():
        raise ValueError("distances must be finite and >= 0, areas finite and > 0")
    if not offset > 0:
        raise ValueError(f"offset must be > 0, got {offset!r}")
    x, y = np.log(d + offset), np.log(a)
    X = np.stack([np.ones_like(x), x], 1)
    (intercept, slope), *_ = np.linalg.lstsq(X, y, rcond=None)
    res = y - (intercept + slope * x)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    fit = dict(
        n=int(d.size),
        r2=float(1.0 - (res**2).sum() / ss_tot) if ss_tot > 0 else float("nan"),
        residual_std=float(math.sqrt((res**2).sum() / max(d.size - 2, 1))),
        mean_log_area=float(y.mean()),
        pearson_log=float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan"),
    )
    return AreaFromClickDistance(float(intercept), float(slope), float(offset), fit)


def box_area_score(boxes, clicks, mu: AreaFromClickDistance, sigma_ba: float) -> np.ndarray:
    """s_ba of every proposal for one object with two clicks (paper Sec. 4, "box area score").

    Args:
        boxes: (M, 4) XYWH proposals.
        clicks: (2, 2) the two annotators' clicks.
        mu: log-area predictor of the click distance.
        sigma_ba: spread in natural-log area units (> 0).
    Returns:
        (M,) scores in (0, 1].
    """
    if not sigma_ba > 0:
        raise ValueError(f"sigma_ba must be > 0, got {sigma_ba!r}")
    c = np.asarray(clicks, dtype=np.float64).reshape(-1, 2)
    if c.shape[0] != 2:
        raise ValueError(f"box_area_score needs exactly two clicks, got {c.shape[0]}")
    expected = float(mu(np.linalg.norm(c[0] - c[1])))
    return np.exp(-((box_log_areas(boxes) - expected) ** 2) / (2.0 * sigma_ba**2))


def objectness_mix(appearance, objectness, appearance_weight: float = 0.5) -> np.ndarray:
    """S_ap = w_A * A + (1 - w_A) * O (reference MIL, equal weights: w_A = 1/2).

    Args:
        appearance: (M,) appearance-model scores A(p) in [0, 1].
        objectness: (M,) objectness O(p) in [0, 1].
    """
    a = np.asarray(appearance, dtype=np.float64)
    o = np.asarray(objectness, dtype=np.float64)
    if a.shape != o.shape:
        raise ValueError(f"appearance {a.shape} and objectness {o.shape} differ in shape")
    if not 0.0 <= appearance_weight <= 1.0:
        raise ValueError(f"appearance_weight must be in [0, 1], got {appearance_weight!r}")
    return appearance_weight * a + (1.0 - appearance_weight) * o


def rank_objectness(num: int) -> np.ndarray:
    """Objectness of a source that only ranks its proposals (selective search): O = 1 - r / M for
    the proposal of 0-based rank r among M, so the first proposal scores 1 and the last 1/M."""
    if num <= 0:
        return np.zeros(0)
    return 1.0 - np.arange(num, dtype=np.float64) / num


def initial_window(click, image_hw) -> np.ndarray:
    """The largest window centred on ``click`` that lies inside the image (paper Sec. 3,
    "use in initialization"): half-sizes min(x, W - x) and min(y, H - y).

    Args:
        click: (2,) the centre (x, y); with two clicks pass their mean.
        image_hw: (H, W).
    Returns:
        (4,) XYWH box (zero width/height for a click on the border).
    Raises:
        ValueError: the click lies outside the image (callers name the annotation).
    """
    x, y = (float(v) for v in np.asarray(click, dtype=np.float64).reshape(2))
    H, W = (float(v) for v in image_hw)
    if not (0 <= x <= W and 0 <= y <= H):
        raise ValueError(f"click ({x:g}, {y:g}) lies outside the image ({W:g}x{H:g})")
    hw, hh = min(x, W - x), min(y, H - y)
    return np.array([x - hw, y - hh, 2 * hw, 2 * hh])


def relocalization_scores(
    boxes,
    appearance,
    objectness,
    clicks=None,
    *,
    appearance_weight: float = 0.5,
    sigma_bc: Optional[float] = None,
    mu: Optional[AreaFromClickDistance] = None,
    sigma_ba: Optional[float] = None,
) -> np.ndarray:
    """S(p) = S_ap(p) * s_bc(p) * s_ba(p) of one object's proposals.

    Click terms are used as given: ``sigma_bc`` None (or no clicks) leaves s_bc out (reference
    MIL); ``mu`` None leaves s_ba out (one click); s_ba needs exactly two clicks.

    Returns:
        (M,) scores.
    """
    s = objectness_mix(appearance, objectness, appearance_weight)
    if clicks is not None and sigma_bc is not None:
        s = s * box_center_score(boxes, clicks, sigma_bc)
    if clicks is not None and mu is not None:
        if sigma_ba is None:
            raise ValueError("sigma_ba is needed with mu (the box-area score)")
        s = s * box_area_score(boxes, clicks, mu, sigma_ba)
    return s


def select_proposal(scores: Sequence[float]) -> int:
    """Index of the highest score (the first one on ties); -1 for an empty bag."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    return int(np.argmax(s)) if s.size else -1
