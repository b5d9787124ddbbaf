"""Demo stage of SAPNet (Wei et al. CVPR 2024) on the stardist nuclei (the demo's only masks).

Coarse points -> classical prompted-mask proposals (OpenCV flood fill, a labelled stand-in for
SAM, whose weights cannot be obtained here) -> SAPNet trained with its config's schedule ->
pseudo boxes of the training set from the top-1 proposal and from SAPNet's selection ->
CorLoc / mIoU_box of both against the true boxes (paper Table 7), seed 0.

``--full``: seeds 0 and 1 (training seed paired: only the supervision differs between the SAPNet
and the SOLOv2-on-top-1 run of a seed), the SOLOv2 baselines on the top-1 masks and on the true
masks, and mask AP of each on the validation tile and on the three training tiles (whose true
masks no run has seen); about 3 hours on a 2-core CPU.
Not a default stage: SAPNet's 300 CPU iterations take far longer than the demo's budget.
"""
import json
import os
from typing import Dict, Optional, Sequence

from .runner import DemoRunner, register_stage

__all__ = ["sapnet_chain", "print_sapnet_summary"]

SAPNET_CONFIG = "configs/SAPNet/sapnet_mnv2_fpn_nuclei.py"
TOP1_CONFIG = "configs/SAPNet/solov2_mnv2_fpn_nuclei_top1.py"
GT_CONFIG = "configs/SAPNet/solov2_mnv2_fpn_nuclei.py"
FULL_SEEDS = (0, 1)


def _train_and_evaluate(runner: DemoRunner, config: str, run_dir: str, seed: int, props: str, on_train_tiles: bool):
    """Train ``config`` into ``run_dir`` (score-aware results written there); with
    ``on_train_tiles`` also evaluate its final checkpoint on the training tiles (``eval_train/``)."""
    weights = os.path.join(run_dir, "model_final.pth")
    proposals = [f"dataloader.train.dataset.proposal_file={props}"] if config != GT_CONFIG else []
    runner.train(config, f"train.output_dir={run_dir}", f"train.seed={seed}",
                 f"dataloader.evaluator.output_dir={run_dir}", *proposals, outputs=[weights])
    if on_train_tiles:
        ev = os.path.join(run_dir, "eval_train")
        threads = [f"--num-threads={runner.num_threads}"] if runner.num_threads else []
        runner.tool("train_net.py", "--eval-only", *threads, "--config-file", config,
                    f"train.init_checkpoint={weights}", f"train.output_dir={ev}",
                    "dataloader.test.dataset.names=pointdet_nuclei_train", f"dataloader.evaluator.output_dir={ev}",
                    *proposals, outputs=[os.path.join(ev, "score_aware_segm.json")])


def sapnet_chain(runner: DemoRunner) -> None:
    from pointdet.data.demo import demo_root

    ann_dir = os.path.join(demo_root(), "nuclei", "annotations")
    image_root = os.path.join(demo_root(), "nuclei", "images")
    full = os.path.join(ann_dir, "nuclei_train.json")
    coarse = os.path.join(ann_dir, "nuclei_train_coarse_points_s0.json")
    out = runner.stage_dir("sapnet")
    props = os.path.join(out, "nuclei_train_coarse_points_s0_classical.json")
    seeds = FULL_SEEDS if runner.full else (0,)
    runner.tool("make_weak_annotations.py", "coarse-points", "--input", full, "--seed", "0", outputs=[coarse])
    runner.tool("sam_proposals.py", "--source", "classical", "--annotations", coarse, "--image-root", image_root,
                "--output", props, "--no-progress", outputs=[props])
    selected = {"top1": os.path.join(out, "top1_boxes.json")}
    runner.tool("sapnet_select.py", "top1", "--input", coarse, "--proposals", props, "--output", selected["top1"],
                "--quiet", outputs=[selected["top1"]])
    for seed in seeds:
        run = os.path.join(out, f"sapnet_s{seed}")
        _train_and_evaluate(runner, SAPNET_CONFIG, run, seed, props, on_train_tiles=runner.full)
        path = selected[f"sapnet_s{seed}"] = os.path.join(out, f"sapnet_s{seed}_boxes.json")
        runner.tool("sapnet_select.py", "sapnet", "--config-file", SAPNET_CONFIG, "--weights",
                    os.path.join(run, "model_final.pth"), "--input", coarse, "--image-root", image_root,
                    "--proposals", props, "--output", path, "--quiet", "--vis-dir",
                    os.path.join(out, f"pictures_s{seed}"), outputs=[path])
    for name, path in selected.items():
        metrics = os.path.join(out, f"{name}_boxes_quality.json")
        runner.tool("evaluate_annotations.py", "boxes", path, full, "--output-json", metrics, outputs=[metrics])
    if runner.full:
        for seed in seeds:
            _train_and_evaluate(runner, TOP1_CONFIG, os.path.join(out, f"solov2_top1_s{seed}"), seed, props, True)
        _train_and_evaluate(runner, GT_CONFIG, os.path.join(out, "solov2_gt_s0"), 0, props, True)
    if not runner.dry_run:
        print_sapnet_summary(out, seeds, runner.full)


