"""Reading, validating and atomically writing COCO-format annotation files.

Every pointdet tool that reads a COCO-format file goes through :func:`load_coco_dict`, so a
malformed file fails once, here, with an error that names the file and the offending id;
every tool that writes one goes through :func:`atomic_write_json`, so a failure never leaves
a half-written file behind.
"""
import hashlib
import json
import logging
import math
import numbers
import os
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from pointdet.utils.file_io import atomic_open_all, remove_stale_temp_files

__all__ = [
    "CocoFormatError",
    "MAX_ABS_COORDINATE",
    "load_coco_dict",
    "load_json_strict",
    "validate_coco_dict",
    "out_of_image_report",
    "format_out_of_image_report",
    "image_path_is_inside",
    "resolve_image_path",
    "image_size",
    "image_file",
    "numbers_in_range",
    "check_segmentation",
    "atomic_write_json",
    "atomic_write_jsons",
    "check_outputs_not_inputs",
    "file_sha256",
]

logger = logging.getLogger(__name__)


class CocoFormatError(ValueError):
    """A COCO-format file is malformed; the message names the file and the offending id."""


#: Largest absolute value accepted for a coordinate, size or area component (pixels): far
#: beyond any real image, small enough that sums and products of coordinates stay finite.
MAX_ABS_COORDINATE = 1e7
#: Largest accepted id (ids travel as int64 tensors, e.g. ``gt_ann_ids``).
MAX_ID = 2**63 - 1
#: How many ids an out-of-image warning lists.
_NUM_IDS_SHOWN = 5


_PLAIN_NUMBER_TYPES = {int, float}


def numbers_in_range(values, n=None, bound: float = MAX_ABS_COORDINATE) -> bool:
    """True if ``values`` is a list of ``n`` (any if None) finite numbers with ``abs(v) <= bound``.

    Runs at C speed (min / max / sum) so that whole polygon lists can be checked: strings,
    None or nested lists fail the comparisons, NaN and infinities make the sum non-finite, and
    too large integers fail the bound before any float conversion. With ``n`` (boxes, points)
    booleans are refused too.
    """
    if not isinstance(values, (list, tuple)) or (n is not None and len(values) != n):
        return False
    if not values:
        return True
    if n is not None and not set(map(type, values)) <= _PLAIN_NUMBER_TYPES:  # e.g. numpy scalars from an in-memory dict
        if not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values):
            return False
    try:
        return -bound <= min(values) and max(values) <= bound and math.isfinite(sum(values))
    except (TypeError, ValueError, OverflowError):
        return False


def _is_flag(v) -> bool:
    return v in (0, 1) and isinstance(v, (int, bool))  # 0, 1, False, True (not 0.0, not "no")


def _check_ids(entries, kind: str, path: str) -> set:
    ids = set()
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise CocoFormatError(f"{path}: {kind}[{i}] is not a JSON object")
        if "id" not in e:
            raise CocoFormatError(f"{path}: {kind}[{i}] has no 'id'")
        eid = e["id"]
        if not isinstance(eid, int) or isinstance(eid, bool):
            raise CocoFormatError(f"{path}: {kind} id {eid!r} is not an integer")
        if eid < 1:
            raise CocoFormatError(
                f"{path}: {kind} id {eid} is < 1; COCO ids are 1-based (re-index the file so "
                f"that every {kind} id is >= 1)"
            )
        if eid > MAX_ID:
            raise CocoFormatError(f"{path}: {kind}[{i}] has id {_short(eid)} > {MAX_ID} (ids must fit in int64)")
        if eid in ids:
            raise CocoFormatError(f"{path}: duplicate {kind} id {eid}")
        ids.add(eid)
    return ids


