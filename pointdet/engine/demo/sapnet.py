"""Demo stage of SAPNet (Wei et al. CVPR 2024) on the stardist nuclei (the demo's only masks).

Coarse points -> classical prompted-mask proposals (OpenCV flood fill, a labelled stand-in for
SAM, whose weights cannot be obtained here) -> SAPNet trained with its config's schedule ->
pseudo boxes of the training set from the top-1 proposal and from SAPNet's selection ->
CorLoc / mIoU_box of both against the true boxes (paper Table 7). ``--full`` also trains the
SOLOv2 baselines on the top-1 masks and on the GT masks (mask AP in their training logs).
Not a default stage: SAPNet's 300 CPU iterations take far longer than the demo's budget.
"""
import json
import os

from .runner import DemoRunner, register_stage

__all__ = ["sapnet_chain"]


def sapnet_chain(runner: DemoRunner) -> None:
    from pointdet.data.demo import demo_root

    ann_dir = os.path.join(demo_root(), "nuclei", "annotations")
    image_root = os.path.join(demo_root(), "nuclei", "images")
    full = os.path.join(ann_dir, "nuclei_train.json")
    coarse = os.path.join(ann_dir, "nuclei_train_coarse_points_s0.json")
    out = runner.stage_dir("sapnet")
    props = os.path.join(out, "nuclei_train_coarse_points_s0_classical.json")
    weights = os.path.join(out, "sapnet", "model_final.pth")
    config = "configs/SAPNet/sapnet_mnv2_fpn_nuclei.py"
    runner.tool("make_weak_annotations.py", "coarse-points", "--input", full, "--seed", "0", outputs=[coarse])
    runner.tool("sam_proposals.py", "--source", "classical", "--annotations", coarse, "--image-root", image_root,
                "--output", props, "--no-progress", outputs=[props])
    runner.train(config, f"train.output_dir={out}/sapnet", f"dataloader.train.dataset.proposal_file={props}",
                 outputs=[weights])
    selected = {"top1": os.path.join(out, "top1_boxes.json"), "sapnet": os.path.join(out, "sapnet_boxes.json")}
    runner.tool("sapnet_select.py", "top1", "--input", coarse, "--proposals", props, "--output", selected["top1"],
                "--quiet", outputs=[selected["top1"]])
    runner.tool("sapnet_select.py", "sapnet", "--config-file", config, "--weights", weights, "--input", coarse,
                "--image-root", image_root, "--proposals", props, "--output", selected["sapnet"], "--quiet",
                "--vis-dir", os.path.join(out, "pictures"), outputs=[selected["sapnet"]])
    for name, path in selected.items():
        metrics = os.path.join(out, f"{name}_boxes_quality.json")
        runner.tool("evaluate_annotations.py", "boxes", path, full, "--output-json", metrics, outputs=[metrics])
    if runner.full:
        runner.train("configs/SAPNet/solov2_mnv2_fpn_nuclei_top1.py", f"train.output_dir={out}/solov2_top1",
                     f"dataloader.train.dataset.proposal_file={props}",
                     outputs=[os.path.join(out, "solov2_top1", "model_final.pth")])
        runner.train("configs/SAPNet/solov2_mnv2_fpn_nuclei.py", f"train.output_dir={out}/solov2_gt",
                     outputs=[os.path.join(out, "solov2_gt", "model_final.pth")])
    if not runner.dry_run:
        print_sapnet_summary(out)


def print_sapnet_summary(out: str) -> None:
    """Print CorLoc / mIoU_box of the top-1 and the SAPNet pseudo boxes side by side."""
    print("\n[demo] SAPNet on the nuclei demo (classical flood-fill proposals, NOT SAM)")
    print("[demo] | pseudo boxes | CorLoc | mIoU_box |")
    print("[demo] |---|---|---|")
    for name in ("top1", "sapnet"):
        with open(os.path.join(out, f"{name}_boxes_quality.json")) as f:
            m = json.load(f)
        m = m.get("metrics", m)
        print(f"[demo] | {name} | {m['corloc']:.3f} | {m['miou_box']:.3f} |")


@register_stage("sapnet", "SAPNet on the nuclei: classical prompted-mask proposals -> SAPNet -> mIoU_box of "
                          "top-1 vs SAPNet pseudo boxes (--full: + SOLOv2 on top-1 and on GT masks)", default=False)
def stage_sapnet(runner: DemoRunner) -> None:
    sapnet_chain(runner)
