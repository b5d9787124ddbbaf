"""Demo stages of CPR (Yu et al. CVPR 2022): coarse points -> CPRNet -> refined points.

Short form (``cpr``, part of ``make demo``): on the stardist nuclei, seeded coarse points, a
CPRNet trained with its config's schedule, whose refinement hook writes the refined training
file; RSV (CPR Eq. 13) and relative-position heat-maps (CPR Fig. 6) of the coarse and the
refined points. Full form (``--full``, and always for ``cpr_trees``): also two P2PNet
localizers, trained on the coarse and on the refined points, scored with point mAP.
"""
import json
import os

from .runner import DemoRunner, register_stage

__all__ = ["cpr_chain"]


def cpr_chain(runner: DemoRunner, data: str, with_localizers: bool) -> None:
    """The CPR chain on one demo split: ``data`` is "nuclei" or "trees" (configs
    ``configs/CPR/*_{data}*.py``)."""
    from pointdet.data.demo import demo_root

    ann_dir = os.path.join(demo_root(), data, "annotations")
    full = os.path.join(ann_dir, f"{data}_train.json")
    coarse = os.path.join(ann_dir, f"{data}_train_coarse_points_s0.json")
    out = runner.stage_dir(f"cpr_{data}")
    # CPRNet's RefinePointsHook writes the refined training file into its run's folder
    refined = os.path.join(out, "cprnet", f"{data}_train_coarse_points_s0_cpr_refined.json")
    runner.tool("make_weak_annotations.py", "coarse-points", "--input", full, "--seed", "0", outputs=[coarse])
    cpr_iters = runner.option("cpr_iters")
    p2p_iters = runner.option("p2p_iters")
    runner.train(
        f"configs/CPR/cprnet_mnv2_fpn_{data}.py",
        f"train.output_dir={out}/cprnet",
        *([f"train.max_iter={cpr_iters}", f"train.checkpointer.period={cpr_iters}"] if cpr_iters else []),
        outputs=[refined],
    )
    for name, points in (("coarse", coarse), ("refined", refined)):  # RSV + CPR Fig. 6 heat-maps
        heatmap = f"{out}/{name}_relative_positions.png"
        runner.tool("evaluate_annotations.py", "rsv", points, full, "--heatmap", heatmap, "--bins", "25",
                    outputs=[heatmap])
    if with_localizers:
        for name, extra in (("coarse", []), ("refined", [f"dataloader.train.dataset.json_file={refined}"])):
            runner.train(
                f"configs/CPR/p2pnet_mnv2_fpn_{data}_{name}.py",
                f"train.output_dir={out}/p2pnet_{name}",
                *([f"train.max_iter={p2p_iters}", f"train.eval_period={p2p_iters}",
                   f"train.checkpointer.period={p2p_iters}"] if p2p_iters else []),
                *extra,
                outputs=[f"{out}/p2pnet_{name}/point_ap_metrics.json"],
            )
    if not runner.dry_run:
        print_cpr_summary(out, refined, data, with_localizers)


def print_cpr_summary(out: str, refined: str, data: str, with_localizers: bool) -> None:
    """Print RSV before/after refinement and, with the localizers, their point mAP side by side."""
    with open(refined) as f:
        stats = json.load(f)["info"]["statistics"]
    print(f"\n[demo] CPR on the {data} demo")
    print(f"[demo] RSV of the training points (lower is better): coarse {stats['rsv_before']:.4f} -> "
          f"refined {stats['rsv_after']:.4f}")
    if not with_localizers:
        print("[demo] (--full also trains P2PNet on the coarse and on the refined points)")
        return
    print(f"[demo] point mAP on pointdet_{data}_val")
    print("[demo] | P2PNet trained on | mAP@0.5 | mAP@1.0 | mAP@2.0 |")
    print("[demo] |---|---|---|---|")
    for name in ("coarse", "refined"):
        with open(f"{out}/p2pnet_{name}/point_ap_metrics.json") as f:
            m = json.load(f)["metrics"]
        print(f"[demo] | {name} points | {m['AP@0.5']:.2f} | {m['AP@1.0']:.2f} | {m['AP@2.0']:.2f} |")


@register_stage("cpr", "CPR on the nuclei: coarse points -> CPRNet -> refined points, RSV before/after "
                       "(--full: + P2PNet on coarse vs refined points, point mAP)")
def stage_cpr(runner: DemoRunner) -> None:
    cpr_chain(runner, "nuclei", with_localizers=runner.full)


@register_stage("cpr_trees", "the full CPR chain on the aerial tree tiles (CPRNet 1,200 and P2PNets "
                             "1,000 iterations; about an hour on 2 CPU cores)", default=False)
def stage_cpr_trees(runner: DemoRunner) -> None:
    cpr_chain(runner, "trees", with_localizers=True)
