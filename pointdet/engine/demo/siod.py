"""Demo stage of SIOD / DMiner (Li et al. CVPR 2022): the aerial trees in Keep1 form (one crown
kept per tile), a detector trained as "SIOD (base)" and with DMiner, score-aware AP side by side.

Short form (``siod``, about 3 minutes on a 2-core CPU): CenterNet (MobileNetV2), seed 0, base vs
DMiner, ``SHORT_ITERS`` iterations each: a smoke test of the chain, whose detectors are untrained.
Full form (``--full``): seeds 0 and 1 (Keep1 file and training seed paired: only DMiner differs
between the two runs of a seed), the FSOD upper bound, and FCOS as the second detector, each run
with a longer schedule of ``FULL_ITERS`` iterations (same warm-up, steps at the same fractions;
:func:`~pointdet.engine.demo.runner.schedule_overrides`). Prints AP@S, AP@S_0, S_3, S_5, S_7,
S_9 per run and plots AP@S_t against t (projects/SIOD/README.md).
"""
import json
import os
from typing import Optional

from .runner import DemoRunner, register_stage, schedule_overrides

__all__ = ["FULL_ITERS", "SHORT_ITERS", "print_siod_summary", "siod_chain"]

FULL_ITERS = 600  # warm-up 100 iterations
SHORT_ITERS, SHORT_WARMUP = 60, 20

_COLUMNS = ("AP@S", "AP@S_0", "AP@S_3", "AP@S_5", "AP@S_7", "AP@S_9")


def siod_chain(
    runner: DemoRunner, detectors, seeds, with_fsod: bool, max_iter: int = 0, warmup_iters: int = 100
) -> list:
    """Keep1 files, then per detector (config prefix under ``configs/SIOD/``) and seed the SIOD base
    and DMiner runs (and with ``with_fsod`` one FSOD run); ``max_iter`` > 0 replaces the configs'
    schedule (``warmup_iters`` of warm-up). Prints the table of :func:`print_siod_summary` and
    writes its plot to ``<stage dir>/ap_vs_score_threshold.png``. Returns (detector, label,
    output dir) triples."""
    from pointdet.data.demo import demo_root

    ann_dir = os.path.join(demo_root(), "trees", "annotations")
    full = os.path.join(ann_dir, "trees_train.json")
    out = runner.stage_dir("siod_trees")
    runs = []
    for seed in seeds:
        keep1 = os.path.join(ann_dir, f"trees_train_keep1_s{seed}.json")
        runner.tool("make_weak_annotations.py", "keep1", "--input", full, "--seed", str(seed), outputs=[keep1])
    for det in detectors:
        variants = [("fsod", None)] if with_fsod else []
        for seed in seeds:
            variants += [("siod_base", seed), ("siod_dminer", seed)]
        for variant, seed in variants:
            name = f"{det}_{variant}" + ("" if seed is None else f"_s{seed}")
            run_dir = os.path.join(out, name)
            overrides = [f"train.output_dir={run_dir}", f"train.seed={0 if seed is None else seed}"]
            if max_iter:
                overrides += schedule_overrides(max_iter, warmup_iters=warmup_iters)
            if seed is not None:
                overrides.append(f"dataloader.train.dataset.names=pointdet_trees_train_keep1_s{seed}")
            runner.train(f"configs/SIOD/{det}_trees_{variant}.py", *overrides,
                         outputs=[os.path.join(run_dir, "score_aware_bbox.json")])
            runs.append((det, name[len(det) + 1:], run_dir))
    if not runner.dry_run:
        print_siod_summary(runs, os.path.join(out, "ap_vs_score_threshold.png"))
    return runs


def print_siod_summary(runs, plot_path: Optional[str] = None) -> None:
    """The score-aware AP of each (detector, label, output dir) run (percent), one Markdown row
    per run; with ``plot_path`` also a PNG of AP@S_t against t, one panel per detector."""
    print("\n[demo] SIOD on the Keep1 tree tiles: score-aware AP on pointdet_trees_val (percent)")
    print("[demo] | run | " + " | ".join(_COLUMNS) + " |")
    print("[demo] |---|" + "---|" * len(_COLUMNS))
    panels, thresholds = {}, None
    for det, label, run_dir in runs:
        with open(os.path.join(run_dir, "score_aware_bbox.json")) as f:
            result = json.load(f)
        m = result["metrics"]
        cells = ["-" if m.get(k) is None else f"{m[k]:.1f}" for k in _COLUMNS]
        print(f"[demo] | {det}_{label} | " + " | ".join(cells) + " |")
        thresholds = result["thresholds"]
        panels.setdefault(det, {})[label] = [m.get(f"AP@S_{i}") for i in range(len(thresholds))]
    if plot_path and panels:
        from pointdet.evaluation.plots import plot_score_threshold_comparison

        plot_score_threshold_comparison(panels, thresholds, plot_path)
        print(f"[demo] AP@S_t against t: {plot_path}")


@register_stage("siod", "SIOD on Keep1 trees: CenterNet base vs DMiner, score-aware AP, 60 iterations each (a smoke "
                        "test, about 3 minutes; --full: seeds 0 and 1, FSOD upper bound, FCOS too, 600 iterations "
                        "each, about 15 minutes per run on one CPU core)", default=False)
def stage_siod(runner: DemoRunner) -> None:
    if runner.full:
        siod_chain(runner, ("centernet_mnv2", "fcos_mnv2_fpn"), seeds=(0, 1), with_fsod=True, max_iter=FULL_ITERS)
    else:
        siod_chain(runner, ("centernet_mnv2",), seeds=(0,), with_fsod=False, max_iter=SHORT_ITERS,
                   warmup_iters=SHORT_WARMUP)
