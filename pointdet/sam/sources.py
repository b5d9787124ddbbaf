"""Prompted-mask sources: M candidate masks for each annotated point of an image.

* :class:`SAMSource` -- Segment Anything (Kirillov et al. 2023) prompted as in SAPNet (Wei et
  al. CVPR 2024, Sec. 4.2): SAM's 3 multimask outputs for the point, and 3 more for a second
  prompt (default: the point plus an auxiliary point at ``jitter_px`` in a direction fixed by
  the seed and the annotation id; the paper's second prompt, a P2BNet box, is not available
  here). The image embedding is computed once per image; prompts are decoded in batches.
* :class:`ClassicalSource` -- a classical stand-in for the demo, NOT SAM: OpenCV flood fill
  from the point at several intensity tolerances inside a window, scored by the mean gradient
  magnitude on the mask boundary. Every output made with it says so in its ``info``.

Coordinates: points are in Detectron2's continuous pixels (a pixel's centre at +0.5); SAM
adds 0.5 itself, so it is given ``point - 0.5``.
"""
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

__all__ = ["PromptedMaskSource", "SAMSource", "ClassicalSource", "build_sam_from_checkpoint", "SAM_MODEL_TYPES"]

SAM_MODEL_TYPES = ("vit_b", "vit_l", "vit_h")