def _short(v, limit: int = 80) -> str:
    """``repr(v)`` cut to ``limit`` characters (an integer of 10**400 or a huge list stays readable)."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 10**20:
        return f"<integer of {len(str(abs(v)))} digits>"
    r = repr(v)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _check_bbox(b, where: str, key: str = "bbox") -> None:
    if not numbers_in_range(b, 4):
        raise CocoFormatError(f"{where} has malformed {key} {_short(b)} (4 finite numbers, |v| <= {MAX_ABS_COORDINATE:g})")
    if b[2] <= 0 or b[3] <= 0:
        raise CocoFormatError(f"{where} has a degenerate {key} {_short(b)} (width/height <= 0)")


def check_segmentation(seg, hw, where: str, key: str = "segmentation") -> None:
    """A COCO polygon list ([[x1, y1, ...], ...], may be empty) or an RLE dict of the image's size."""
    if isinstance(seg, list):
        for poly in seg:
            if not numbers_in_range(poly):
                raise CocoFormatError(
                    f"{where} has a malformed {key}: a polygon must be a list of finite numbers "
                    f"[x1, y1, x2, y2, ...] with |v| <= {MAX_ABS_COORDINATE:g}, got {_short(poly)}"
                )
        return
    if isinstance(seg, dict) and set(seg) >= {"size", "counts"}:
        size, counts = seg["size"], seg["counts"]
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in size)):
            raise CocoFormatError(f"{where} has an RLE {key} with malformed size {_short(size)} (expected [height, width])")
        if list(size) != list(hw):
            raise CocoFormatError(f"{where} has an RLE {key} of size {size} but its image is [height, width] = {list(hw)}")
        if isinstance(counts, str):
            return
        if isinstance(counts, list) and numbers_in_range(counts, bound=float(hw[0] * hw[1])):
            if all(isinstance(c, int) and c >= 0 for c in counts) and sum(counts) == hw[0] * hw[1]:
                return
        raise CocoFormatError(
            f"{where} has an RLE {key} with malformed counts {_short(counts)} (a compressed string, or "
            f"non-negative integers summing to height*width = {hw[0] * hw[1]})"
        )
    raise CocoFormatError(
        f"{where} has a malformed {key} {_short(seg)} (expected a list of polygons or an RLE dict with "
        f"'size' and 'counts')"
    )


def _check_area(v, where: str, key: str = "area") -> None:
    if not numbers_in_range([v]) or v < 0:
        raise CocoFormatError(f"{where} has invalid {key} {_short(v)} (a finite number >= 0)")


def image_path_is_inside(file_name: str) -> bool:
    """True if ``file_name`` is a relative path that stays inside its image root (no ``..`` escape)."""
    if os.path.isabs(file_name) or os.path.splitdrive(file_name)[0]:
        return False
    norm = os.path.normpath(file_name)
    return norm != ".." and not norm.startswith(".." + os.sep) and not norm.startswith("../")


def resolve_image_path(
    image_root: str, file_name: str, *, allow_outside: bool = False, path: str = "<dict>", image_id: Any = None
) -> str:
    """``os.path.join(image_root, file_name)``, refusing a ``file_name`` that leaves ``image_root``.

    An absolute ``file_name`` or one whose ``..`` components climb above the root would be
    read from anywhere on the machine; that raises :class:`CocoFormatError` naming the file and
    image id unless ``allow_outside`` is True.
    """
    if not allow_outside and not image_path_is_inside(file_name):
        raise CocoFormatError(
            f"{path}: image id {image_id} has file_name {file_name!r}, which is absolute or leaves the image "
            f"root with '..'; refused (allow it explicitly, e.g. --allow-outside-image-root, if the file is trusted)"
        )
    return os.path.join(image_root, file_name)


def _inside_image(x: float, y: float, w: float, h: float) -> bool:
    return 0.0 <= x <= w and 0.0 <= y <= h  # closed: a point at x == W is inside (Detectron2's transforms)


