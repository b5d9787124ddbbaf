"""The one "inside the image" rule of pointdet.

A point (x, y) in continuous pixel coordinates (Detectron2's convention: an image of width w
spans x in [0, w], pixel i covers [i, i + 1)) is inside an image of size (h, w) iff

    0 <= x <= w  and  0 <= y <= h        (closed on both sides)

The rule is closed so that it is invariant under Detectron2's flips (x -> w - x maps 0 to w)
and agrees with ``Boxes.clip``. It is used by the point mapper (points that leave the image
after augmentation), the CPR point bags (bag points inside the padded image, CPR Eq. 1-2) and
the CPR refinement (bag points inside the unpadded image, Alg. 2). The reference CPR code
tests ``0 <= x < w``; the two differ only for points exactly on the right or bottom border
(see projects/CPR/README.md, "Differences from the paper").
"""
from typing import Union

import numpy as np
import torch

__all__ = ["points_inside_image"]

ArrayLike = Union[torch.Tensor, np.ndarray]


def points_inside_image(points: ArrayLike, image_hw) -> ArrayLike:
    """Whether points lie in the closed rectangle ``[0, w] x [0, h]``.

    Args:
        points: (..., 2) points (x, y) in pixels, a tensor or a NumPy array.
        image_hw: (height, width), or a (..., 2) tensor/array of them broadcastable to
            ``points`` (e.g. one size per image, expanded to that image's points).
    Returns:
        bool tensor (or array, for an array input) of shape ``points.shape[:-1]``.
    """
    if isinstance(points, torch.Tensor):
        hw = torch.as_tensor(image_hw, device=points.device).to(points.dtype)
    else:
        points = np.asarray(points)
        hw = np.asarray(image_hw, dtype=points.dtype if points.dtype.kind == "f" else np.float64)
    x, y = points[..., 0], points[..., 1]
    return (x >= 0) & (y >= 0) & (x <= hw[..., 1]) & (y <= hw[..., 0])
