"""Reading, validating and atomically writing COCO-format annotation files.

Every pointdet tool that reads a COCO-format file goes through :func:`load_coco_dict`, so a
malformed file fails once, here, with an error that names the file and the offending id;
every tool that writes one goes through :func:`atomic_write_json`, so a failure never leaves
a half-written file behind.
"""
import hashlib
import json
import math
import os
from typing import Any, Dict, Iterable, Optional

from pointdet.utils.file_io import atomic_open

__all__ = ["CocoFormatError", "load_coco_dict", "validate_coco_dict", "atomic_write_json", "check_outputs_not_inputs", "file_sha256"]


class CocoFormatError(ValueError):
    """A COCO-format file is malformed; the message names the file and the offending id."""


def _finite_numbers(values, n=None) -> bool:
    if not isinstance(values, (list, tuple)) or (n is not None and len(values) != n):
        return False
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


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
        if eid in ids:
            raise CocoFormatError(f"{path}: duplicate {kind} id {eid}")
        ids.add(eid)
    return ids


def validate_coco_dict(data: Any, path: str = "<dict>", image_root: Optional[str] = None) -> None:
    """Check the structure of a COCO instances dict; raise :class:`CocoFormatError` on the first problem.

    Checks: top-level ``images`` / ``annotations`` / ``categories`` lists; integer, 1-based,
    unique ids; annotation ``image_id`` and ``category_id`` that exist; ``bbox`` of 4 finite
    numbers with positive width and height; ``point`` of 2 finite numbers; ``clicks`` a list
    of such points; image ``width``/``height`` positive. With ``image_root``, every image
    file must exist under it.
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
    for img in data["images"]:
        for k in ("width", "height"):
            v = img.get(k)
            if not isinstance(v, int) or v <= 0:
                raise CocoFormatError(f"{path}: image id {img['id']} has invalid {k} {v!r}")
        if not isinstance(img.get("file_name"), str):
            raise CocoFormatError(f"{path}: image id {img['id']} has no 'file_name'")
        if image_root is not None:
            f = os.path.join(image_root, img["file_name"])
            if not os.path.isfile(f):
                raise CocoFormatError(f"{path}: image id {img['id']} file not found: {f}")
    for ann in data["annotations"]:
        aid = ann["id"]
        if ann.get("image_id") not in image_ids:
            raise CocoFormatError(f"{path}: annotation id {aid} refers to unknown image id {ann.get('image_id')!r}")
        if ann.get("category_id") not in cat_ids:
            raise CocoFormatError(
                f"{path}: annotation id {aid} has unknown category id {ann.get('category_id')!r} "
                f"(known: {sorted(cat_ids)})"
            )
        if "bbox" in ann:
            b = ann["bbox"]
            if not _finite_numbers(b, 4):
                raise CocoFormatError(f"{path}: annotation id {aid} has malformed bbox {b!r}")
            if b[2] <= 0 or b[3] <= 0:
                raise CocoFormatError(f"{path}: annotation id {aid} has a degenerate bbox {b!r} (width/height <= 0)")
        if "point" in ann and not _finite_numbers(ann["point"], 2):
            raise CocoFormatError(f"{path}: annotation id {aid} has malformed point {ann['point']!r}")
        if "clicks" in ann:
            c = ann["clicks"]
            if not isinstance(c, list) or not c or not all(_finite_numbers(p, 2) for p in c):
                raise CocoFormatError(f"{path}: annotation id {aid} has malformed clicks {c!r}")


def load_coco_dict(path: str, image_root: Optional[str] = None) -> Dict[str, Any]:
    """Load and validate a COCO-format JSON file (see :func:`validate_coco_dict`)."""
    from iopath.common.file_io import g_pathmgr

    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"COCO file not found: {path}")
    with g_pathmgr.open(path, "r") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise CocoFormatError(f"{path}: not valid JSON ({e})") from None
    validate_coco_dict(data, path, image_root)
    return data


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


def atomic_write_json(obj: Any, path: str, indent: Optional[int] = None) -> None:
    """Write ``obj`` as JSON to ``path`` via a temporary file in the same folder and a rename.

    The output is deterministic for the same ``obj`` (no timestamps are added), so identical
    inputs give byte-identical files. On any error the destination is left untouched.
    """
    with atomic_open(path, "w") as f:
        json.dump(obj, f, indent=indent, allow_nan=False)


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes (recorded in generated files' ``info``)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
