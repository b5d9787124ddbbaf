#!/usr/bin/env python
"""Run pointdet's demo pipelines on the embedded demo data, stage by stage.

Every stage is an ordinary pointdet command; this script prints each command before running
it, so the sequence can be copied and run by hand (or on your own data; ``--dry-run`` only
prints). A stage whose outputs already exist is skipped, so an interrupted demo resumes where
it stopped (``--force`` reruns everything). Each run uses its config's schedule (the one
behind projects/<Paper>/README.md's demo rows) unless ``--cpr-iters`` / ``--p2p-iters`` say
otherwise.

Stages (default: cpr):
  detector  a box-supervised RetinaNet (MobileNetV2-FPN) on the aerial-tree tiles: the
            Detectron2 baseline every weakly supervised method is compared with
  cpr       coarse points -> CPRNet -> refined points -> P2PNet -> point mAP (CPR paper), on
            the nuclei (3 training tiles; ~10 min on 2 CPU cores)
  cpr_trees the same on the aerial tree tiles (60 training tiles, 1,049 crowns; CPRNet 1,200
            and P2PNets 1,000 iterations, about an hour on 2 CPU cores)
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


DRY_RUN = False  # set by --dry-run: print the commands, run nothing


def _complete(path):
    """An output counts as done when it exists, and a checkpoint only when it loads completely."""
    if path.endswith((".pth", ".pkl")):
        from pointdet.engine.checkpoint import is_complete_checkpoint

        return is_complete_checkpoint(path)
    return os.path.exists(path)


def _run(cmd, outputs, force):
    """Run ``cmd`` (a list) unless every path in ``outputs`` is complete; echo it first.

    Training commands get ``--resume`` unless ``force``: an interrupted run continues from its
    last checkpoint.
    """
    if "tools/train_net.py" in cmd and not force:
        cmd = cmd[:2] + ["--resume"] + cmd[2:]
    if outputs and not force and all(_complete(o) for o in outputs):
        print(f"[demo] skip (outputs exist): {' '.join(shlex.quote(c) for c in cmd)}", flush=True)
        return
    print(f"\n[demo] $ {' '.join(shlex.quote(c) for c in cmd)}", flush=True)
    if DRY_RUN:
        return
    t0 = time.time()
    subprocess.run(cmd, cwd=REPO, check=True)
    print(f"[demo] done in {time.time() - t0:.0f} s", flush=True)


def stage_detector(args):
    out = os.path.join(args.output_dir, "retinanet_trees")
    _run(
        [sys.executable, "tools/train_net.py", "--config-file", "configs/demo/retinanet_mnv2_fpn_trees.py",
         f"train.output_dir={out}"],
        [os.path.join(out, "model_final.pth")],
        args.force,
    )


def stage_cpr(args, data="nuclei"):
    """CPR on one demo split: ``data`` is "nuclei" or "trees" (configs ``configs/CPR/*_{data}*.py``)."""
    from pointdet.data.demo import demo_root

    ann_dir = os.path.join(demo_root(), data, "annotations")
    full = os.path.join(ann_dir, f"{data}_train.json")
    coarse = os.path.join(ann_dir, f"{data}_train_coarse_points_s0.json")
    out = os.path.join(args.output_dir, f"cpr_{data}")
    # CPRNet's RefinePointsHook writes the refined training file into its run's folder
    refined = os.path.join(out, "cprnet", f"{data}_train_coarse_points_s0_cpr_refined.json")
    py = sys.executable
    threads = [f"--num-threads={args.num_threads}"] if args.num_threads else []
    _run([py, "tools/make_weak_annotations.py", "coarse-points", "--input", full, "--seed", "0"], [coarse], args.force)
    cpr_iters = [f"train.max_iter={args.cpr_iters}", f"train.checkpointer.period={args.cpr_iters}"] if args.cpr_iters else []
    p2p_iters = (
        [f"train.max_iter={args.p2p_iters}", f"train.eval_period={args.p2p_iters}", f"train.checkpointer.period={args.p2p_iters}"]
        if args.p2p_iters
        else []
    )
    # CPRNet; its RefinePointsHook writes the refined file (and prints RSV) at the end of training
    _run(
        [py, "tools/train_net.py", *threads, "--config-file", f"configs/CPR/cprnet_mnv2_fpn_{data}.py",
         f"train.output_dir={out}/cprnet", *cpr_iters],
        [refined],
        args.force,
    )
    for name, points in (("coarse", coarse), ("refined", refined)):  # RSV + CPR Fig. 6 heat-maps
        _run(
            [py, "tools/evaluate_annotations.py", "rsv", points, full,
             "--heatmap", f"{out}/{name}_relative_positions.png", "--bins", "25"],  # ~1,000 points: coarse bins
            [f"{out}/{name}_relative_positions.png"],
            args.force,
        )
    for name, cfg, extra in (
        ("coarse", f"p2pnet_mnv2_fpn_{data}_coarse", []),
        ("refined", f"p2pnet_mnv2_fpn_{data}_refined", [f"dataloader.train.dataset.json_file={refined}"]),
    ):
        _run(
            [py, "tools/train_net.py", *threads, "--config-file", f"configs/CPR/{cfg}.py",
             f"train.output_dir={out}/p2pnet_{name}", *p2p_iters, *extra],
            [f"{out}/p2pnet_{name}/point_ap_metrics.json"],
            args.force,
        )
    if not DRY_RUN:
        _summarize_cpr(out, refined, data)


def _summarize_cpr(out, refined, data):
    """Print RSV before/after refinement and the two P2PNets' point mAP side by side."""
    with open(refined) as f:
        stats = json.load(f)["info"]["statistics"]
    rows = []
    for name in ("coarse", "refined"):
        with open(f"{out}/p2pnet_{name}/point_ap_metrics.json") as f:
            m = json.load(f)["metrics"]
        rows.append((name, m["AP@0.5"], m["AP@1.0"], m["AP@2.0"]))
    print(f"\n[demo] CPR on the {data} demo (point mAP on pointdet_{data}_val)")
    print(f"[demo] RSV of the training points: coarse {stats['rsv_before']:.4f} -> refined {stats['rsv_after']:.4f}")
    print("[demo] | P2PNet trained on | mAP@0.5 | mAP@1.0 | mAP@2.0 |")
    print("[demo] |---|---|---|---|")
    for name, a, b, c in rows:
        print(f"[demo] | {name} points | {a:.2f} | {b:.2f} | {c:.2f} |")


STAGES = {
    "cpr": stage_cpr,
    "cpr_trees": lambda args: stage_cpr(args, "trees"),
    "detector": stage_detector,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", default="cpr", help="comma-separated, from: " + ", ".join(STAGES))
    parser.add_argument("--output-dir", default="output/demo")
    parser.add_argument("--force", action="store_true", help="rerun stages whose outputs exist")
    parser.add_argument("--cpr-iters", type=int, default=0, help="CPRNet iterations (0: the config's)")
    parser.add_argument("--p2p-iters", type=int, default=0, help="P2PNet iterations (0: the config's)")
    parser.add_argument("--num-threads", type=int, default=0, help="torch threads per process (0: default)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    args = parser.parse_args(argv)
    global DRY_RUN
    DRY_RUN = args.dry_run
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; choose from {list(STAGES)}")
    t0 = time.time()
    for s in stages:
        print(f"\n[demo] ===== stage: {s} =====", flush=True)
        STAGES[s](args)
    print(f"\n[demo] all stages done in {time.time() - t0:.0f} s; outputs in {args.output_dir}")


if __name__ == "__main__":
    main()