def out_of_image_report(data: Dict[str, Any], tolerance: float = 1.0) -> "OrderedDict[str, List[int]]":
    """Annotations that do not fit the declared ``width`` x ``height`` of their image.

    Returns an ordered dict ``kind -> annotation ids`` (kinds with no annotation omitted):

    * ``box_outside_image``: ``bbox`` with no overlap with [0, W] x [0, H] (nothing to learn from);
    * ``box_beyond_image``: ``bbox`` overlapping the image but extending more than ``tolerance``
      px beyond it (a wrong ``width``/``height`` makes most boxes of an image do this);
    * ``point_outside_image``: ``point`` outside [0, W] x [0, H];
    * ``click_outside_image``: a ``clicks`` entry outside it.

    ``data`` must be valid (:func:`validate_coco_dict`).
    """
    sizes = {img["id"]: (img["width"], img["height"]) for img in data["images"]}
    found: "OrderedDict[str, List[int]]" = OrderedDict(
        (k, []) for k in ("box_outside_image", "box_beyond_image", "point_outside_image", "click_outside_image")
    )
    for ann in data["annotations"]:
        W, H = sizes[ann["image_id"]]
        b = ann.get("bbox")
        if b is not None:
            x0, y0, x1, y1 = b[0], b[1], b[0] + b[2], b[1] + b[3]
            if x0 >= W or y0 >= H or x1 <= 0 or y1 <= 0:
                found["box_outside_image"].append(ann["id"])
            elif x0 < -tolerance or y0 < -tolerance or x1 > W + tolerance or y1 > H + tolerance:
                found["box_beyond_image"].append(ann["id"])
        p = ann.get("point")
        if p is not None and not _inside_image(p[0], p[1], W, H):
            found["point_outside_image"].append(ann["id"])
        if "clicks" in ann and not all(_inside_image(c[0], c[1], W, H) for c in ann["clicks"]):
            found["click_outside_image"].append(ann["id"])
    return OrderedDict((k, v) for k, v in found.items() if v)


_OUT_OF_IMAGE_TEXT = {
    "box_outside_image": "boxes lie entirely outside their image",
    "box_beyond_image": "boxes extend beyond their image's declared width/height",
    "point_outside_image": "points lie outside their image",
    "click_outside_image": "click annotations have a click outside their image",
}


def format_out_of_image_report(report: Dict[str, List[int]], path: str) -> str:
    """One line per kind of :func:`out_of_image_report`: count and the first ids."""
    lines = []
    for k, ids in report.items():
        shown = ", ".join(str(i) for i in ids[:_NUM_IDS_SHOWN]) + (", ..." if len(ids) > _NUM_IDS_SHOWN else "")
        hint = " (are the images' width/height right?)" if k.startswith("box_") else ""
        lines.append(f"{path}: {len(ids)} {_OUT_OF_IMAGE_TEXT[k]}{hint}: annotation ids {shown}")
    return "\n".join(lines)


def image_size(file: str):
    """(width, height) of an image file from its header (PIL; TIFF through tifffile if PIL cannot)."""
    from PIL import Image

    try:
        with Image.open(file) as im:
            return im.size
    except Exception as e:
        if file.lower().endswith((".tif", ".tiff")):
            import tifffile

            with tifffile.TiffFile(file) as t:
                shape = t.pages[0].shape
            if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[-1] not in (1, 3, 4):
                shape = shape[1:]  # channel-first
            return int(shape[1]), int(shape[0])
        raise OSError(f"cannot read image {file}: {e}") from None


def image_file(
    image_root: str, img: Dict[str, Any], path: str, allow_outside_image_root: bool = False, check_size: bool = True
) -> str:
    """The file of COCO image entry ``img`` under ``image_root`` (:func:`resolve_image_path`), checked
    to exist and, with ``check_size``, to have the entry's ``width`` x ``height``.

    Raises:
        CocoFormatError: naming ``path`` (the COCO file), the image id and the file.
    """
    f = resolve_image_path(image_root, img["file_name"], allow_outside=allow_outside_image_root, path=path,
                           image_id=img["id"])  # fmt: skip
    if not os.path.isfile(f):
        raise CocoFormatError(f"{path}: image id {img['id']} file not found: {f}")
    if check_size:
        try:
            w, h = image_size(f)
        except OSError as e:
            raise CocoFormatError(f"{path}: image id {img['id']}: {e}") from None
        if (w, h) != (img["width"], img["height"]):
            raise CocoFormatError(
                f"{path}: image id {img['id']} is {w}x{h} on disk ({f}) but {img['width']}x{img['height']} "
                f"in the file (width x height)"
            )
    return f


