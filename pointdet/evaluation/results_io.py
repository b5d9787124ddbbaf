"""Reading and checking COCO-format results files (detections, points, pseudo boxes).

One loader for every evaluator that reads a results file: :func:`load_results` reads a JSON
list of results (or takes a list already in memory) and :func:`check_results` checks each
entry against the ground truth, raising :class:`~pointdet.data.coco_io.CocoFormatError` that
names the file, the result's position (``result #i``) and its image id at the first problem.

A results entry is a dict ``{image_id, category_id, score, ...}`` plus its geometry:
``bbox`` [x, y, w, h] (boxes), ``segmentation`` (an RLE dict or polygons; masks), or
``point`` [x, y] (points; a ``bbox`` is accepted instead, its centre is used).
"""
import json
import math
import os
from typing import Any, Collection, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from pointdet.data.coco_io import CocoFormatError

__all__ = ["load_results", "check_results", "RESULT_GEOMETRIES"]

#: the geometry checked by :func:`check_results`
RESULT_GEOMETRIES = ("bbox", "segm", "point")

ResultsLike = Union[str, "os.PathLike[str]", Sequence[Dict[str, Any]]]


def load_results(
    results: ResultsLike, *, accept_coco_file: bool = False, what: str = "results"
) -> Tuple[List[Dict[str, Any]], str]:
    """Read a results file, or take a list of results; the entries are not copied or checked.

    Args:
        results: path of a JSON file holding a list of results, or the list (or tuple) itself.
        accept_coco_file: also accept a COCO-format file (a dict) and use its ``annotations``.
        what: what the entries are, for messages ("results", "pseudo boxes", ...).
    Returns:
        (list of result dicts, source name): the path, or ``"<{what} list>"`` for a list.
    Raises:
        FileNotFoundError: the file does not exist.
        CocoFormatError: invalid JSON, or not a list (naming the file).
    """
    if isinstance(results, (str, os.PathLike)):
        from iopath.common.file_io import g_pathmgr

        source = os.fspath(results)
        if not g_pathmgr.exists(source):
            raise FileNotFoundError(f"{what} file not found: {source}")
        with g_pathmgr.open(source, "r") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise CocoFormatError(f"{source}: not valid JSON ({e})") from None
    else:
        source, data = f"<{what} list>", results
    if accept_coco_file and isinstance(data, dict):
        if "annotations" not in data:
            raise CocoFormatError(f"{source}: expected a JSON list of {what} or a COCO file with 'annotations'")
        data = data["annotations"]
    if isinstance(data, tuple):
        data = list(data)
    if not isinstance(data, list):
        raise CocoFormatError(f"{source}: {what} must be a JSON list, got {type(data).__name__}")
    return data, source


def _is_finite_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def _finite_numbers(v, n: int) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == n and all(_is_finite_number(x) for x in v)


def check_results(
    results: Sequence[Dict[str, Any]],
    image_ids: Collection[int],
    category_ids: Collection[int],
    geometry: Optional[str],
    source: str = "<results list>",
    gt_source: str = "the ground truth",
) -> None:
    """Check every result entry; raise :class:`CocoFormatError` at the first problem.

    Each entry must be a dict with an ``image_id`` and a ``category_id`` of the ground truth,
    a finite numeric ``score``, and the geometry: ``"bbox"`` 4 finite numbers, ``"segm"`` an
    RLE dict (``size``, ``counts``) or polygons, ``"point"`` a ``point`` of 2 finite numbers or
    a ``bbox``; ``None`` checks no geometry.

    Args:
        results: the entries (from :func:`load_results`).
        image_ids, category_ids: the ids of the ground truth (sets are fastest).
        geometry: one of :data:`RESULT_GEOMETRIES` or None.
        source, gt_source: file names used in the messages.
    """
    if geometry is not None and geometry not in RESULT_GEOMETRIES:
        raise ValueError(f"geometry must be one of {RESULT_GEOMETRIES} or None, got {geometry!r}")
    for i, r in enumerate(results):
        if not isinstance(r, dict):
            raise CocoFormatError(f"{source}: result #{i} is not a JSON object")
        iid = r.get("image_id")
        for key in ("image_id", "category_id", "score"):
            if key not in r:
                raise CocoFormatError(f"{source}: result #{i} (image id {iid!r}) has no '{key}'")
        if iid not in image_ids:
            raise CocoFormatError(f"{source}: result #{i} has image id {iid!r}, which is not in {gt_source}")
        cid = r["category_id"]
        if cid not in category_ids:
            raise CocoFormatError(
                f"{source}: result #{i} (image id {iid}) has unknown category id {cid!r} "
                f"(categories of {gt_source}: {sorted(category_ids)})"
            )
        if not _is_finite_number(r["score"]):
            raise CocoFormatError(f"{source}: result #{i} (image id {iid}) has a non-finite score {r['score']!r}")
        if geometry == "bbox" or (geometry == "point" and "point" not in r):
            if geometry == "point" and "bbox" not in r:
                raise CocoFormatError(f"{source}: result #{i} (image id {iid}) has neither 'point' nor 'bbox'")
            if not _finite_numbers(r.get("bbox"), 4):
                raise CocoFormatError(f"{source}: result #{i} (image id {iid}) has a malformed bbox {r.get('bbox')!r}")
        elif geometry == "point":
            if not _finite_numbers(r["point"], 2):
                raise CocoFormatError(f"{source}: result #{i} (image id {iid}) has a malformed point {r['point']!r}")
        elif geometry == "segm":
            seg = r.get("segmentation")
            if not isinstance(seg, (dict, list)) or (isinstance(seg, dict) and not {"size", "counts"} <= set(seg)):
                raise CocoFormatError(
                    f"{source}: result #{i} (image id {iid}) has no valid 'segmentation' (RLE dict or polygons)"
                )
