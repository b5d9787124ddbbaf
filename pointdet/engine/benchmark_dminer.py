"""Training cost of DMiner (SIOD, Li et al. CVPR 2022; paper: about 1.4x time and 3x memory of the
base detector): each DMiner detector against its base, side by side in one run.

For each (base, DMiner) pair of LazyConfigs, both models are built and fed the same synthetic
SIOD batch (random images, one box per category per image). Measured:

* training step time (forward + backward + SGD step), base and DMiner steps interleaved so that
  machine load affects both alike; median over ``steps`` after one warm-up step;
* peak memory of a training step: CUDA ``max_memory_allocated``; on CPU (Linux) the increase of
  the peak RSS over the RSS before the steps, 2 steps in a fresh process per model (peak reset
  through /proc/self/clear_refs).

:func:`benchmark_dminer` returns the rows and :func:`format_table` prints them; ``tools/benchmark_dminer.py``
is the command.
"""
import logging
import statistics
import time
from typing import Dict, List, Sequence, Tuple

__all__ = ["DEFAULT_PAIRS", "synthetic_siod_batch", "benchmark_dminer", "format_table"]

logger = logging.getLogger(__name__)

# (name, base config, DMiner config): the demo detectors on Keep1 trees
DEFAULT_PAIRS: Tuple[Tuple[str, str, str], ...] = (
    ("CenterNet", "configs/SIOD/centernet_mnv2_trees_siod_base.py", "configs/SIOD/centernet_mnv2_trees_siod_dminer.py"),
    ("FCOS", "configs/SIOD/fcos_mnv2_fpn_trees_siod_base.py", "configs/SIOD/fcos_mnv2_fpn_trees_siod_dminer.py"),
    ("Faster R-CNN C4", "configs/SIOD/faster_rcnn_mnv2_c4_trees_siod_base.py",
     "configs/SIOD/faster_rcnn_mnv2_c4_trees_siod_dminer.py"),
)


def _num_classes(model) -> int:
    for obj in (model, getattr(model, "roi_heads", None)):
        if obj is not None and hasattr(obj, "num_classes"):
            return int(obj.num_classes)
    raise ValueError(f"cannot tell the number of classes of {type(model).__name__}")


def synthetic_siod_batch(num_classes: int, batch_size: int, size: int, classes_per_image: int = 1, seed: int = 0):
    """``batch_size`` dicts of random (3, size, size) images with one random box for each of
    ``min(classes_per_image, num_classes)`` distinct categories (the SIOD annotation)."""
    import torch
    from detectron2.structures import Boxes, Instances

    g = torch.Generator().manual_seed(seed)
    batch = []
    for i in range(batch_size):
        k = min(classes_per_image, num_classes)
        xy = torch.rand(k, 2, generator=g) * size * 0.6
        wh = (0.1 + 0.3 * torch.rand(k, 2, generator=g)) * size
        inst = Instances((size, size))
        inst.gt_boxes = Boxes(torch.cat([xy, (xy + wh).clamp(max=size)], dim=1))
        inst.gt_classes = torch.randperm(num_classes, generator=g)[:k]
        img = torch.randint(0, 256, (3, size, size), generator=g).float()
        batch.append({"image": img, "instances": inst, "height": size, "width": size, "image_id": i})
    return batch


def _build(config_file: str, opts: Sequence[str], device: str):
    from .model_loading import load_model_from_config

    model, _ = load_model_from_config(config_file, None, opts, device)
    model.train()
    return model


def _step_fn(model, batch):
    import torch
    from detectron2.utils.events import EventStorage

    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-8)

    def step():
        with EventStorage():
            losses = model(batch)
        opt.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        opt.step()

    return step


def _sync(device: str):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _proc_status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _memory_child(config_file, opts, device, batch_args, threads, q):
    import torch

    try:
        if threads:
            torch.set_num_threads(threads)
        model = _build(config_file, opts, device)
        step = _step_fn(model, synthetic_siod_batch(_num_classes(model), *batch_args))
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM
        before = _proc_status_kb("VmRSS")
        for _ in range(2):
            step()
        q.put((_proc_status_kb("VmHWM") - before) / 1024.0)
    except Exception as e:  # reported by the parent
        q.put(f"{type(e).__name__}: {e}")


