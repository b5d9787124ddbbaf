"""Pieces shared by the weak-annotation generators (``tools/make_weak_annotations.py``).

Every generator is a pure function ``make_*(coco_dict, seed, ...) -> dict`` plus a ``run_*``
that reads a validated COCO file (:func:`pointdet.data.coco_io.load_coco_dict`), calls it,
records the source file name and checksum in ``info`` and writes the result atomically
beside the input under the conventional, seed-carrying name. This module holds what they
share: the seeded RNG, output naming, the ``info`` block, statistics, the point/click
annotation rewrite (``bbox`` -> ``true_bbox`` ...) and the box-local mask rasteriser.
"""
import math
import os
from collections import Counter, OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..coco_io import CocoFormatError, atomic_write_jsons, check_outputs_not_inputs, file_sha256, load_coco_dict

__all__ = [
    "make_rng",
    "default_output_path",
    "erased_output_path",
    "build_info",
    "to_weak_annotation",
    "box_local_mask",
    "kept_erased_statistics",
    "point_statistics",
    "format_statistics",
    "split_file",
    "write_outputs",
    "require_bbox",
    "TRUE_KEYS",
]

# Keys an annotator does not give: moved to ``true_*`` in point and click files (analysis only).
TRUE_KEYS = ("bbox", "segmentation", "area")
_POLY_MARGIN = 2  # px around the box-local grid when rasterising polygons


