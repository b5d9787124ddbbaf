"""Keep1 (SIOD, CVPR 2022, "Datasets": Keep1-COCO2017-Train): one annotated instance per category per image.

Per image and per category present, one non-crowd annotation is kept, chosen at random with
the seed (the paper); ``keep_first`` keeps the first in JSON order instead (the reference
code ``create_keep_k_annos``). Crowd annotations are kept as ignore regions; every image
stays in the file (also those left without annotations). The erased annotations go to a
separate ``<output>_erased.json``, never where a trainer reads.
"""
from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

from .common import default_output_path, load_source, make_rng, split_kept_erased, write_kept_erased

__all__ = ["make_keep1", "run_keep1"]


def _group_by_image_category(coco: Dict[str, Any]) -> "OrderedDict":
    """{image_id: {category_id: [annotation indices, JSON order]}} with images in JSON order."""
    groups = OrderedDict((img["id"], OrderedDict()) for img in coco["images"])
    for i, a in enumerate(coco["annotations"]):
        if a.get("iscrowd", 0):
            continue
        groups[a["image_id"]].setdefault(a["category_id"], []).append(i)
    return groups


def make_keep1(
    coco_dict: Dict[str, Any], seed: Optional[int] = 0, keep_first: bool = False
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Split a COCO dict into (Keep1 file, erased file). Pure: ``coco_dict`` is not changed.

    Iteration is deterministic: images in JSON order, categories in order of first
    appearance in the image; one ``rng.integers(n)`` per (image, category) group.
    Annotations keep their JSON order in both outputs.
    """
    rng = None if keep_first else make_rng(seed)
    anns = coco_dict["annotations"]
    keep = [bool(a.get("iscrowd", 0)) for a in anns]  # crowd: kept as ignore regions
    for cats in _group_by_image_category(coco_dict).values():
        for idx in cats.values():
            j = 0 if keep_first else int(rng.integers(len(idx)))
            keep[idx[j]] = True
    params = OrderedDict(keep_first=bool(keep_first))
    return split_kept_erased(coco_dict, keep, "pointdet.keep1", params, None if keep_first else seed)


def run_keep1(
    input_path: str,
    output_path: Optional[str] = None,
    seed: int = 0,
    image_root: Optional[str] = None,
    keep_first: bool = False,
    verbose: bool = True,
    allow_outside_image_root: bool = False,
) -> Tuple[str, str]:
    """Write ``<stem>_keep1_s{seed}.json`` (``<stem>_keep1_first.json`` with ``keep_first``) and
    its ``_erased.json``; return both paths."""
    if output_path is None:
        output_path = default_output_path(input_path, "keep1_first" if keep_first else f"keep1_s{seed}")
    coco, source = load_source(input_path, image_root, allow_outside_image_root)
    kept, erased = make_keep1(coco, seed, keep_first)
    return write_kept_erased(kept, erased, source, input_path, output_path, "keep1", verbose)
