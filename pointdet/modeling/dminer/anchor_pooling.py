"""Pseudo labels for anchors (SIOD, Li et al. CVPR 2022, Sec. 3.4, Faster R-CNN).

The class-wise branch beside the RPN yields a pixel-level pseudo heat-map Y~ on the RPN's map;
each anchor takes the value of Y~ average-pooled with the kernel of its size (1, 3, 5, 7, 9 for
anchor sizes 32, 64, 128, 256, 512 on the stride-16 C4 map) at its centre cell. The paper does
not give the rest; pointdet's choices (projects/SIOD/README.md): stride-1 pooling with "same"
zero padding (k - 1) / 2 counted in the average (``count_include_pad``), and the class-agnostic
value is the maximum over classes of the pooled maps.
"""
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["pool_pseudo_labels", "anchor_pseudo_objectness"]


def pool_pseudo_labels(pseudo: torch.Tensor, kernel_sizes: Sequence[int] = (1, 3, 5, 7, 9)) -> torch.Tensor:
    """Class-agnostic pooled pseudo labels.

    Args:
        pseudo: (N, C, H, W) pseudo heat-map in [0, 1].
        kernel_sizes: one odd kernel per anchor size.
    Returns:
        (N, S, H, W): for kernel k_s, max over classes of the k_s x k_s average of ``pseudo``.
    """
    out = []
    for k in kernel_sizes:
        k = int(k)
        if k < 1 or k % 2 == 0:
            raise ValueError(f"pseudo-label pooling kernels must be odd and >= 1, got {k}")
        pooled = F.avg_pool2d(pseudo, k, stride=1, padding=(k - 1) // 2, count_include_pad=True)
        out.append(pooled.amax(dim=1))
    return torch.stack(out, dim=1)


def anchor_pseudo_objectness(pooled: torch.Tensor, num_aspect_ratios: int) -> torch.Tensor:
    """Pooled pseudo labels in the order of Detectron2's anchors and RPN logits.

    Detectron2's ``DefaultAnchorGenerator`` puts the cell anchors of a location size-major
    (for each size, each aspect ratio) and the RPN flattens (H, W, A).

    Args:
        pooled: (N, S, H, W) from :func:`pool_pseudo_labels` (S anchor sizes).
        num_aspect_ratios: anchors per size at a location.
    Returns:
        (N, H * W * S * num_aspect_ratios).
    """
    n, s, h, w = pooled.shape
    per_anchor = pooled.permute(0, 2, 3, 1)[..., :, None].expand(n, h, w, s, num_aspect_ratios)
    return per_anchor.reshape(n, -1)