def validate_coco_dict(
    data: Any,
    path: str = "<dict>",
    image_root: Optional[str] = None,
    *,
    check_image_sizes: bool = True,
    allow_outside_image_root: bool = False,
    warn_out_of_image: bool = True,
) -> None:
    """Check the structure of a COCO instances dict; raise :class:`CocoFormatError` on the first problem.

    Checks: top-level ``images`` / ``annotations`` / ``categories`` lists; integer, 1-based,
    unique ids below 2**63; annotation ``image_id`` and ``category_id`` that exist; ``bbox`` /
    ``true_bbox`` of 4 finite numbers with positive width and height; ``point`` of 2 finite
    numbers; ``clicks`` a list of such points; ``area`` / ``true_area`` finite and >= 0;
    ``iscrowd`` / ``ignore`` 0, 1 or a bool; ``segmentation`` / ``true_segmentation`` a list
    of polygons (lists of finite numbers) or an RLE dict of the image's size; image
    ``width``/``height`` positive integers. Every coordinate, size and area component is at
    most :data:`MAX_ABS_COORDINATE` in absolute value. With ``image_root``, every image's
    ``file_name`` must stay inside it (unless ``allow_outside_image_root``) and the file must
    exist there with the declared size (header only; ``check_image_sizes=False`` skips the
    size). Annotations outside their image are not errors: with ``warn_out_of_image`` they
    are counted and logged as a warning (:func:`out_of_image_report`).
    """
    if not isinstance(data, dict):
        raise CocoFormatError(f"{path}: top level is {type(data).__name__}, expected a COCO JSON object")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise CocoFormatError(f"{path}: not a COCO instances file (missing top-level '{key}')")
        if not isinstance(data[key], list):
            raise CocoFormatError(f"{path}: top-level '{key}' must be a list")
    image_ids = _check_ids(data["images"], "image", path)
    cat_ids = _check_ids(data["categories"], "category", path)
    _check_ids(data["annotations"], "annotation", path)
    hw_of = {}
    for img in data["images"]:
        for k in ("width", "height"):
            v = img.get(k)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 < v <= MAX_ABS_COORDINATE:
                raise CocoFormatError(f"{path}: image id {img['id']} has invalid {k} {_short(v)}")
        hw_of[img["id"]] = (img["height"], img["width"])
        if not isinstance(img.get("file_name"), str):
            raise CocoFormatError(f"{path}: image id {img['id']} has no 'file_name'")
        if image_root is not None:
            image_file(image_root, img, path, allow_outside_image_root, check_image_sizes)
    for ann in data["annotations"]:
        aid = ann["id"]
        where = f"{path}: annotation id {aid}"
        if ann.get("image_id") not in image_ids:
            raise CocoFormatError(f"{where} refers to unknown image id {_short(ann.get('image_id'))}")
        if ann.get("category_id") not in cat_ids:
            raise CocoFormatError(f"{where} has unknown category id {_short(ann.get('category_id'))} (known: {sorted(cat_ids)})")
        for key in ("bbox", "true_bbox"):
            if key in ann:
                _check_bbox(ann[key], where, key)
        if "point" in ann and not numbers_in_range(ann["point"], 2):
            raise CocoFormatError(f"{where} has malformed point {_short(ann['point'])} (2 finite numbers, |v| <= {MAX_ABS_COORDINATE:g})")
        if "clicks" in ann:
            c = ann["clicks"]
            if not isinstance(c, list) or not c or not all(numbers_in_range(p, 2) for p in c):
                raise CocoFormatError(f"{where} has malformed clicks {_short(c)}")
        for key in ("area", "true_area"):
            if key in ann:
                _check_area(ann[key], where, key)
        for key in ("iscrowd", "ignore"):
            if key in ann and not _is_flag(ann[key]):
                raise CocoFormatError(f"{where} has {key} {_short(ann[key])}; expected 0, 1, true or false")
        for key in ("segmentation", "true_segmentation"):
            if key in ann and ann[key] is not None:
                check_segmentation(ann[key], hw_of[ann["image_id"]], where, key)
    if warn_out_of_image:
        report = out_of_image_report(data)
        if report:
            logger.warning(format_out_of_image_report(report, path))


def _reject_constant(name: str):
    raise _NonStandardConstant(name)


class _NonStandardConstant(ValueError):
    pass


