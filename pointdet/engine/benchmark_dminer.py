"""Training cost of DMiner (SIOD, Li et al. CVPR 2022; paper: about 1.4x time and 3x memory of the
base detector): each DMiner detector against its base, side by side in one run.

For each (base, DMiner) pair of LazyConfigs, both models are built and fed the same synthetic
SIOD batch (random images, one box per category per image); step time and peak memory are
measured as :mod:`pointdet.engine.step_benchmark` describes (SGD steps, base and DMiner
interleaved, median after one warm-up; CUDA allocator peak or, on CPU, the peak RSS increase
of 2 steps in a fresh process per model).

:func:`benchmark_dminer` returns the rows and :func:`format_table` prints them; ``tools/benchmark_dminer.py``
is the command.
"""
import logging
import statistics
from typing import Dict, List, Sequence, Tuple

from .step_benchmark import build_train_model, memory_label, peak_memory_mb, ratio, set_threads, time_steps, train_step

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


def _model_step(config_file: str, opts: Sequence[str], device: str, batch_args: tuple):
    """The training step of one config's model on its synthetic batch (the memory child's factory)."""
    model = build_train_model(config_file, opts, device)
    return train_step(model, synthetic_siod_batch(_num_classes(model), *batch_args))


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
    set_threads(threads)
    batch_args = (batch_size, image_size, classes_per_image)
    rows = []
    for name, base_cfg, dminer_cfg in pairs:
        logger.info("benchmark %s: %s vs %s", name, base_cfg, dminer_cfg)
        base, miner = build_train_model(base_cfg, opts, device), build_train_model(dminer_cfg, opts, device)
        n = _num_classes(base)
        if _num_classes(miner) != n:
            raise ValueError(f"{name}: {base_cfg} and {dminer_cfg} have different numbers of classes")
        batch = synthetic_siod_batch(n, *batch_args)
        steps_fn = {"base": train_step(base, batch), "dminer": train_step(miner, batch)}
        times = time_steps(steps_fn, steps, device)
        row = {"name": name, "base_config": base_cfg, "dminer_config": dminer_cfg}
        row["base_s"], row["dminer_s"] = statistics.median(times["base"]), statistics.median(times["dminer"])
        row["time_ratio"] = row["dminer_s"] / row["base_s"]
        if memory:
            live = steps_fn if str(device).startswith("cuda") else None
            del base, miner, steps_fn  # on CPU each model is built again in a fresh process
            factories = {k: (_model_step, (cfg, list(opts), device, batch_args))
                         for k, cfg in (("base", base_cfg), ("dminer", dminer_cfg))}  # fmt: skip
            mem = peak_memory_mb(device, live, factories, threads)
            row["base_mb"], row["dminer_mb"] = mem["base"], mem["dminer"]
            row["memory_ratio"] = ratio(row["dminer_mb"], row["base_mb"])
        rows.append(row)
    return rows


def format_table(rows: List[Dict], device: str = "cpu") -> str:
    """Markdown table of :func:`benchmark_dminer`'s rows, one per pair."""
    mem = memory_label(device)
    lines = [
        f"| detector | step base (s) | step DMiner (s) | time ratio | {mem} base | DMiner | memory ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = (f"{r['base_mb']:.0f} | {r['dminer_mb']:.0f} | {r['memory_ratio']:.2f}" if "base_mb" in r else "- | - | -")
        lines.append(f"| {r['name']} | {r['base_s']:.3f} | {r['dminer_s']:.3f} | {r['time_ratio']:.2f} | {m} |")
    return "\n".join(lines)
