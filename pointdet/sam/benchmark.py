"""Throughput of prompted-mask generation on the same image and points: batched decoding (one
image embedding, prompts in batches) vs one ``SamPredictor.predict`` call per prompt with the
embedding reused (``one_by_one``) and recomputed for every prompt (``naive``)."""
import time
from collections import OrderedDict
from typing import Any, Dict

import numpy as np

from .sources import SAMSource

__all__ = ["benchmark_prompting"]


def benchmark_prompting(source: SAMSource, image: np.ndarray, num_points: int, repeats: int = 3,
                        seed: int = 0) -> Dict[str, Any]:
    """Median seconds (over ``repeats``) of both paths for ``num_points`` random points of ``image``,
    each including the image embedding; and proposals (M per point) per second."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    pts = np.stack([rng.uniform(0, w, num_points), rng.uniform(0, h, num_points)], axis=1)
    keys = list(range(num_points))
    times = {"batched": [], "one_by_one": [], "naive": []}

    def naive(p, k):
        return source.predict_one_by_one(p, k, reembed=True)

    for _ in range(repeats):
        for name, fn in (("batched", source.predict), ("one_by_one", source.predict_one_by_one), ("naive", naive)):
            t0 = time.perf_counter()
            source.set_image(image)
            fn(pts, keys)
            times[name].append(time.perf_counter() - t0)
    out = OrderedDict(points=num_points, masks_per_point=source.num_masks, batch_size=source.batch_size)
    for name, ts in times.items():
        med = float(np.median(ts))
        out[f"{name}_s"] = med
        out[f"{name}_proposals_per_s"] = num_points * source.num_masks / med
    out["speedup_vs_one_by_one"] = out["one_by_one_s"] / out["batched_s"]
    out["speedup_vs_naive"] = out["naive_s"] / out["batched_s"]
    return out
