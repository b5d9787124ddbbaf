"""Benchmark of CPRNet against its own backbone (+FPN) (``tools/benchmark_cpr.py``).

On the same synthetic batch (random images, random annotated points), :func:`benchmark_cprnet`
measures, as :mod:`pointdet.engine.step_benchmark` describes (interleaved SGD steps, median
after one warm-up; CUDA allocator peak or, on CPU, the peak RSS increase of 2 steps in a fresh
process per variant):

* the training step time and peak memory of the whole CPRNet and of the backbone+FPN alone
  (forward of the used level, backward of its mean);
* the refinement throughput (images/s) of ``CPRNet.refine`` in eval mode.
"""
import statistics
import time
from typing import Any, Dict, List, Sequence

from pointdet.engine.step_benchmark import (
    build_train_model,
    format_side_by_side,
    memory_label,
    peak_memory_mb,
    set_threads,
    sync,
    time_steps,
    train_step,
)

__all__ = ["synthetic_point_batch", "benchmark_cprnet", "format_cprnet_benchmark"]

VARIANTS = ("backbone", "cpr")


def synthetic_point_batch(num_classes: int, batch_size: int, size: int, points: int, seed: int = 0) -> List[Dict[str, Any]]:
    """``batch_size`` square images of ``size`` px (uniform noise in [0, 255]) with ``points``
    random annotated points each (classes in [0, num_classes), ids unique over the batch), as
    ``PointDatasetMapper`` gives them. Deterministic for ``seed``."""
    import torch
    from detectron2.structures import Instances

    g = torch.Generator().manual_seed(seed)
    batch = []
    for i in range(batch_size):
        inst = Instances((size, size))
        inst.gt_points = torch.rand(points, 2, generator=g) * size
        inst.gt_classes = torch.randint(0, num_classes, (points,), generator=g)
        inst.gt_ann_ids = torch.arange(points) + 1 + i * points
        img = torch.randint(0, 256, (3, size, size), generator=g).float()
        batch.append({"image": img, "instances": inst, "height": size, "width": size, "image_id": i + 1})
    return batch


def _backbone_loss(model, batch):
    """Mean of the backbone(+FPN) level CPRNet reads: the cost of the feature extractor alone."""
    return model.backbone(model.preprocess_image(batch).tensor)[model.in_feature].float().mean()


def _step(model, batch, variant: str):
    return train_step(model, batch, _backbone_loss if variant == "backbone" else None)


def _variant_step(config_file: str, opts: Sequence[str], device: str, batch_args: tuple, variant: str):
    """The training step of ``variant`` on its synthetic batch (the memory child's factory)."""
    model = build_train_model(config_file, opts, device, require_method="refine")
    return _step(model, synthetic_point_batch(model.num_classes, *batch_args), variant)


def benchmark_cprnet(
    config_file: str,
    opts: Sequence[str] = (),
    *,
    batch_size: int = 2,
    image_size: int = 384,
    points: int = 30,
    steps: int = 5,
    device: str = "cpu",
    threads: int = 0,
    memory: bool = True,
) -> Dict[str, Any]:
    """Measure the CPRNet of a LazyConfig against its backbone+FPN (see the module docstring).

    Args:
        config_file, opts: LazyConfig whose ``model`` is a CPRNet, and ``key=value`` overrides.
        batch_size, image_size, points: the synthetic batch (:func:`synthetic_point_batch`).
        steps: timed steps per variant, after one warm-up step each.
        threads: torch threads (0: leave as is).
        memory: measure the peak memory too.
    Returns:
        The settings, ``bag_radius``, ``stride``, ``threads`` (in use), ``train_step_s``
        (``{"backbone", "cpr"}`` median seconds), ``refine_images_per_s``, ``memory_mb``
        (``{"backbone", "cpr"}`` or None), ``memory_kind`` ("cuda" or "rss") and
        ``memory_error`` (why a CPU measurement failed, else None).
    Raises:
        FileNotFoundError: a missing config. ValueError: the model is not a CPRNet.
    """
    import torch

    set_threads(threads)
    settings = {"config_file": config_file, "opts": list(opts), "batch_size": batch_size, "image_size": image_size,
                "points": points, "steps": steps, "device": device, "threads": threads}
    batch_args = (batch_size, image_size, points)
    model = build_train_model(config_file, opts, device, require_method="refine")
    batch = synthetic_point_batch(model.num_classes, *batch_args)
    steps_fn = {v: _step(model, batch, v) for v in VARIANTS}
    times = time_steps(steps_fn, steps, device)

    model.eval()
    with torch.no_grad():
        model.refine(batch)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            model.refine(batch)
        sync(device)
        refine_ips = steps * len(batch) / (time.perf_counter() - t0)

    on_cuda = str(device).startswith("cuda")
    mem, mem_error = None, None
    if memory:
        factories = {v: (_variant_step, (config_file, list(opts), device, batch_args, v)) for v in VARIANTS}
        try:
            mem = peak_memory_mb(device, steps_fn, factories, threads)
        except OSError as e:
            mem_error = str(e)
    return {
        **settings,
        "bag_radius": model.bag_radius,
        "stride": model.stride,
        "threads": torch.get_num_threads(),
        "train_step_s": {v: statistics.median(times[v]) for v in VARIANTS},
        "refine_images_per_s": refine_ips,
        "memory_mb": mem,
        "memory_kind": "cuda" if on_cuda else "rss",
        "memory_error": mem_error,
    }


def format_cprnet_benchmark(report: Dict[str, Any]) -> str:
    """The table of a :func:`benchmark_cprnet` report (Markdown)."""
    lines = [] if report["memory_error"] is None else [f"(no CPU memory measurement: {report['memory_error']})"]
    step, mem = report["train_step_s"], report["memory_mb"]
    title = (f"CPRNet benchmark: {report['config_file']} | batch {report['batch_size']} x {report['image_size']}px, "
             f"{report['points']} points/image, R={report['bag_radius']}, stride {report['stride']:g}, "
             f"device {report['device']}, threads {report['threads']}, {report['steps']} steps")
    lines.append(format_side_by_side(
        title, ("backbone+FPN", "CPRNet"), [step[v] for v in VARIANTS], None if mem is None else [mem[v] for v in VARIANTS],
        memory_label("cuda" if report["memory_kind"] == "cuda" else "cpu"),
    ))  # fmt: skip
    lines.append(f"refinement throughput: {report['refine_images_per_s']:.2f} images/s ({report['points']} points/image)")
    return "\n".join(lines)
