"""Training-step time and peak memory of LazyConfig models on one batch of their own training
data (e.g. SAPNet vs SOLOv2 alone), configs interleaved step by step so that machine load
affects them alike."""
import statistics
import time
from collections import OrderedDict
from typing import Any, Dict, Optional, Sequence

__all__ = ["benchmark_train_steps"]


def benchmark_train_steps(config_files: Sequence[str], steps: int = 3, device: Optional[str] = None,
                          opts: Sequence[str] = ()) -> Dict[str, Dict[str, Any]]:
    """Median seconds of forward + backward per config (after one warm-up step) and, on CUDA, the
    peak allocated memory (MiB). ``opts``: overrides applied to every config."""
    import torch
    from detectron2.config import LazyConfig, instantiate
    from detectron2.utils.events import EventStorage

    import pointdet  # noqa: F401

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    runs = []
    for path in config_files:
        cfg = LazyConfig.apply_overrides(LazyConfig.load(path), list(opts))
        cfg.dataloader.train.num_workers = 0
        batch = next(iter(instantiate(cfg.dataloader.train)))
        model = instantiate(cfg.model).to(device).train()
        runs.append((path, model, batch, []))
    peaks = {}
    with EventStorage():
        for k in range(steps + 1):
            for path, model, batch, times in runs:
                if device == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                t0 = time.perf_counter()
                losses = model(batch)
                sum(losses.values()).backward()
                model.zero_grad(set_to_none=True)
                if device == "cuda":
                    torch.cuda.synchronize()
                    peaks[path] = max(peaks.get(path, 0.0), torch.cuda.max_memory_allocated() / 2**20)
                if k:  # the first step warms up
                    times.append(time.perf_counter() - t0)
    out = OrderedDict()
    for path, _, batch, times in runs:
        out[path] = OrderedDict(step_s=statistics.median(times), steps=times, images=len(batch),
                                peak_mib=peaks.get(path), device=device)
    return out