def make_rng(seed: int) -> np.random.Generator:
    """The one RNG of a generator run: ``numpy.random.Generator`` (PCG64) seeded with ``seed``."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed))


def _stem(input_path: str) -> str:
    base = os.path.basename(input_path)
    return base[: -len(".json")] if base.endswith(".json") else base


def default_output_path(input_path: str, suffix: str) -> str:
    """``<dir of input>/<stem>_<suffix>.json``, e.g. suffix ``coarse_points_s0``."""
    return os.path.join(os.path.dirname(os.path.abspath(input_path)), f"{_stem(input_path)}_{suffix}.json")


def erased_output_path(output_path: str) -> str:
    """``<output without .json>_erased.json`` (where Keep1/sparse write the erased annotations)."""
    root = output_path[: -len(".json")] if output_path.endswith(".json") else output_path
    return root + "_erased.json"


def build_info(
    source_info: Any, generator: str, params: Dict[str, Any], seed: Optional[int], statistics: Dict[str, Any]
) -> Dict[str, Any]:
    """The ``info`` block of a generated file; ``run_*`` adds ``source_file`` and ``source_sha256``."""
    from pointdet.data.provenance import build_info as _build_info

    return _build_info(generator, description=f"pointdet weak annotations ({generator})", params=dict(params),
                       seed=seed, statistics=statistics, source_info=source_info)


def require_bbox(ann: Dict[str, Any], path: str = "<dict>") -> List[float]:
    if "bbox" not in ann:
        raise CocoFormatError(
            f"{path}: annotation id {ann.get('id')!r} has no 'bbox' (this generator needs a full box "
            f"annotation file, not a point/click file)"
        )
    return ann["bbox"]


def to_weak_annotation(ann: Dict[str, Any], **weak_fields) -> Dict[str, Any]:
    """Rewrite one full annotation into a point/click annotation.

    Keeps ``id``, ``image_id``, ``category_id``, ``iscrowd`` (0 when absent) and any other
    key, adds ``weak_fields`` (e.g. ``point=[x, y]``) and moves ``bbox``/``segmentation``/``area``
    to ``true_bbox``/``true_segmentation``/``true_area`` so that no trainer can read them.
    """
    out = OrderedDict()
    out["id"] = ann["id"]
    out["image_id"] = ann["image_id"]
    out["category_id"] = ann["category_id"]
    out["iscrowd"] = int(ann.get("iscrowd", 0))
    out.update(weak_fields)
    for k, v in ann.items():
        if k in out or k in TRUE_KEYS or k.startswith("true_"):
            continue
        out[k] = v
    for k in TRUE_KEYS:
        if k in ann:
            out["true_" + k] = ann[k]
    return out


def box_local_mask(
    segmentation: Any, box: Sequence[float], image_hw: Tuple[int, int], ann_id: Any = None, path: str = "<dict>"
) -> Tuple[Optional[np.ndarray], Tuple[int, int]]:
    """Rasterise an annotation's mask on the pixels that overlap its box.

    Pixel (col, row) is the square [col, col+1) x [row, row+1) in continuous image
    coordinates. The grid covers cols ``x0 .. x1-1`` with ``x0 = floor(x)``, ``x1 = ceil(x+w)``
    (rows likewise), clipped to the image.

    Args:
        segmentation: COCO polygons (list of [x1, y1, x2, y2, ...]), RLE dict (compressed or
            uncompressed, ``size`` = [H, W] of the image), or None (box used as the mask).
        box: [x, y, w, h] in image pixels.
        image_hw: (H, W) of the image.
    Returns:
        (mask, (x0, y0)): ``mask`` uint8 (y1-y0, x1-x0) with 1 on the object, or None if the
        box covers no pixel of the image; (x0, y0) the integer image coordinates of its top-left pixel.
    """
    from pycocotools import mask as mask_utils

    H, W = int(image_hw[0]), int(image_hw[1])
    x, y, w, h = (float(v) for v in box)
    x0, y0 = max(0, int(math.floor(x))), max(0, int(math.floor(y)))
    x1, y1 = min(W, int(math.ceil(x + w))), min(H, int(math.ceil(y + h)))
    if x1 <= x0 or y1 <= y0:
        return None, (x0, y0)
    hl, wl = y1 - y0, x1 - x0
    if segmentation is None:
        return np.ones((hl, wl), dtype=np.uint8), (x0, y0)
    if isinstance(segmentation, list):
        polys = []
        for p in segmentation:
            if not isinstance(p, (list, tuple)) or len(p) % 2 != 0:
                raise CocoFormatError(f"{path}: annotation id {ann_id!r} has a malformed polygon")
            if len(p) < 6:  # fewer than 3 vertices encloses no area
                continue
            q = np.asarray(p, dtype=np.float64).copy()
            # integer shift (rasterisation identical to the full-image one) plus a margin:
            # pycocotools drops edge crossings beyond the grid's last column/row
            q[0::2] -= x0 - _POLY_MARGIN
            q[1::2] -= y0 - _POLY_MARGIN
            polys.append(q.tolist())
        if not polys:
            return np.zeros((hl, wl), dtype=np.uint8), (x0, y0)
        mg = _POLY_MARGIN
        rles = mask_utils.frPyObjects(polys, hl + 2 * mg, wl + 2 * mg)
        m = mask_utils.decode(mask_utils.merge(rles))[mg : mg + hl, mg : mg + wl]
        return m, (x0, y0)
    if isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        if [int(s) for s in segmentation["size"]] != [H, W]:
            raise CocoFormatError(
                f"{path}: annotation id {ann_id!r} has an RLE of size {segmentation['size']} but its image is {[H, W]}"
            )
        rle = segmentation
        if isinstance(rle["counts"], list):
            rle = mask_utils.frPyObjects(rle, H, W)
        m = mask_utils.decode(rle)
        return m[y0:y1, x0:x1], (x0, y0)
    raise CocoFormatError(f"{path}: annotation id {ann_id!r} has an unrecognised segmentation")


def _histogram(counts: Iterable[int]) -> Dict[str, int]:
    c = Counter(counts)
    return OrderedDict((str(k), c[k]) for k in sorted(c))


def _per_image_summary(coco: Dict[str, Any], anns: List[Dict[str, Any]]) -> Dict[str, Any]:
    n = Counter(a["image_id"] for a in anns if not a.get("iscrowd", 0))
    counts = [n.get(img["id"], 0) for img in coco["images"]]
    return OrderedDict(
        mean=round(float(np.mean(counts)), 4) if counts else 0.0,
        max=int(max(counts)) if counts else 0,
        images_with_none=int(sum(1 for c in counts if c == 0)),
        histogram=_histogram(counts),
    )


def kept_erased_statistics(
    coco: Dict[str, Any], kept: List[Dict[str, Any]], erased: List[Dict[str, Any]]
) -> Dict[str, Any]:
    """Statistics of a Keep1/sparse split (stored in ``info['statistics']`` and printed).

    Per-image counts are over non-crowd annotations (crowd ones are ignore regions).
    """
    names = {c["id"]: c.get("name", str(c["id"])) for c in coco["categories"]}
    kc = Counter(a["category_id"] for a in kept if not a.get("iscrowd", 0))
    ec = Counter(a["category_id"] for a in erased)
    n_in_noncrowd = sum(1 for a in coco["annotations"] if not a.get("iscrowd", 0))
    s = OrderedDict()
    s["images"] = len(coco["images"])
    s["annotations_input"] = len(coco["annotations"])
    s["non_crowd_input"] = n_in_noncrowd
    s["annotations_kept"] = len(kept)
    s["non_crowd_kept"] = sum(1 for a in kept if not a.get("iscrowd", 0))
    s["crowd_kept"] = sum(1 for a in kept if a.get("iscrowd", 0))
    s["annotations_erased"] = len(erased)
    s["erased_fraction_of_non_crowd"] = round(len(erased) / n_in_noncrowd, 6) if n_in_noncrowd else 0.0
    s["kept_per_image"] = _per_image_summary(coco, kept)
    s["input_per_image"] = _per_image_summary(coco, coco["annotations"])
    s["per_category"] = OrderedDict(
        (str(cid), OrderedDict(name=names[cid], kept=kc.get(cid, 0), erased=ec.get(cid, 0)))
        for cid in sorted(names)
    )
    return s


def point_statistics(
    coco: Dict[str, Any], anns: List[Dict[str, Any]], extra: Optional[Dict[str, int]] = None
) -> Dict[str, Any]:
    """Statistics of a point/click file (stored in ``info['statistics']`` and printed)."""
    names = {c["id"]: c.get("name", str(c["id"])) for c in coco["categories"]}
    cc = Counter(a["category_id"] for a in anns)
    s = OrderedDict()
    s["images"] = len(coco["images"])
    s["annotations"] = len(anns)
    s["crowd"] = sum(1 for a in anns if a.get("iscrowd", 0))
    if extra:
        s.update(extra)
    s["per_image"] = _per_image_summary(coco, anns)
    s["per_category"] = OrderedDict((str(cid), OrderedDict(name=names[cid], count=cc.get(cid, 0))) for cid in sorted(names))
    return s


def format_statistics(stats: Dict[str, Any], title: str = "") -> str:
    """Human-readable multi-line summary of a statistics dict."""
    lines = [title] if title else []
    for k, v in stats.items():
        if k == "per_category":
            lines.append("  per category:")
            for cid, d in v.items():
                lines.append("    " + f"{cid:>4} {d['name']:<20} " + " ".join(f"{a}={b}" for a, b in d.items() if a != "name"))
        elif isinstance(v, dict):
            inner = ", ".join(f"{a}={b}" for a, b in v.items() if a != "histogram")
            lines.append(f"  {k}: {inner}")
            if "histogram" in v:
                hist = " ".join(f"{a}:{b}" for a, b in v["histogram"].items())
                lines.append(f"    histogram (annotations per image: images): {hist}")
        else:
            lines.append(f"  {k}: {v}")
    return "\n".join(lines)


def split_file(coco: Dict[str, Any], annotations: List[Dict[str, Any]], info: Dict[str, Any]) -> Dict[str, Any]:
    """A COCO dict with ``coco``'s images/categories (and licenses), the given annotations and info."""
    out = OrderedDict()
    out["info"] = info
    if "licenses" in coco:
        out["licenses"] = coco["licenses"]
    out["images"] = coco["images"]
    out["categories"] = coco["categories"]
    out["annotations"] = annotations
    return out


