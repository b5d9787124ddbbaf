"""The demo runner: stages of ordinary pointdet commands, printed before they run.

A stage is a function ``stage(runner)`` registered with :func:`register_stage`; it calls
:meth:`DemoRunner.run` (any command) and :meth:`DemoRunner.train` (``tools/train_net.py``)
with the outputs that mark each step as done. A step whose outputs are complete (files exist,
checkpoints load) is skipped, so an interrupted demo resumes where it stopped; ``force``
reruns everything and ``dry_run`` only prints the commands.

Every stage has a short form (the chain weak labels -> method -> metric vs its baseline, about
3 minutes on 2 idle CPU cores, run by ``make demo``) and, with ``full=True``, the longer,
result-producing form documented in the method's ``projects/<Paper>/README.md``.
"""
import logging
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

__all__ = [
    "DEMO_STAGES",
    "DemoRunner",
    "DemoStage",
    "busy_cores",
    "choose_num_threads",
    "register_stage",
    "run_demo",
    "schedule_overrides",
]

logger = logging.getLogger(__name__)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@dataclass
class DemoStage:
    """A registered demo stage: ``fn(runner)`` runs it; ``default``: part of ``make demo``."""

    name: str
    fn: Callable[["DemoRunner"], None]
    help: str
    default: bool = True


DEMO_STAGES: Dict[str, DemoStage] = {}


def register_stage(name: str, help: str, default: bool = True):
    """Decorator registering ``fn(runner)`` as the demo stage ``name`` (names are unique)."""

    def deco(fn):
        if name in DEMO_STAGES:
            raise KeyError(f"demo stage {name!r} is registered twice")
        DEMO_STAGES[name] = DemoStage(name, fn, help, default)
        return fn

    return deco


def _cpu_times():
    """(idle, total) jiffies of all CPUs from /proc/stat, or None where there is none."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return values[3] + (values[4] if len(values) > 4 else 0), sum(values)  # idle + iowait


def busy_cores(sample_seconds: float = 0.5) -> float:
    """How many cores other processes keep busy now: measured from /proc/stat over
    ``sample_seconds`` (the 1-minute load average, which lags by minutes, where /proc is absent)."""
    cores = os.cpu_count() or 1
    first = _cpu_times()
    if first is None:
        try:
            return float(os.getloadavg()[0])
        except OSError:  # pragma: no cover  (platforms without a load average)
            return 0.0
    time.sleep(sample_seconds)
    second = _cpu_times()
    idle, total = second[0] - first[0], second[1] - first[1]
    return cores * (1.0 - idle / total) if total > 0 else 0.0


def choose_num_threads(cpu_count: Optional[int] = None, busy: Optional[float] = None) -> int:
    """Torch threads per demo process: the cores that are free now, at least 1.

    ``cpu_count`` (default: the cores this process may use) minus ``busy`` (default:
    :func:`busy_cores`), rounded. On a machine busy with other jobs the demo then runs with
    fewer threads instead of oversubscribing the cores, which slows every process down many
    times over.
    """
    if cpu_count is None:
        cpu_count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if busy is None:
        busy = busy_cores()
    return int(max(1, min(cpu_count, round(cpu_count - busy))))


def schedule_overrides(max_iter: int, steps=(0.67, 0.89), warmup_iters: int = 100,
                       checkpoint_period: int = 250) -> List[str]:
    """Command-line overrides that give a demo config built on
    :func:`pointdet.solver.multistep_with_warmup` a ``max_iter``-iteration schedule: the same
    warm-up length in iterations, the steps at the same fractions of training, one evaluation
    at the end and a checkpoint every ``checkpoint_period`` iterations (at most ``max_iter``), so
    that an interrupted long run resumes (``--resume``) instead of starting over.
    ``train.max_iter`` alone would keep the config's milestones."""
    from pointdet.solver import multistep_with_warmup

    sched = multistep_with_warmup(max_iter, steps=steps, warmup_iters=warmup_iters)
    return [
        f"train.max_iter={max_iter}",
        f"train.eval_period={max_iter}",
        f"train.checkpointer.period={min(checkpoint_period, max_iter)}",
        f"lr_multiplier.scheduler.milestones={list(sched.scheduler.milestones)}",
        f"lr_multiplier.scheduler.num_updates={max_iter}",
        f"lr_multiplier.warmup_length={sched.warmup_length}",
    ]


