"""Drawing of CPR point refinement: annotated points (green), bag points coloured by their class
score, kept bag points (B_j^+) outlined, refined points (yellow), as in the paper's Fig. 6, and
optionally the objects' true boxes (cyan) to judge where the points went."""
import numpy as np

__all__ = ["draw_point_refinement", "save_point_refinement"]

GREEN = (0, 200, 0)
YELLOW = (255, 230, 0)
CYAN = (0, 220, 255)


def _to_np(x):
    if x is None:
        return None
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def draw_point_refinement(
    image: np.ndarray,
    coarse_points,
    refined_points,
    bag_points=None,
    bag_scores=None,
    bag_keep=None,
    radius: int = 3,
    cmap: str = "viridis",
    boxes=None,
) -> np.ndarray:
    """Draw a refinement on an RGB image.

    Args:
        image: (H, W, 3) uint8 RGB.
        coarse_points: (N, 2) annotated points (x, y) in image pixels -> green discs.
        refined_points: (N, 2) refined points -> yellow discs, joined to the annotated point.
        bag_points: optional (N, U, 2) bag points -> small dots coloured by ``bag_scores``.
        bag_scores: optional (N, U) scores in [0, 1] (colormap ``cmap``).
        bag_keep: optional (N, U) bool, kept points (B_j^+) get a white ring.
        boxes: optional (M, 4) true boxes (x0, y0, x1, y1) in image pixels -> thin cyan
            rectangles with a cross at the centre (analysis only; any order, M may differ from N).
    Returns:
        (H, W, 3) uint8 RGB copy with the drawing.
    """
    import cv2
    import matplotlib

    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"draw_point_refinement expects an (H, W, 3) RGB image, got shape {image.shape}")
    out = np.ascontiguousarray(image.copy())
    coarse = _to_np(coarse_points).reshape(-1, 2)
    refined = _to_np(refined_points).reshape(-1, 2)
    if boxes is not None:
        for x0, y0, x1, y1 in _to_np(boxes).reshape(-1, 4):
            cv2.rectangle(out, (int(round(x0)), int(round(y0))), (int(round(x1)), int(round(y1))), CYAN, 1)
            c = (int(round((x0 + x1) / 2)), int(round((y0 + y1) / 2)))
            cv2.drawMarker(out, c, CYAN, cv2.MARKER_CROSS, markerSize=2 * radius + 1, thickness=1)
    if bag_points is not None and coarse.shape[0] > 0:
        bags = _to_np(bag_points).reshape(coarse.shape[0], -1, 2)
        scores = _to_np(bag_scores) if bag_scores is not None else np.ones(bags.shape[:2])
        keep = _to_np(bag_keep) if bag_keep is not None else np.zeros(bags.shape[:2], dtype=bool)
        colormap = matplotlib.colormaps[cmap]
        small = max(1, radius // 2)
        for j in range(bags.shape[0]):
            for u in range(bags.shape[1]):
                x, y = bags[j, u]
                if not (np.isfinite(x) and np.isfinite(y)):
                    continue
                c = tuple(int(255 * v) for v in colormap(float(np.clip(scores[j, u], 0, 1)))[:3])
                pt = (int(round(x)), int(round(y)))
                cv2.circle(out, pt, small, c, -1, lineType=cv2.LINE_AA)
                if keep[j, u]:
                    cv2.circle(out, pt, small + 1, (255, 255, 255), 1, lineType=cv2.LINE_AA)
    for (cx, cy), (rx, ry) in zip(coarse, refined):
        a, b = (int(round(cx)), int(round(cy))), (int(round(rx)), int(round(ry)))
        cv2.line(out, a, b, (255, 255, 255), 1, lineType=cv2.LINE_AA)
        cv2.circle(out, a, radius, GREEN, -1, lineType=cv2.LINE_AA)
        cv2.circle(out, b, radius, YELLOW, -1, lineType=cv2.LINE_AA)
    return out


def save_point_refinement(path: str, image: np.ndarray, *args, **kwargs) -> str:
    """:func:`draw_point_refinement` then write a PNG to ``path`` atomically (folders created). Returns ``path``."""
    import cv2

    from .file_io import atomic_write_bytes

    drawn = draw_point_refinement(image, *args, **kwargs)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(drawn[:, :, ::-1]))
    if not ok:
        raise OSError(f"could not encode the drawing for {path} as PNG")
    atomic_write_bytes(buf.tobytes(), path)
    return path
