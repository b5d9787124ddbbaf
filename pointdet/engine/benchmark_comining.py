"""Cost of Co-mining training against its single-branch detector, side by side in one run.

The same LazyConfig model is built twice: as the config sets it (Co-mining: two views, two
backbone + head passes, co-generation) and as its single-branch baseline (``siamese=False``,
``co_generation=False``: the stock detector's training step on the original view). On one
synthetic batch (random images, their colour-jittered views, random boxes), step time and peak
memory are measured as :mod:`pointdet.engine.step_benchmark` describes (SGD steps, the two
variants interleaved, median after one warm-up; CUDA allocator peak or, on CPU, the peak RSS
increase of 2 steps in a fresh process per variant).

Inference is the stock detector in both cases (Co-mining adds nothing at test time) and is not
measured. ``tools/benchmark_comining.py`` is the command.
"""
import statistics
from collections import OrderedDict
from typing import Dict, List, Sequence

from .step_benchmark import (
    build_train_model,
    format_side_by_side,
    memory_label,
    peak_memory_mb,
    set_threads,
    time_steps,
    train_step,
)

__all__ = ["VARIANTS", "build_variant", "synthetic_two_view_batch", "benchmark_comining", "format_benchmark"]

VARIANTS = ("single_branch", "comining")


def build_variant(config_file: str, opts: Sequence[str], variant: str, device: str):
    """The model of ``config_file`` (training mode, random / the config's backbone init) as
    ``variant``: "comining" as configured, "single_branch" without the second view and
    co-generation."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    extra = ["model.siamese=False", "model.co_generation=False"] if variant == "single_branch" else []
    return build_train_model(config_file, [*opts, *extra], device, require_method="generate_pseudo_boxes")


def synthetic_two_view_batch(num_classes: int, batch_size: int, size: int, boxes: int, seed: int = 0) -> List[Dict]:
    """``batch_size`` dicts as :class:`TwoViewDatasetMapper` gives them: ``image`` and
    ``image_jittered`` (3, size, size) uint8, ``instances`` with ``boxes`` random boxes
    (sides 8 px to size/4) of random classes."""
    import torch
    from detectron2.structures import Boxes, Instances

    from pointdet.data.dataset_mapper import color_jitter

    g = torch.Generator().manual_seed(seed)
    batch = []
    for _ in range(batch_size):
        img = torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8)
        wh = 8 + torch.rand(boxes, 2, generator=g) * max(size / 4 - 8, 1)
        xy = torch.rand(boxes, 2, generator=g) * (size - wh)
        inst = Instances((size, size))
        inst.gt_boxes = Boxes(torch.cat([xy, xy + wh], dim=1))
        inst.gt_classes = torch.randint(0, num_classes, (boxes,), generator=g)
        batch.append({"image": img, "image_jittered": color_jitter(img, prob=1.0, generator=g), "instances": inst,
                      "height": size, "width": size})  # fmt: skip
    return batch


def _variant_step(config_file: str, opts: Sequence[str], variant: str, device: str, batch_args: tuple):
    """The training step of ``variant`` on its synthetic batch (the memory child's factory)."""
    model = build_variant(config_file, opts, variant, device)
    return train_step(model, synthetic_two_view_batch(model.num_classes, *batch_args))


def benchmark_comining(
    config_file: str,
    opts: Sequence[str] = (),
    *,
    batch_size: int = 2,
    image_size: int = 384,
    boxes: int = 10,
    steps: int = 5,
    device: str = "cpu",
    threads: int = 0,
    memory: bool = True,
) -> Dict:
    """Measure both variants (see the module docstring).

    Returns:
        ``{"setting": {...}, "step_time_s": {variant: median}, "step_times_s": {variant: [..]},
        "peak_memory_mb": {variant: MB} or None, "memory_kind": str}``.
    """
    import torch

    set_threads(threads)
    models = {v: build_variant(config_file, opts, v, device) for v in VARIANTS}
    models["comining"].load_state_dict(models["single_branch"].state_dict())  # same weights, same start
    batch_args = (batch_size, image_size, boxes)
    batch = synthetic_two_view_batch(models["comining"].num_classes, *batch_args)
    steps_fn = OrderedDict((v, train_step(models[v], batch)) for v in VARIANTS)
    times = time_steps(steps_fn, steps, device)
    mem = None
    if memory:
        live = steps_fn if str(device).startswith("cuda") else None
        del models, steps_fn  # on CPU each variant is built again in a fresh process
        factories = {v: (_variant_step, (config_file, list(opts), v, device, batch_args)) for v in VARIANTS}
        mem = peak_memory_mb(device, live, factories, threads)
    return OrderedDict(
        setting=OrderedDict(config_file=config_file, opts=list(opts), batch_size=batch_size, image_size=image_size,
                            boxes=boxes, steps=steps, device=device, threads=torch.get_num_threads()),  # fmt: skip
        step_time_s=OrderedDict((v, statistics.median(times[v])) for v in VARIANTS),
        step_times_s=times,
        peak_memory_mb=mem,
        memory_kind=memory_label(device),
    )


def format_benchmark(result: Dict) -> str:
    """The result of :func:`benchmark_comining` as a Markdown table (ratio = Co-mining / single)."""
    s, t, m = result["setting"], result["step_time_s"], result.get("peak_memory_mb")
    title = (f"Co-mining benchmark: {s['config_file']} | batch {s['batch_size']} x {s['image_size']}px, "
             f"{s['boxes']} boxes/image, device {s['device']}, threads {s['threads']}, {s['steps']} steps")
    return format_side_by_side(title, ("single branch", "Co-mining"), [t[v] for v in VARIANTS],
                               None if m is None else [m[v] for v in VARIANTS], result["memory_kind"])  # fmt: skip