def _checkpoint_complete(path: str) -> bool:
    from pointdet.engine.checkpoint import is_complete_checkpoint

    return is_complete_checkpoint(path)


@dataclass
class DemoRunner:
    """Runs the commands of demo stages (see the module docstring).

    Attributes:
        output_dir: every stage writes below ``output_dir/<stage>``.
        force: rerun steps whose outputs are complete.
        dry_run: print the commands, run nothing, write nothing.
        full: the result-producing form of each stage.
        num_threads: torch threads of each training process (0: PyTorch's default).
        options: stage-specific settings (e.g. ``cpr_iters``), read with :meth:`option`.
    """

    output_dir: str = "output/demo"
    force: bool = False
    dry_run: bool = False
    full: bool = False
    num_threads: int = 0
    options: Dict[str, object] = field(default_factory=dict)
    python: str = sys.executable

    def option(self, name: str, default=None):
        value = self.options.get(name)
        return default if value in (None, 0, "") else value

    def stage_dir(self, stage: str) -> str:
        return os.path.join(self.output_dir, stage)

    @staticmethod
    def _complete(path: str) -> bool:
        if path.endswith((".pth", ".pkl")):
            return _checkpoint_complete(path)
        return os.path.exists(path)

    def run(self, cmd: Sequence[str], outputs: Sequence[str] = ()) -> bool:
        """Run ``cmd`` from the repository root unless every path in ``outputs`` is complete.

        The command is printed first (``[demo] $ ...``, or ``[demo] skip (outputs exist): ...``).
        Returns True when it ran (or would run, in a dry run). A failing command raises
        :class:`subprocess.CalledProcessError`.
        """
        cmd = [str(c) for c in cmd]
        line = " ".join(shlex.quote(c) for c in cmd)
        if outputs and not self.force and all(self._complete(o) for o in outputs):
            print(f"[demo] skip (outputs exist): {line}", flush=True)
            return False
        print(f"\n[demo] $ {line}", flush=True)
        if self.dry_run:
            return True
        t0 = time.time()
        subprocess.run(cmd, cwd=REPO, check=True)
        print(f"[demo] done in {time.time() - t0:.0f} s", flush=True)
        return True

    def tool(self, script: str, *args, outputs: Sequence[str] = ()) -> bool:
        """Run ``tools/<script>`` with this runner's Python."""
        return self.run([self.python, f"tools/{script}", *args], outputs)

    def train(self, config_file: str, *overrides, outputs: Sequence[str] = ()) -> bool:
        """``tools/train_net.py --config-file config_file overrides...``; resumes an interrupted
        run (``--resume``) unless ``force``, with this runner's thread count."""
        flags = [] if self.force else ["--resume"]
        if self.num_threads:
            flags.append(f"--num-threads={self.num_threads}")
        return self.tool("train_net.py", *flags, "--config-file", config_file, *overrides, outputs=outputs)


def run_demo(stages: Optional[List[str]], runner: DemoRunner) -> float:
    """Run the named stages (None: every default stage) in order; returns the seconds taken."""
    if stages is None:
        stages = [s.name for s in DEMO_STAGES.values() if s.default]
    unknown = [s for s in stages if s not in DEMO_STAGES]
    if unknown:
        raise KeyError(f"unknown demo stage(s) {unknown}; choose from {sorted(DEMO_STAGES)}")
    t0 = time.time()
    print(
        f"[demo] stages {', '.join(stages)} ({'full' if runner.full else 'short'} form), "
        f"{runner.num_threads or 'default'} torch thread(s) per process; outputs in {runner.output_dir}",
        flush=True,
    )
    for name in stages:
        print(f"\n[demo] ===== stage: {name} =====", flush=True)
        DEMO_STAGES[name].fn(runner)
    elapsed = time.time() - t0
    print(f"\n[demo] all stages done in {elapsed:.0f} s; outputs in {runner.output_dir}", flush=True)
    return elapsed
