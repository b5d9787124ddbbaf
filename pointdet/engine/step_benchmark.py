"""Training-step cost of models measured side by side in one run: the one home of pointdet's
step benchmarks (DMiner vs its base detector, Co-mining vs its single branch, CPRNet vs its
backbone, SAPNet vs SOLOv2).

The pieces:

* :func:`build_train_model`: the model of a LazyConfig with ``key=value`` overrides, in training
  mode; :func:`train_step`: a forward + backward + SGD step closure on one batch;
* :func:`time_steps`: one warm-up step each, then the variants interleaved step by step (so that
  machine load affects them alike), seconds per step, CUDA synchronised;
* :func:`peak_memory_mb`: peak memory of a step: on CUDA ``torch.cuda.max_memory_allocated`` of
  one step in this process; on CPU (Linux) the increase of the peak RSS over the RSS before the
  steps, during 2 steps in a fresh process per variant (model built first, peak reset through
  ``/proc/self/clear_refs``), built there by a picklable factory;
* :func:`format_side_by_side`: a Markdown table, one row per measure, one column per variant and
  their ratio.

A method's benchmark states only what is its own: which variants, how its synthetic batch looks,
and any extra measure (CPRNet's refinement throughput). :func:`benchmark_train_steps` is the
generic form: LazyConfigs on one batch of their own training data (``tools/benchmark_train_step.py``).
"""
import logging
import statistics
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "add_step_benchmark_arguments",
    "build_train_model",
    "train_step",
    "set_threads",
    "sync",
    "time_steps",
    "cuda_peak_mb",
    "cpu_peak_rss_mb",
    "peak_memory_mb",
    "memory_label",
    "ratio",
    "format_side_by_side",
    "benchmark_train_steps",
    "format_config_table",
]

logger = logging.getLogger(__name__)

Step = Callable[[], None]
#: a module-level function building a variant's step in a fresh process: ``factory(*args) -> step``
StepFactory = Tuple[Callable[..., Step], tuple]


def add_step_benchmark_arguments(parser, image_size: int = 384) -> None:
    """The options every side-by-side training-step benchmark tool shares: ``--batch-size``,
    ``--image-size``, ``--steps``, ``--device``, ``--threads``, ``--no-memory`` and trailing
    LazyConfig overrides (``opts``)."""
    import argparse

    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=image_size, help="square synthetic images (px)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant (after 1 warm-up)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="LazyConfig overrides key=value")


def _on_cuda(device) -> bool:
    return str(device).startswith("cuda")


def sync(device) -> None:
    """Wait for the device's queued work (CUDA); nothing on CPU."""
    import torch

    if _on_cuda(device):
        torch.cuda.synchronize()


def set_threads(threads: int) -> None:
    """``torch.set_num_threads(threads)``; 0 leaves PyTorch's setting as it is."""
    import torch

    if threads:
        torch.set_num_threads(threads)


def build_train_model(config_file: str, opts: Sequence[str], device: str, require_method: Optional[str] = None):
    """``cfg.model`` of a LazyConfig with overrides (random / the config's backbone init), on
    ``device``, training mode. Raises FileNotFoundError / ValueError as
    :func:`~pointdet.engine.model_loading.load_model_from_config`."""
    from .model_loading import load_model_from_config

    model, _ = load_model_from_config(config_file, None, list(opts), device, require_method=require_method)
    return model.train()


def train_step(model, batch: List[Dict], loss_fn: Optional[Callable] = None) -> Step:
    """A closure doing one training step of ``model`` on ``batch``: forward in training mode inside
    one Detectron2 ``EventStorage`` (the models log scalars), backward of the loss, SGD step
    (lr 1e-6: the optimizer's work without moving far).

    ``loss_fn(model, batch) -> scalar`` (default: the sum of ``model(batch)``'s loss dict)."""
    import torch
    from detectron2.utils.events import EventStorage

    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    storage = EventStorage()
    loss_fn = loss_fn or (lambda m, b: sum(m(b).values()))

    def step():
        model.train()
        with storage:
            loss = loss_fn(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def time_steps(steps_fn: Mapping[str, Step], steps: int, device, warmup: int = 1) -> Dict[str, List[float]]:
    """Seconds of each of ``steps`` steps per variant, after ``warmup`` steps each; the variants
    alternate step by step (in ``steps_fn``'s order). Progress goes to the logger."""
    for _ in range(warmup):
        for fn in steps_fn.values():
            fn()
    times: Dict[str, List[float]] = OrderedDict((name, []) for name in steps_fn)
    for i in range(steps):
        for name, fn in steps_fn.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t0)
        logger.info("  step %d/%d: %s", i + 1, steps, ", ".join(f"{n} {t[-1]:.3f} s" for n, t in times.items()))
    return times


def cuda_peak_mb(step: Step) -> float:
    """Peak CUDA memory allocated (MiB) during one call of ``step``."""
    import torch

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def _proc_status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _memory_child(factory: Callable[..., Step], args: tuple, threads: int, q) -> None:
    """In a fresh process: build the step, reset the peak RSS, run 2 steps; put the peak RSS
    increase (MB) or an error message on ``q``."""
    try:
        set_threads(threads)
        step = factory(*args)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (Linux)
        before = _proc_status_kb("VmRSS")
        for _ in range(2):
            step()
        q.put((_proc_status_kb("VmHWM") - before) / 1024.0)
    except Exception as e:  # reported by the parent
        q.put(f"{type(e).__name__}: {e}")


def cpu_peak_rss_mb(factory: Callable[..., Step], args: tuple = (), threads: int = 0) -> float:
    """Peak RSS increase (MB) of 2 steps of ``factory(*args)`` in a fresh (spawned) process.

    Raises:
        OSError: the child failed (its error in the message), e.g. no ``/proc`` (not Linux).
    """
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_memory_child, args=(factory, tuple(args), threads, q))
    p.start()
    val = q.get()
    p.join()
    if isinstance(val, str):
        raise OSError(val)
    return val


