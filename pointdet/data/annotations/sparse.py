"""Sparse box annotations of the BRL protocol used by Co-mining (Co-mining, AAAI 2021,
following the settings of Zhang et al. 2020).

Over non-crowd annotations (crowd ones are always kept as ignore regions):

- ``easy``: per image, erase one at random, only if the image has >= 2;
- ``hard``: per image, erase floor(n / 2) at random;
- ``extreme``: per image, keep one at random;
- ``50miss``: per category over the whole dataset, erase floor(miss_fraction * n_c) at random
  (miss_fraction = 0.5).

No generation script or seed was published for the released files; these rules are
our reading of the paper, and the statistics stored in ``info`` let a run be
compared with the released files.
"""
import math
from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .common import default_output_path, load_source, make_rng, split_kept_erased, write_kept_erased

__all__ = ["SPARSE_LEVELS", "num_to_erase", "make_sparse", "run_sparse"]

SPARSE_LEVELS = ("easy", "hard", "extreme", "50miss")


def num_to_erase(level: str, n: int, miss_fraction: float = 0.5) -> int:
    """How many of ``n`` non-crowd annotations a group loses (group = image, or category for 50miss)."""
    if level == "easy":
        return 1 if n >= 2 else 0
    if level == "hard":
        return n // 2
    if level == "extreme":
        return max(n - 1, 0)
    if level == "50miss":
        return int(math.floor(miss_fraction * n + 1e-9))
    raise ValueError(f"unknown sparse level {level!r}; expected one of {SPARSE_LEVELS}")


def make_sparse(
    coco_dict: Dict[str, Any], seed: int = 0, level: str = "easy", miss_fraction: float = 0.5
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Split a COCO dict into (sparse file, erased file). Pure: ``coco_dict`` is not changed.

    Groups are visited in a deterministic order (images in JSON order for the per-image
    levels; categories in ``categories`` order for 50miss); in each group the erased members
    are ``rng.choice(n, k, replace=False)`` over the group's annotations in JSON order.
    """
    if level not in SPARSE_LEVELS:
        raise ValueError(f"unknown sparse level {level!r}; expected one of {SPARSE_LEVELS}")
    if not 0.0 <= miss_fraction <= 1.0:
        raise ValueError(f"miss_fraction must be in [0, 1], got {miss_fraction!r}")
    rng = make_rng(seed)
    anns = coco_dict["annotations"]
    if level == "50miss":
        groups = OrderedDict((c["id"], []) for c in coco_dict["categories"])
        key = "category_id"
    else:
        groups = OrderedDict((img["id"], []) for img in coco_dict["images"])
        key = "image_id"
    for i, a in enumerate(anns):
        if not a.get("iscrowd", 0):
            groups[a[key]].append(i)
    erase = np.zeros(len(anns), dtype=bool)
    for idx in groups.values():
        k = num_to_erase(level, len(idx), miss_fraction)
        if k > 0:
            chosen = rng.choice(len(idx), size=k, replace=False)
            erase[np.asarray(idx)[chosen]] = True
    params = OrderedDict(level=level)
    if level == "50miss":
        params["miss_fraction"] = miss_fraction
    return split_kept_erased(coco_dict, (~erase).tolist(), f"pointdet.sparse_{level}", params, seed)


def run_sparse(
    input_path: str,
    output_path: Optional[str] = None,
    seed: int = 0,
    image_root: Optional[str] = None,
    level: str = "easy",
    miss_fraction: float = 0.5,
    verbose: bool = True,
    allow_outside_image_root: bool = False,
) -> Tuple[str, str]:
    """Write ``<stem>_sparse_{level}_s{seed}.json`` and its ``_erased.json``; return both paths."""
    if level not in SPARSE_LEVELS:
        raise ValueError(f"unknown sparse level {level!r}; expected one of {SPARSE_LEVELS}")
    if output_path is None:
        output_path = default_output_path(input_path, f"sparse_{level}_s{seed}")
    coco, source = load_source(input_path, image_root, allow_outside_image_root)
    kept, erased = make_sparse(coco, seed, level, miss_fraction)
    return write_kept_erased(kept, erased, source, input_path, output_path, f"sparse {level}", verbose)