def load_coco_dict(
    path: str, image_root: Optional[str] = None, *, allow_outside_image_root: bool = False, **validate_kwargs
) -> Dict[str, Any]:
    """Load and validate a COCO-format JSON file (see :func:`validate_coco_dict`).

    ``NaN`` / ``Infinity`` (accepted by Python's ``json`` but not JSON) are refused, naming
    the annotation or image id that holds them.
    """
    from iopath.common.file_io import g_pathmgr

    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"COCO file not found: {path}")
    data = load_json_strict(path)
    validate_coco_dict(data, path, image_root, allow_outside_image_root=allow_outside_image_root, **validate_kwargs)
    return data


def load_json_strict(path: str) -> Any:
    """``json.load`` that raises :class:`CocoFormatError` naming ``path`` on invalid JSON, including
    ``NaN`` / ``Infinity`` (the message names the ``id`` of the entry that holds it) and integers
    too long to parse."""
    from iopath.common.file_io import g_pathmgr

    with g_pathmgr.open(path, "r") as f:
        text = f.read()
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except _NonStandardConstant as e:
        data = json.loads(text)  # again, to say where the constant is
        raise CocoFormatError(f"{path}: {_locate_constant(data)} is {e} (not valid JSON; write null or a number)") from None
    except (json.JSONDecodeError, ValueError) as e:
        raise CocoFormatError(f"{path}: not valid JSON ({e})") from None


def _locate_constant(data: Any) -> str:
    """Where the first NaN / infinity in ``data`` is, e.g. "annotation id 7, key 'area'"."""

    def bad(v) -> bool:
        if isinstance(v, float):
            return not math.isfinite(v)
        if isinstance(v, dict):
            return any(bad(x) for x in v.values())
        if isinstance(v, list):
            return any(bad(x) for x in v)
        return False

    if isinstance(data, dict):
        for top, kind in (("annotations", "annotation"), ("images", "image"), ("categories", "category")):
            entries = data.get(top)
            if isinstance(entries, list):
                for i, e in enumerate(entries):
                    if isinstance(e, dict) and bad(e):
                        key = next(k for k, v in e.items() if bad(v))
                        return f"{kind} id {e.get('id', f'<{top}[{i}]>')}, key {key!r},"
        for k, v in data.items():
            if bad(v):
                return f"top-level key {k!r}"
    return "a value"


def check_outputs_not_inputs(outputs: Iterable[Optional[str]], inputs: Iterable[Optional[str]]) -> None:
    """Raise ``ValueError`` if any output path names the same file as one of the inputs.

    Every pointdet command that writes files calls this before it reads or writes anything,
    so no output (metrics JSON, plot, refined file) can replace a ground-truth, weak-annotation
    or results file it was given. ``None`` entries are ignored. Paths are compared after
    resolving symbolic links, and by inode when both exist.
    """
    ins = [p for p in inputs if p]
    for out in outputs:
        if not out:
            continue
        for src in ins:
            same = os.path.realpath(out) == os.path.realpath(src)
            if not same and os.path.exists(out) and os.path.exists(src):
                same = os.path.samefile(out, src)
            if same:
                raise ValueError(f"output {out} would overwrite the input file {src}")


def atomic_write_json(obj: Any, path: str, indent: Optional[int] = None, *, remove_stale: bool = False) -> None:
    """Write ``obj`` as JSON to ``path`` via a temporary file in the same folder and a rename.

    The output is deterministic for the same ``obj`` (no timestamps are added), so identical
    inputs give byte-identical files. On any error the destination is left untouched.
    ``remove_stale``: first delete the temporary files that killed earlier writes of ``path``
    left behind (only for outputs that no other process writes at the same time).
    """
    atomic_write_jsons([(obj, path)], indent, remove_stale=remove_stale)


def atomic_write_jsons(items: Sequence[Tuple[Any, str]], indent: Optional[int] = None, *, remove_stale: bool = False) -> None:
    """Write several ``(obj, path)`` JSON files: all of them or none (see
    :func:`pointdet.utils.file_io.atomic_open_all`; the last path is renamed last)."""
    paths = [p for _, p in items]
    if remove_stale:
        for p in paths:
            remove_stale_temp_files(p)
    with atomic_open_all(paths, "w") as files:
        for (obj, _), f in zip(items, files):
            json.dump(obj, f, indent=indent, allow_nan=False)


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes (recorded in generated files' ``info``)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