def peak_memory_mb(
    device,
    steps_fn: Optional[Mapping[str, Step]] = None,
    factories: Optional[Mapping[str, StepFactory]] = None,
    threads: int = 0,
) -> Dict[str, float]:
    """Peak memory of one step per variant: on CUDA of ``steps_fn`` in this process, on CPU of
    ``factories`` (``{name: (factory, args)}``) each in a fresh process (:func:`cpu_peak_rss_mb`).

    Raises:
        OSError: a CPU measurement failed, naming the variant.
    """
    if _on_cuda(device):
        return OrderedDict((name, cuda_peak_mb(fn)) for name, fn in steps_fn.items())
    out = OrderedDict()
    for name, (factory, args) in factories.items():
        try:
            out[name] = cpu_peak_rss_mb(factory, args, threads)
        except OSError as e:
            raise OSError(f"memory measurement of '{name}': {e}") from e
    return out


def memory_label(device) -> str:
    """What :func:`peak_memory_mb` measures on ``device``."""
    return "peak CUDA memory (MB)" if _on_cuda(device) else "peak RSS increase in step (MB)"


def ratio(a: float, b: float) -> float:
    """a / b, NaN when b is not positive (a CPU RSS increase can be 0)."""
    return a / b if b > 0 else float("nan")


def format_side_by_side(
    title: str,
    labels: Sequence[str],
    step_s: Sequence[float],
    peak_mb: Optional[Sequence[float]] = None,
    memory_kind: str = "",
) -> str:
    """Markdown table of two variants: a ``title`` line, then one row per measure (median step
    seconds; with ``peak_mb`` the peak memory, ``memory_kind`` naming it) with a column per
    variant (``labels``) and their ratio (second / first)."""
    w = [max(len(label), 10) for label in labels]
    lines = [
        title,
        f"| {'measure':<34} | {labels[0]:>{w[0]}} | {labels[1]:>{w[1]}} | {'ratio':>6} |",
        f"|{'-' * 36}|{'-' * (w[0] + 2)}|{'-' * (w[1] + 2)}|{'-' * 8}|",
        f"| {'train step, median (s)':<34} | {step_s[0]:>{w[0]}.3f} | {step_s[1]:>{w[1]}.3f} "
        f"| {step_s[1] / step_s[0]:>6.2f} |",
    ]
    if peak_mb is not None:
        lines.append(f"| {memory_kind:<34} | {peak_mb[0]:>{w[0]}.0f} | {peak_mb[1]:>{w[1]}.0f} "
                     f"| {ratio(peak_mb[1], peak_mb[0]):>6.2f} |")  # fmt: skip
    return "\n".join(lines)


def _config_train_step(path: str, opts: Sequence[str], device: str) -> Step:
    """The training step of a LazyConfig's model (initialisation, no weights) on the first batch
    of its own training loader (no workers, sampler seeded with 0, so configs over the same
    images get the same batch); a picklable :data:`StepFactory`."""
    from detectron2.config import instantiate
    from detectron2.utils.env import seed_all_rng

    from .model_loading import load_model_from_config

    model, cfg = load_model_from_config(path, None, list(opts), device)
    cfg.dataloader.train.num_workers = 0
    seed_all_rng(0)
    batch = next(iter(instantiate(cfg.dataloader.train)))
    step = train_step(model.train(), batch)
    step.images = len(batch)
    step.file_names = [x.get("file_name") for x in batch]
    return step


def benchmark_train_steps(config_files: Sequence[str], steps: int = 3, device: Optional[str] = None,
                          opts: Sequence[str] = (), threads: int = 0, memory: bool = True) -> Dict[str, Dict[str, Any]]:
    """LazyConfig models on one batch of their own training data (e.g. SAPNet vs SOLOv2 alone).

    Returns, per config, the median seconds of a training step (after one warm-up step,
    interleaved), every step's seconds, the batch size and, with ``memory``, the peak memory of
    a step (MiB; :func:`peak_memory_mb`: CUDA allocated, or on CPU the peak RSS increase in a
    fresh process). ``opts``: overrides applied to every config; ``threads``: torch threads
    (0: leave as is)."""
    import torch

    set_threads(threads)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    steps_fn = OrderedDict((path, _config_train_step(path, opts, device)) for path in config_files)
    times = time_steps(steps_fn, steps, device)
    factories = OrderedDict((path, (_config_train_step, (path, tuple(opts), device))) for path in config_files)
    peaks = peak_memory_mb(device, steps_fn, factories, threads) if memory else {}
    out = OrderedDict()
    for path in config_files:
        out[path] = OrderedDict(step_s=statistics.median(times[path]), steps=times[path], images=steps_fn[path].images,
                                peak_mib=peaks.get(path), memory=memory_label(device) if memory else None,
                                device=device)
    return out


def format_config_table(result: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown table of :func:`benchmark_train_steps`'s result: one row per config with its
    median step seconds and peak memory, each also as a ratio to the first config's."""
    rows = list(result.items())
    first = rows[0][1]
    mem = first.get("memory")
    head = "| config | images | step (s) | x first |" + (f" {mem} | x first |" if mem else "")
    lines = [head, "|" + "---|" * (6 if mem else 4)]
    for path, r in rows:
        line = f"| {path} | {r['images']} | {r['step_s']:.2f} | {ratio(r['step_s'], first['step_s']):.2f} |"
        if mem:
            line += f" {r['peak_mib']:.0f} | {ratio(r['peak_mib'], first['peak_mib']):.2f} |"
        lines.append(line)
    return "\n".join(lines)