def _cpu_peak_mb(config_file, opts, device, batch_args, threads) -> float:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_memory_child, args=(config_file, list(opts), device, batch_args, threads, q))
    p.start()
    val = q.get()
    p.join()
    if isinstance(val, str):
        raise OSError(f"memory measurement of {config_file}: {val}")
    return val


def _cuda_peak_mb(step) -> float:
    import torch

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def benchmark_dminer(
    pairs: Sequence[Tuple[str, str, str]] = DEFAULT_PAIRS,
    *,
    batch_size: int = 2,
    image_size: int = 384,
    classes_per_image: int = 1,
    steps: int = 5,
    device: str = "cpu",
    threads: int = 0,
    memory: bool = True,
    opts: Sequence[str] = (),
) -> List[Dict]:
    """One row per pair: ``name``, ``base_s`` / ``dminer_s`` (median step seconds), ``time_ratio``
    and, with ``memory``, ``base_mb`` / ``dminer_mb`` / ``memory_ratio``. ``opts`` (LazyConfig
    overrides) apply to every config. Progress goes to the logger."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    batch_args = (batch_size, image_size, classes_per_image)
    rows = []
    for name, base_cfg, dminer_cfg in pairs:
        logger.info("benchmark %s: %s vs %s", name, base_cfg, dminer_cfg)
        base, miner = _build(base_cfg, opts, device), _build(dminer_cfg, opts, device)
        n = _num_classes(base)
        if _num_classes(miner) != n:
            raise ValueError(f"{name}: {base_cfg} and {dminer_cfg} have different numbers of classes")
        batch = synthetic_siod_batch(n, *batch_args)
        steps_fn = {"base": _step_fn(base, batch), "dminer": _step_fn(miner, batch)}
        times = {"base": [], "dminer": []}
        for fn in steps_fn.values():  # warm-up
            fn()
        for i in range(steps):
            for kind, fn in steps_fn.items():
                _sync(device)
                t0 = time.perf_counter()
                fn()
                _sync(device)
                times[kind].append(time.perf_counter() - t0)
            logger.info("  step %d/%d: base %.3f s, DMiner %.3f s", i + 1, steps, times["base"][-1],
                        times["dminer"][-1])
        row = {"name": name, "base_config": base_cfg, "dminer_config": dminer_cfg}
        row["base_s"], row["dminer_s"] = statistics.median(times["base"]), statistics.median(times["dminer"])
        row["time_ratio"] = row["dminer_s"] / row["base_s"]
        if memory:
            if str(device).startswith("cuda"):
                row["base_mb"], row["dminer_mb"] = _cuda_peak_mb(steps_fn["base"]), _cuda_peak_mb(steps_fn["dminer"])
            else:
                del base, miner, steps_fn
                row["base_mb"] = _cpu_peak_mb(base_cfg, opts, device, batch_args, threads)
                row["dminer_mb"] = _cpu_peak_mb(dminer_cfg, opts, device, batch_args, threads)
            row["memory_ratio"] = row["dminer_mb"] / row["base_mb"] if row["base_mb"] > 0 else float("nan")
        rows.append(row)
    return rows


def format_table(rows: List[Dict], device: str = "cpu") -> str:
    """Markdown table of :func:`benchmark_dminer`'s rows."""
    mem = "peak CUDA memory (MB)" if str(device).startswith("cuda") else "peak RSS increase (MB)"
    lines = [
        f"| detector | step base (s) | step DMiner (s) | time ratio | {mem} base | DMiner | memory ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = (f"{r['base_mb']:.0f} | {r['dminer_mb']:.0f} | {r['memory_ratio']:.2f}" if "base_mb" in r else "- | - | -")
        lines.append(f"| {r['name']} | {r['base_s']:.3f} | {r['dminer_s']:.3f} | {r['time_ratio']:.2f} | {m} |")
    return "\n".join(lines)
