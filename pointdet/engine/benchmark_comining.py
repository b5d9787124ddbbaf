"""Cost of Co-mining training against its single-branch detector, side by side in one run.

The same LazyConfig model is built twice: as the config sets it (Co-mining: two views, two
backbone + head passes, co-generation) and as its single-branch baseline (``siamese=False``,
``co_generation=False``: the stock detector's training step on the original view). On one
synthetic batch (random images, their colour-jittered views, random boxes):

* training step time (forward + backward + SGD step), the two variants interleaved step by
  step so that machine load affects both alike; median over ``steps`` after one warm-up;
* peak memory of a step: CUDA ``max_memory_allocated``; on CPU (Linux) the increase of the
  peak RSS over the RSS before the steps, 2 steps in a fresh process per variant (model built
  first, peak reset through /proc/self/clear_refs).

Inference is the stock detector in both cases (Co-mining adds nothing at test time) and is not
measured. ``tools/benchmark_comining.py`` is the command.
"""
import multiprocessing as mp
import statistics
import time
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

__all__ = ["VARIANTS", "build_variant", "synthetic_two_view_batch", "benchmark_comining", "format_benchmark"]

VARIANTS = ("single_branch", "comining")


def build_variant(config_file: str, opts: Sequence[str], variant: str, device: str):
    """The model of ``config_file`` (training mode, random / the config's backbone init) as
    ``variant``: "comining" as configured, "single_branch" without the second view and
    co-generation."""
    from pointdet.engine.model_loading import load_model_from_config

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    extra = ["model.siamese=False", "model.co_generation=False"] if variant == "single_branch" else []
    model, _ = load_model_from_config(
        config_file, None, [*opts, *extra], device, require_method="generate_pseudo_boxes"
    )
    return model.train()


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


def _step_fn(model, batch):
    import torch
    from detectron2.utils.events import EventStorage

    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    storage = EventStorage()  # the detectors log scalars during their losses

    def step():
        with storage:
            losses = model(batch)
        opt.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        opt.step()

    return step


def _sync(device):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _proc_status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _memory_child(variant, kw, q):
    """In a fresh process: build ``variant``, reset the peak RSS, run 2 steps; put the peak RSS
    increase (MB) or an error message on ``q``."""
    import torch

    try:
        if kw["threads"]:
            torch.set_num_threads(kw["threads"])
        model = build_variant(kw["config_file"], kw["opts"], variant, kw["device"])
        batch = synthetic_two_view_batch(model.num_classes, kw["batch_size"], kw["image_size"], kw["boxes"])
        step = _step_fn(model, batch)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (Linux)
        before = _proc_status_kb("VmRSS")
        for _ in range(2):
            step()
        q.put((_proc_status_kb("VmHWM") - before) / 1024.0)
    except Exception as e:  # reported by the parent
        q.put(f"{type(e).__name__}: {e}")


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

    if threads:
        torch.set_num_threads(threads)
    models = {v: build_variant(config_file, opts, v, device) for v in VARIANTS}
    models["comining"].load_state_dict(models["single_branch"].state_dict())  # same weights, same start
    batch = synthetic_two_view_batch(models["comining"].num_classes, batch_size, image_size, boxes)
    steps_fn = {v: _step_fn(m, batch) for v, m in models.items()}
    for fn in steps_fn.values():
        fn()  # warm-up
    times: Dict[str, List[float]] = {v: [] for v in VARIANTS}
    for _ in range(steps):
        for v in VARIANTS:
            _sync(device)
            t0 = time.perf_counter()
            steps_fn[v]()
            _sync(device)
            times[v].append(time.perf_counter() - t0)

    mem: Optional[Dict[str, float]] = None
    kind = "peak CUDA memory (MB)" if str(device).startswith("cuda") else "peak RSS increase in step (MB)"
    if memory and str(device).startswith("cuda"):
        mem = {}
        for v in VARIANTS:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            steps_fn[v]()
            mem[v] = torch.cuda.max_memory_allocated() / 2**20
    elif memory:
        del models, steps_fn
        kw = dict(config_file=config_file, opts=list(opts), device=device, threads=threads, batch_size=batch_size,
                  image_size=image_size, boxes=boxes)  # fmt: skip
        ctx = mp.get_context("spawn")
        mem = {}
        for v in VARIANTS:
            q = ctx.Queue()
            p = ctx.Process(target=_memory_child, args=(v, kw, q))
            p.start()
            val = q.get()
            p.join()
            if isinstance(val, str):
                raise OSError(f"memory measurement of '{v}': {val}")
            mem[v] = val
    return OrderedDict(
        setting=OrderedDict(config_file=config_file, opts=list(opts), batch_size=batch_size, image_size=image_size,
                            boxes=boxes, steps=steps, device=device, threads=torch.get_num_threads()),  # fmt: skip
        step_time_s=OrderedDict((v, statistics.median(times[v])) for v in VARIANTS),
        step_times_s=times,
        peak_memory_mb=mem,
        memory_kind=kind,
    )


def format_benchmark(result: Dict) -> str:
    """The result of :func:`benchmark_comining` as a Markdown table (ratio = Co-mining / single)."""
    s = result["setting"]
    t = result["step_time_s"]
    lines = [
        f"Co-mining benchmark: {s['config_file']} | batch {s['batch_size']} x {s['image_size']}px, {s['boxes']} "
        f"boxes/image, device {s['device']}, threads {s['threads']}, {s['steps']} steps",
        f"| {'measure':<34} | {'single branch':>13} | {'Co-mining':>10} | {'ratio':>6} |",
        f"|{'-' * 36}|{'-' * 15}|{'-' * 12}|{'-' * 8}|",
        f"| {'train step, median (s)':<34} | {t['single_branch']:>13.3f} | {t['comining']:>10.3f} | "
        f"{t['comining'] / t['single_branch']:>6.2f} |",
    ]
    m = result.get("peak_memory_mb")
    if m is not None:
        ratio = m["comining"] / m["single_branch"] if m["single_branch"] > 0 else float("nan")
        lines.append(
            f"| {result['memory_kind']:<34} | {m['single_branch']:>13.0f} | {m['comining']:>10.0f} | {ratio:>6.2f} |"
        )
    return "\n".join(lines)
