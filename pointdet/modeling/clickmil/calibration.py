"""Fitting mu, the log-area predictor of the two-click distance (click supervision, Sec. 4),
on a calibration split: a two-click file and the full box file it was derived from."""
import logging
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from pointdet.data.coco_io import CocoFormatError, load_coco_dict
from pointdet.evaluation.annotation_quality import check_pair, check_same_source

from .scores import AreaFromClickDistance, fit_area_from_click_distance

__all__ = ["click_distances_and_areas", "fit_mu_on_calibration", "format_mu_fit"]

logger = logging.getLogger(__name__)


def click_distances_and_areas(clicks: Union[str, Dict[str, Any]], gt: Union[str, Dict[str, Any]]) -> Tuple[np.ndarray, np.ndarray]:
    """Per non-crowd object with two clicks: (||c1 - c2||, GT box area), matched by annotation id.

    Raises:
        CocoFormatError: an object without exactly two clicks, an id missing from the GT file,
            a GT box of zero area, or a GT file the click file was not made from.
    """
    c_path = clicks if isinstance(clicks, str) else "<clicks dict>"
    g_path = gt if isinstance(gt, str) else "<gt dict>"
    c = load_coco_dict(clicks) if isinstance(clicks, str) else clicks
    g = load_coco_dict(gt) if isinstance(gt, str) else gt
    check_same_source(c, c_path, gt, g_path)
    gt_by_id = {a["id"]: a for a in g["annotations"]}
    dist, area = [], []
    for a in c["annotations"]:
        if a.get("iscrowd", 0):
            continue
        ck = np.asarray(a.get("clicks", []), dtype=np.float64).reshape(-1, 2)
        if ck.shape[0] != 2:
            raise CocoFormatError(f"{c_path}: annotation id {a['id']} has {ck.shape[0]} clicks; fitting mu needs "
                                  "two per object (make_weak_annotations.py clicks --num-annotators 2)")
        ga = gt_by_id.get(a["id"])
        if ga is None or "bbox" not in ga:
            raise CocoFormatError(f"{c_path}: annotation id {a['id']} has no box in the GT file {g_path}")
        check_pair(a, ga, c_path, g_path)
        w, h = ga["bbox"][2], ga["bbox"][3]
        if not w * h > 0:
            raise CocoFormatError(f"{g_path}: annotation id {a['id']} has a box of zero area")
        dist.append(float(np.linalg.norm(ck[0] - ck[1])))
        area.append(float(w * h))
    return np.asarray(dist), np.asarray(area)


def fit_mu_on_calibration(clicks, gt, output: Optional[str] = None, offset: float = 1.0) -> AreaFromClickDistance:
    """Fit mu by least squares of log area on log(click distance + offset) over every two-click
    object of ``clicks`` (areas from ``gt``); save it to ``output`` (JSON) when given."""
    d, a = click_distances_and_areas(clicks, gt)
    mu = fit_area_from_click_distance(d, a, offset=offset)
    if output is not None:
        mu.save(output)
    logger.info(format_mu_fit(mu))
    return mu


def format_mu_fit(mu: AreaFromClickDistance) -> str:
    f = mu.fit or {}
    return (f"mu(d) = {mu.intercept:.4f} + {mu.slope:.4f} * log(d + {mu.offset:g})  [log area, px^2]; "
            f"n = {f.get('n')}, R^2 = {f.get('r2', float('nan')):.3f}, residual std = "
            f"{f.get('residual_std', float('nan')):.3f} (a data-driven sigma_ba)")