def split_kept_erased(
    coco: Dict[str, Any], keep: Sequence[bool], generator: str, params: Dict[str, Any], seed: Optional[int]
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(kept file, erased file) of a generator that erases annotations (Keep1, sparse sets):
    ``coco``'s annotations split by ``keep`` (one flag each, JSON order kept), both files with
    the same :func:`kept_erased_statistics`, the erased file's generator ``<generator>.erased``."""
    anns = coco["annotations"]
    kept = [a for a, k in zip(anns, keep) if k]
    erased = [a for a, k in zip(anns, keep) if not k]
    stats = kept_erased_statistics(coco, kept, erased)
    info = build_info(coco.get("info"), generator, params, seed, stats)
    info_erased = build_info(coco.get("info"), f"{generator}.erased", params, seed, stats)
    return split_file(coco, kept, info), split_file(coco, erased, info_erased)


def write_kept_erased(
    kept: Dict[str, Any], erased: Dict[str, Any], source: Dict[str, str], input_path: str, output_path: str,
    label: str, verbose: bool = True,
) -> Tuple[str, str]:
    """Record ``source`` in both files of :func:`split_kept_erased`, write ``output_path`` and its
    ``_erased.json`` (both or neither), print the statistics under ``label`` when ``verbose``;
    return both paths."""
    add_source(kept, source)
    add_source(erased, source)
    erased_path = erased_output_path(output_path)
    write_outputs([(erased, erased_path), (kept, output_path)], input_path)
    if verbose:
        print(format_statistics(kept["info"]["statistics"], f"{label} -> {output_path} (erased: {erased_path})"))
    return output_path, erased_path


def load_source(
    input_path: str, image_root: Optional[str] = None, allow_outside_image_root: bool = False
) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Load + validate the input and return it with its ``source_file``/``source_sha256`` record.

    With ``image_root`` every image must exist there with its declared size (the generators
    trust ``width``/``height``); without it, annotations beyond the declared sizes are counted
    and logged as a warning (:func:`pointdet.data.coco_io.validate_coco_dict`).
    """
    coco = load_coco_dict(input_path, image_root=image_root, allow_outside_image_root=allow_outside_image_root)
    return coco, OrderedDict(source_file=os.path.basename(input_path), source_sha256=file_sha256(input_path))


def add_source(result: Dict[str, Any], source: Dict[str, str]) -> Dict[str, Any]:
    info = result["info"]
    new = OrderedDict()
    for k, v in info.items():
        new[k] = v
        if k == "seed":
            new.update(source)
    result["info"] = new
    return result


def write_outputs(outputs: List[Tuple[Dict[str, Any], str]], input_path: str) -> None:
    """Write the ``(obj, path)`` files of one generator run: all of them or none.

    Refuses an output that is the input. Temporary files left by killed earlier runs of the
    same outputs are removed first (a generator is the only writer of its outputs). The files
    are renamed into place in the order given, after all have been written; a failure
    restores the previous version of any output already replaced
    (:func:`pointdet.data.coco_io.atomic_write_jsons`).
    """
    check_outputs_not_inputs([p for _, p in outputs], [input_path])
    atomic_write_jsons(outputs, remove_stale=True)
