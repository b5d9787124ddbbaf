"""Demo stage of Co-mining (Wang et al. AAAI 2021): the aerial-tree tiles with half of each
tile's crowns erased (the hard set), a RetinaNet trained on the kept crowns alone ("original")
vs the same RetinaNet trained with Co-mining, box AP on the fully annotated validation tiles,
and the mined boxes' precision / recall against the erased crowns.

Short form (``--stages comining``): RetinaNet, seed 0, the configs' 300-iteration CPU
schedule. Full form (``--full``): also FCOS, and seeds 0 and 1 (paired: the same seed for both
schemes), each run with a ``FULL_ITERS``-iteration schedule (at 300 iterations no prediction
passes tau, so Co-mining mines nothing). Not part of ``make demo``: each Co-mining run takes
about twice its baseline's time (see ``projects/CoMining/README.md``).

Stage ``comining_joint`` adds the "joint" scheme (both views with shared weights, the loss
summed over the branches, no co-generation; paper Table 1) to the FCOS pairs, in the same
directories, so that a Co-mining gain can be split into what the second view and the summed
loss give and what the mined boxes add. Short form: seed 0 at the configs' schedule; full
form: seeds 0 and 1 at ``FULL_ITERS`` (the original and Co-mining runs of ``comining
--full`` are reused, not run again).
"""
import json
import math
import os
from typing import Dict, Optional, Sequence

from .runner import DemoRunner, register_stage, schedule_overrides

__all__ = ["FULL_ITERS", "SCHEMES", "ABLATION_SCHEMES", "comining_chain", "read_last_metrics", "print_comining_summary"]

FULL_ITERS = 1500

SCHEMES = ("original", "comining")
ABLATION_SCHEMES = ("original", "joint", "comining")


def _run_dir(out: str, det: str, scheme: str, seed: int) -> str:
    return os.path.join(out, f"{det}_{scheme}_s{seed}")


def comining_chain(runner: DemoRunner, detectors: Sequence[str], seeds: Sequence[int], max_iter: int = 0,
                   schemes: Sequence[str] = SCHEMES) -> None:
    """The hard sparse set of the trees, then for every detector ("retinanet", "fcos") and
    seed each of ``schemes`` (configs ``configs/CoMining/<det>_mnv2_fpn_trees_<scheme>.py``,
    output ``<stage dir>/<det>_<scheme>_s<seed>``); ``max_iter`` > 0 replaces the
    configs' schedule. A Co-mining run whose ``mined/mined_quality.json`` is missing (one
    trained before the hook wrote it) is measured with ``tools/mine_boxes.py``."""
    from pointdet.data.demo import demo_root

    ann_dir = os.path.join(demo_root(), "trees", "annotations")
    full = os.path.join(ann_dir, "trees_train.json")
    sparse = os.path.join(ann_dir, "trees_train_sparse_hard_s0.json")
    erased = os.path.join(ann_dir, "trees_train_sparse_hard_s0_erased.json")
    runner.tool("make_weak_annotations.py", "sparse", "--level", "hard", "--input", full, "--seed", "0",
                outputs=[sparse, erased])  # fmt: skip
    out = runner.stage_dir("comining")
    for det in detectors:
        for seed in seeds:
            for scheme in schemes:
                run_dir = _run_dir(out, det, scheme, seed)
                config = f"configs/CoMining/{det}_mnv2_fpn_trees_{scheme}.py"
                weights = os.path.join(run_dir, "model_final.pth")
                runner.train(config, f"train.output_dir={run_dir}", f"train.seed={seed}",
                             *(schedule_overrides(max_iter) if max_iter else []), outputs=[weights])  # fmt: skip
                if scheme == "comining":
                    runner.tool("mine_boxes.py", "--config-file", config, "--weights", weights, "--quiet",
                                outputs=[_mined_quality_json(run_dir)])  # fmt: skip
    if not runner.dry_run:
        print_comining_summary(out, detectors, seeds, schemes)


def _mined_quality_json(run_dir: str) -> str:
    return os.path.join(run_dir, "mined", "mined_quality.json")


def read_last_metrics(metrics_json: str, keys: Sequence[str]) -> Dict[str, Optional[float]]:
    """The last value of each of ``keys`` in a Detectron2 ``metrics.json`` (None when absent)."""
    last: Dict[str, Optional[float]] = {k: None for k in keys}
    if not os.path.isfile(metrics_json):
        return last
    with open(metrics_json) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            for k in keys:
                if k in row:
                    last[k] = row[k]
    return last


def _fmt(v: Optional[float], scale: float = 1.0) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * scale:.1f}"


def print_comining_summary(out: str, detectors: Sequence[str], seeds: Sequence[int],
                           schemes: Sequence[str] = SCHEMES) -> None:
    """Box AP / AP50 on ``pointdet_trees_val`` of each run side by side, and for the Co-mining
    runs the final model's mined boxes on every training tile: count, precision and recall against
    the erased crowns (``mined/mined_quality.json``)."""
    keys = ("bbox/AP", "bbox/AP50")
    print("\n[demo] Co-mining on the tree tiles, hard set (half of each tile's crowns erased); "
          "box AP on pointdet_trees_val")
    print("[demo] | detector | seed | scheme | AP | AP50 | mined / tile | mined precision % | mined recall % |")
    print("[demo] |---|---|---|---|---|---|---|---|")
    for det in detectors:
        for seed in seeds:
            for scheme in schemes:
                run_dir = _run_dir(out, det, scheme, seed)
                m = read_last_metrics(os.path.join(run_dir, "metrics.json"), keys)
                q = {}
                if scheme == "comining" and os.path.isfile(_mined_quality_json(run_dir)):
                    with open(_mined_quality_json(run_dir)) as f:
                        q = json.load(f)
                mined = (_fmt(q.get("mined_per_image")), _fmt(q.get("mined_precision"), 100),
                         _fmt(q.get("mined_recall"), 100))  # fmt: skip
                print(f"[demo] | {det} | {seed} | {scheme} | {_fmt(m['bbox/AP'])} | {_fmt(m['bbox/AP50'])} | "
                      f"{' | '.join(mined)} |")  # fmt: skip


@register_stage("comining", "Co-mining on the tree tiles, hard sparse set: RetinaNet original vs Co-mining, box "
                            "AP and mined-box precision/recall (--full: + FCOS, seeds 0 and 1, 1,500 iterations); the "
                            "short RetinaNet pair took 28-31 minutes on a busy 2-core CPU, the full form takes hours",
                default=False)  # fmt: skip
def stage_comining(runner: DemoRunner) -> None:
    if runner.full:
        comining_chain(runner, ("retinanet", "fcos"), (0, 1), max_iter=FULL_ITERS)
    else:
        comining_chain(runner, ("retinanet",), (0,))


@register_stage("comining_joint", "Co-mining's FCOS ablation on the same tiles: original vs joint (both views, "
                                  "summed loss, no co-generation) vs Co-mining (--full: seeds 0 and 1, 1,500 "
                                  "iterations, reusing the comining --full runs); hours on CPU",
                default=False)  # fmt: skip
def stage_comining_joint(runner: DemoRunner) -> None:
    if runner.full:
        comining_chain(runner, ("fcos",), (0, 1), max_iter=FULL_ITERS, schemes=ABLATION_SCHEMES)
    else:
        comining_chain(runner, ("fcos",), (0,), schemes=ABLATION_SCHEMES)