class PromptedMaskSource:
    """Interface: ``set_image`` once per image, then ``predict`` the masks of its points."""

    #: short name recorded in the proposal file's ``info.generator``
    name = "prompted_masks"
    #: a sentence stored in every output's ``info`` describing what made the masks
    description = ""

    @property
    def num_masks(self) -> int:
        """M, masks per point."""
        raise NotImplementedError

    def params(self) -> Dict[str, Any]:
        """JSON-able parameters recorded in the output's ``info``."""
        raise NotImplementedError

    def set_image(self, image: np.ndarray) -> None:
        """``image``: (H, W, 3) uint8 RGB."""
        raise NotImplementedError

    def predict(self, points: np.ndarray, keys: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        """Masks of P points of the current image.

        Args:
            points: (P, 2) float (x, y) in continuous image pixels.
            keys: P integers (annotation ids) that fix any per-point randomness.
        Returns:
            masks (P, M, H, W) bool and scores (P, M) float32.
        """
        raise NotImplementedError


def build_sam_from_checkpoint(model_type: str, checkpoint: str):
    """segment-anything's SAM of ``model_type`` (vit_b / vit_l / vit_h) with the user's checkpoint.

    Raises:
        FileNotFoundError: no file at ``checkpoint``; ValueError: unknown type or a checkpoint
        that does not fit the model (naming the file).
    """
    from segment_anything import sam_model_registry

    if model_type not in SAM_MODEL_TYPES:
        raise ValueError(f"SAM model type must be one of {SAM_MODEL_TYPES}, got {model_type!r}")
    if not checkpoint or not os.path.isfile(checkpoint):
        raise FileNotFoundError(
            f"SAM checkpoint not found: {checkpoint!r}. pointdet cannot download SAM weights; pass the path of "
            f"a segment-anything checkpoint (e.g. sam_{model_type}_*.pth) or use the classical source"
        )
    sam = sam_model_registry[model_type](checkpoint=None)
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        sam.load_state_dict(state)
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise ValueError(f"{checkpoint}: not a segment-anything {model_type} checkpoint ({type(e).__name__}: {e})") from e
    return sam.eval()


class SAMSource(PromptedMaskSource):
    """SAM prompted with each point (3 masks) and optionally a second prompt (3 more)."""

    name = "segment_anything"
    description = "Segment Anything masks prompted with the annotated points"
    SECOND_PROMPTS = ("jitter", "none")

    def __init__(self, sam, batch_size: int = 64, second_prompt: str = "jitter", jitter_px: float = 8.0, seed: int = 0,
                 model_type: Optional[str] = None, checkpoint: Optional[str] = None):
        """
        Args:
            sam: a segment-anything ``Sam`` (its device is used).
            batch_size: prompts decoded per mask-decoder call.
            second_prompt: "jitter" (the point and an auxiliary point ``jitter_px`` away) or "none" (M = 3).
            seed: fixes the auxiliary points' directions (with the annotation id).
            model_type, checkpoint: recorded in ``params``.
        """
        from segment_anything import SamPredictor

        if second_prompt not in self.SECOND_PROMPTS:
            raise ValueError(f"second_prompt must be one of {self.SECOND_PROMPTS}, got {second_prompt!r}")
        self.predictor = SamPredictor(sam)
        self.batch_size = int(batch_size)
        self.second_prompt = second_prompt
        self.jitter_px = float(jitter_px)
        self.seed = int(seed)
        self.model_type = model_type
        self.checkpoint = checkpoint
        self._hw = None

    @property
    def num_masks(self) -> int:
        return 3 if self.second_prompt == "none" else 6

    def params(self) -> Dict[str, Any]:
        return dict(
            model_type=self.model_type,
            checkpoint=None if self.checkpoint is None else os.path.basename(self.checkpoint),
            second_prompt=self.second_prompt,
            jitter_px=self.jitter_px,
            seed=self.seed,
            multimask_output=True,
            masks_per_point=self.num_masks,
        )

    def set_image(self, image: np.ndarray) -> None:
        self.predictor.set_image(image, image_format="RGB")
        self._hw = image.shape[:2]
        self._image = image

    def auxiliary_points(self, points: np.ndarray, keys: Sequence[int]) -> np.ndarray:
        """(P, 2) the second prompt's extra point: ``jitter_px`` from the point, direction from (seed, key), clipped."""
        h, w = self._hw
        out = np.empty_like(points, dtype=np.float64)
        for i, (p, k) in enumerate(zip(points, keys)):
            theta = 2 * np.pi * np.random.default_rng([self.seed, int(k)]).random()
            out[i] = p + self.jitter_px * np.array([np.cos(theta), np.sin(theta)])
        out[:, 0] = out[:, 0].clip(0, w)
        out[:, 1] = out[:, 1].clip(0, h)
        return out

    def _prompts(self, points, keys):
        """[(coords (P, n, 2) in SAM pixel indices, labels (P, n))] for each prompt type."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2) - 0.5
        out = [(p, np.ones(p.shape[:2]))]
        if self.second_prompt == "jitter":
            aux = self.auxiliary_points(np.asarray(points, dtype=np.float64).reshape(-1, 2), keys)[:, None] - 0.5
            c = np.concatenate([p, aux], axis=1)
            out.append((c, np.ones(c.shape[:2])))
        return out

    @torch.no_grad()
    def predict(self, points: np.ndarray, keys: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        h, w = self._hw
        n = len(points)
        masks = np.zeros((n, self.num_masks, h, w), dtype=bool)
        scores = np.zeros((n, self.num_masks), dtype=np.float32)
        dev = self.predictor.device
        for t, (coords, labels) in enumerate(self._prompts(points, keys)):
            for s in range(0, n, self.batch_size):
                c = self.predictor.transform.apply_coords(coords[s : s + self.batch_size], (h, w))
                m, q, _ = self.predictor.predict_torch(
                    torch.as_tensor(c, dtype=torch.float32, device=dev),
                    torch.as_tensor(labels[s : s + self.batch_size], dtype=torch.int64, device=dev),
                    multimask_output=True,
                )
                masks[s : s + self.batch_size, 3 * t : 3 * t + 3] = m.cpu().numpy()
                scores[s : s + self.batch_size, 3 * t : 3 * t + 3] = q.float().cpu().numpy()
        return masks, scores

    def predict_one_by_one(self, points: np.ndarray, keys: Sequence[int], reembed: bool = False
                           ) -> Tuple[np.ndarray, np.ndarray]:
        """The same masks from one ``SamPredictor.predict`` call per prompt (reference path, benchmarks);
        ``reembed``: also recompute the image embedding before each call (a naive per-point script)."""
        h, w = self._hw
        n = len(points)
        masks = np.zeros((n, self.num_masks, h, w), dtype=bool)
        scores = np.zeros((n, self.num_masks), dtype=np.float32)
        for t, (coords, labels) in enumerate(self._prompts(points, keys)):
            for i in range(n):
                if reembed:
                    self.predictor.set_image(self._image, image_format="RGB")
                m, q, _ = self.predictor.predict(point_coords=coords[i], point_labels=labels[i], multimask_output=True)
                masks[i, 3 * t : 3 * t + 3] = m
                scores[i, 3 * t : 3 * t + 3] = q
        return masks, scores


class ClassicalSource(PromptedMaskSource):
    """OpenCV flood fill from the point at several tolerances (a demo stand-in for SAM, not SAM)."""

    name = "classical_floodfill"
    description = (
        "CLASSICAL prompted masks (OpenCV flood fill from the annotated point at several intensity tolerances), "
        "NOT Segment Anything; a stand-in for demos without SAM weights"
    )

    def __init__(self, tolerances: Sequence[float] = (4, 8, 12, 16, 24, 32), window: int = 64, blur_sigma: float = 1.0):
        """
        Args:
            tolerances: flood-fill intensity tolerances (grey levels, fixed range from the seed), one mask each.
            window: the fill stays inside a square of this side (px) centred on the point.
            blur_sigma: Gaussian blur of the grey image before filling (0: none).
        """
        self.tolerances = [float(t) for t in tolerances]
        self.window = int(window)
        self.blur_sigma = float(blur_sigma)
        self._grey = None
        self._grad = None

    @property
    def num_masks(self) -> int:
        return len(self.tolerances)

    def params(self) -> Dict[str, Any]:
        return dict(tolerances=self.tolerances, window=self.window, blur_sigma=self.blur_sigma)

    def set_image(self, image: np.ndarray) -> None:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if self.blur_sigma > 0:
            grey = cv2.GaussianBlur(grey, (0, 0), self.blur_sigma)
        self._grey = grey
        gx = cv2.Sobel(grey.astype(np.float32), cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(grey.astype(np.float32), cv2.CV_32F, 0, 1)
        self._grad = np.sqrt(gx * gx + gy * gy)

    def predict(self, points: np.ndarray, keys: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        grey = self._grey
        h, w = grey.shape
        n = len(points)
        masks = np.zeros((n, self.num_masks, h, w), dtype=bool)
        scores = np.zeros((n, self.num_masks), dtype=np.float32)
        half = self.window // 2
        kernel = np.ones((3, 3), np.uint8)
        for i, (x, y) in enumerate(np.asarray(points, dtype=np.float64).reshape(-1, 2)):
            px, py = min(int(x), w - 1), min(int(y), h - 1)
            x0, y0 = max(0, px - half), max(0, py - half)
            x1, y1 = min(w, px + half + 1), min(h, py + half + 1)
            crop = np.ascontiguousarray(grey[y0:y1, x0:x1])
            for j, tol in enumerate(self.tolerances):
                ff = np.zeros((crop.shape[0] + 2, crop.shape[1] + 2), np.uint8)
                flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
                cv2.floodFill(crop.copy(), ff, (px - x0, py - y0), 0, (tol,), (tol,), flags)
                m = ff[1:-1, 1:-1].astype(bool)
                masks[i, j, y0:y1, x0:x1] = m
                edge = m & ~cv2.erode(m.astype(np.uint8), kernel).astype(bool)
                scores[i, j] = float(self._grad[y0:y1, x0:x1][edge].mean()) if edge.any() else 0.0
        return masks, scores
