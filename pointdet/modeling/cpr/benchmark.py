"""Benchmark of CPRNet against its own backbone (+FPN) (``tools/benchmark_cpr.py``).

On the same synthetic batch (random images, random annotated points), :func:`benchmark_cprnet`
measures:

* the training step time (forward + backward + SGD step) of the whole CPRNet and of the
  backbone+FPN alone (forward of the used level, backward of its mean), interleaved step by
  step so that machine load affects both alike; median over ``steps``;
* the peak memory of each: CUDA ``max_memory_allocated`` on GPU; on CPU (Linux) the increase
  of the peak RSS over the RSS before training, during 2 steps in a fresh process per variant
  (model built first, peak reset through /proc/self/clear_refs);
* the refinement throughput (images/s) of ``CPRNet.refine`` in eval mode.
"""
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

__all__ = ["synthetic_point_batch", "benchmark_cprnet", "format_cprnet_benchmark"]


def _build_model(config_file: str, opts: Sequence[str], device: str):
    """The CPRNet of a LazyConfig (random init / the config's backbone weights), training mode."""
    from pointdet.engine.model_loading import load_model_from_config

    model, _ = load_model_from_config(config_file, None, opts, device, require_method="refine")
    return model


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


def _step_fns(model, batch) -> Tuple[Callable[[], None], Callable[[], None]]:
    """(cpr_step, backbone_step) closures doing forward + backward + SGD step."""
    import torch

    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-6)

    def cpr_step():
        model.train()
        losses = model(batch)
        opt.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        opt.step()

    def backbone_step():
        model.train()
        images = model.preprocess_image(batch)
        feat = model.backbone(images.tensor)[model.in_feature]
        opt.zero_grad(set_to_none=True)
        feat.float().mean().backward()
        opt.step()

    return cpr_step, backbone_step


def _sync(device: str) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _proc_status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _memory_child(kind: str, settings: Dict[str, Any], q) -> None:
    """In a fresh process: build the model, reset the peak RSS, run 2 steps of ``kind``; put
    (peak RSS - RSS before the steps) in MB, or the error as a string, on ``q``."""
    import torch

    try:
        if settings["threads"]:
            torch.set_num_threads(settings["threads"])
        model = _build_model(settings["config_file"], settings["opts"], settings["device"])
        batch = synthetic_point_batch(model.num_classes, settings["batch_size"], settings["image_size"],
                                      settings["points"])
        cpr_step, backbone_step = _step_fns(model, batch)
        fn = {"cpr": cpr_step, "backbone": backbone_step}[kind]
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (Linux)
        before = _proc_status_kb("VmRSS")
        for _ in range(2):
            fn()
        q.put((_proc_status_kb("VmHWM") - before) / 1024.0)
    except Exception as e:  # reported by the parent
        q.put(f"{type(e).__name__}: {e}")


def _cpu_peak_memory(settings: Dict[str, Any]) -> Dict[str, float]:
    """Peak RSS increase (MB) of a backbone+FPN step and of a CPRNet step, each in a fresh process."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out = {}
    for kind in ("backbone", "cpr"):
        q = ctx.Queue()
        p = ctx.Process(target=_memory_child, args=(kind, settings, q))
        p.start()
        val = q.get()
        p.join()
        if isinstance(val, str):
            raise OSError(f"memory child '{kind}': {val}")
        out[kind] = val
    return out


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

    if threads:
        torch.set_num_threads(threads)
    settings = {"config_file": config_file, "opts": list(opts), "batch_size": batch_size, "image_size": image_size,
                "points": points, "steps": steps, "device": device, "threads": threads}
    model = _build_model(config_file, opts, device)
    batch = synthetic_point_batch(model.num_classes, batch_size, image_size, points)
    cpr_step, backbone_step = _step_fns(model, batch)
    cpr_step()  # warm-up
    backbone_step()
    t_cpr: List[float] = []
    t_bb: List[float] = []
    for _ in range(steps):
        for fn, acc in ((backbone_step, t_bb), (cpr_step, t_cpr)):
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            acc.append(time.perf_counter() - t0)

    model.eval()
    with torch.no_grad():
        model.refine(batch)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            model.refine(batch)
        _sync(device)
        refine_ips = steps * len(batch) / (time.perf_counter() - t0)

    on_cuda = str(device).startswith("cuda")
    mem: Optional[Dict[str, float]] = None
    mem_error = None
    if memory and on_cuda:
        mem = {}
        for kind, fn in (("backbone", backbone_step), ("cpr", cpr_step)):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            fn()
            mem[kind] = torch.cuda.max_memory_allocated() / 2**20
    elif memory:
        try:
            mem = _cpu_peak_memory(settings)
        except OSError as e:
            mem_error = str(e)
    return {
        **settings,
        "bag_radius": model.bag_radius,
        "stride": model.stride,
        "threads": torch.get_num_threads(),
        "train_step_s": {"backbone": statistics.median(t_bb), "cpr": statistics.median(t_cpr)},
        "refine_images_per_s": refine_ips,
        "memory_mb": mem,
        "memory_kind": "cuda" if on_cuda else "rss",
        "memory_error": mem_error,
    }


def format_cprnet_benchmark(report: Dict[str, Any]) -> str:
    """The table of a :func:`benchmark_cprnet` report (Markdown)."""
    lines = [] if report["memory_error"] is None else [f"(no CPU memory measurement: {report['memory_error']})"]
    step = report["train_step_s"]
    lines += [
        f"CPRNet benchmark: {report['config_file']} | batch {report['batch_size']} x {report['image_size']}px, "
        f"{report['points']} points/image, R={report['bag_radius']}, stride {report['stride']:g}, "
        f"device {report['device']}, threads {report['threads']}, {report['steps']} steps",
        f"| {'measure':<34} | {'backbone+FPN':>12} | {'CPRNet':>10} | {'ratio':>6} |",
        f"|{'-' * 36}|{'-' * 14}|{'-' * 12}|{'-' * 8}|",
        f"| {'train step, median (s)':<34} | {step['backbone']:>12.3f} | {step['cpr']:>10.3f} "
        f"| {step['cpr'] / step['backbone']:>6.2f} |",
    ]
    mem = report["memory_mb"]
    if mem is not None:
        label = "peak CUDA memory (MB)" if report["memory_kind"] == "cuda" else "peak RSS increase in step (MB)"
        ratio = mem["cpr"] / mem["backbone"] if mem["backbone"] > 0 else float("nan")
        lines.append(f"| {label:<34} | {mem['backbone']:>12.0f} | {mem['cpr']:>10.0f} | {ratio:>6.2f} |")
    lines.append(f"refinement throughput: {report['refine_images_per_s']:.2f} images/s ({report['points']} points/image)")
    return "\n".join(lines)