def _score_aware_segm(path: str) -> Optional[Dict[str, float]]:
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)["metrics"]


def _cell(m: Optional[Dict[str, float]], key: str) -> str:
    """``AP@S_0`` (threshold 0) is COCO's AP; ``AP@S`` the score-aware AP."""
    return "n/a" if m is None or m.get(key) is None else f"{m[key]:.1f}"


def print_sapnet_summary(out: str, seeds: Sequence[int] = (0,), full: bool = False) -> None:
    """CorLoc / mIoU_box of the top-1 and the SAPNet pseudo boxes; with ``full``, the mask AP and
    the score-aware AP@S (percent) of SAPNet and of SOLOv2 on the top-1 / true masks on the
    validation tile and on the training tiles (the true-mask run's training set)."""
    print("\n[demo] SAPNet on the nuclei demo (classical flood-fill proposals, NOT SAM)")
    print("[demo] | pseudo boxes (108 training nuclei) | CorLoc | mIoU_box |")
    print("[demo] |---|---|---|")
    for name in ["top1"] + [f"sapnet_s{s}" for s in seeds]:
        with open(os.path.join(out, f"{name}_boxes_quality.json")) as f:
            m = json.load(f)
        m = m.get("metrics", m)
        print(f"[demo] | {name} | {m['corloc']:.3f} | {m['miou_box']:.3f} |")
    if not full:
        return
    runs = [f"sapnet_s{s}" for s in seeds] + [f"solov2_top1_s{s}" for s in seeds] + ["solov2_gt_s0"]
    print("\n[demo] mask AP and score-aware AP@S (percent): validation tile (28 nuclei) | training tiles "
          "(108 nuclei, true masks unseen)")
    print("[demo] | run | val AP | val AP@S | train AP | train AP@S |")
    print("[demo] |---|---|---|---|---|")
    for r in runs:
        val = _score_aware_segm(os.path.join(out, r, "score_aware_segm.json"))
        tr = _score_aware_segm(os.path.join(out, r, "eval_train", "score_aware_segm.json"))
        cells = [_cell(val, "AP@S_0"), _cell(val, "AP@S"), _cell(tr, "AP@S_0"), _cell(tr, "AP@S")]
        label = r + (" (trained on the true training masks)" if r.startswith("solov2_gt") else "")
        print(f"[demo] | {label} | " + " | ".join(cells) + " |")


@register_stage("sapnet", "SAPNet on the nuclei: classical prompted-mask proposals -> SAPNet -> mIoU_box of "
                          "top-1 vs SAPNet pseudo boxes (--full: seeds 0 and 1, + SOLOv2 on top-1 and on GT masks, "
                          "mask AP; about 3 hours on 2 CPU cores)", default=False)
def stage_sapnet(runner: DemoRunner) -> None:
    sapnet_chain(runner)
