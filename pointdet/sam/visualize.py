"""Pictures of one annotated point's proposal bag (SAPNet Fig. 6-7 style): a crop around the
point per proposal (its mask outlined, its score written), the top-1 proposal framed yellow,
the selected one (e.g. SAPNet's Mask_prm) framed green, the true box in cyan when known."""
import os
from typing import Optional, Sequence

import cv2
import numpy as np

__all__ = ["draw_proposal_bag", "save_proposal_bag"]

GREEN = (0, 200, 0)
YELLOW = (255, 230, 0)
CYAN = (0, 220, 255)
RED = (255, 40, 40)


def draw_proposal_bag(
    image: np.ndarray,
    point: Sequence[float],
    masks: np.ndarray,
    scores: Optional[Sequence[float]] = None,
    top1: Optional[int] = None,
    selected: Optional[int] = None,
    true_box: Optional[Sequence[float]] = None,
    tile: int = 160,
) -> np.ndarray:
    """One row of M tiles (RGB uint8, (tile + 20) x M * tile).

    Args:
        image: (H, W, 3) uint8 RGB; point: (x, y) in continuous pixels; masks: (M, H, W) bool;
        scores: M numbers written under the tiles; top1 / selected: proposal indices framed
        yellow / green; true_box: XYWH drawn in cyan.
    """
    h, w = image.shape[:2]
    ys, xs = np.nonzero(masks.any(0))
    px, py = float(point[0]), float(point[1])
    half = 16.0
    if len(xs):
        half = max(half, np.abs(xs - px).max() + 4, np.abs(ys - py).max() + 4)
    x0, x1 = int(max(0, px - half)), int(min(w, px + half + 1))
    y0, y1 = int(max(0, py - half)), int(min(h, py + half + 1))
    scale = tile / max(x1 - x0, y1 - y0)
    tiles = []
    for k, m in enumerate(masks):
        crop = image[y0:y1, x0:x1].copy()
        contours, _ = cv2.findContours(m[y0:y1, x0:x1].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        big = cv2.resize(crop, (int(round((x1 - x0) * scale)), int(round((y1 - y0) * scale))),
                         interpolation=cv2.INTER_NEAREST)
        contours = [(c.astype(np.float64) * scale).astype(np.int32) for c in contours]
        cv2.drawContours(big, contours, -1, RED, 1)
        if true_box is not None:
            bx, by, bw, bh = true_box
            p1 = (int((bx - x0) * scale), int((by - y0) * scale))
            p2 = (int((bx + bw - x0) * scale), int((by + bh - y0) * scale))
            cv2.rectangle(big, p1, p2, CYAN, 1)
        cv2.circle(big, (int((px - x0) * scale), int((py - y0) * scale)), 3, GREEN, -1)
        canvas = np.zeros((tile + 20, tile, 3), np.uint8)
        canvas[: big.shape[0], : big.shape[1]] = big[:tile, :tile]
        for idx, colour, width in ((top1, YELLOW, 5), (selected, GREEN, 2)):
            if idx == k:
                cv2.rectangle(canvas, (0, 0), (tile - 1, tile - 1), colour, width)
        label = f"#{k}" + (f" {scores[k]:.2f}" if scores is not None else "")
        cv2.putText(canvas, label, (3, tile + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
        tiles.append(canvas)
    return np.concatenate(tiles, axis=1)


def save_proposal_bag(path: str, *args, **kwargs) -> str:
    """:func:`draw_proposal_bag` written as a PNG (folders created); returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    img = draw_proposal_bag(*args, **kwargs)
    if not cv2.imwrite(path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
    return path
