"""Demo stage of click supervision (Papadopoulos et al. CVPR 2017) on the aerial tree tiles.

Seeded one- and two-click files of ``trees_train`` (and two clicks of ``trees_val`` as the
calibration split of mu), selective-search proposals (small budget), then three MIL runs that
differ only in their click terms: the reference MIL (no clicks), one click (s_bc, click-centred
initialization) and two clicks (+ s_ba). Prints CorLoc of each after its last iteration (per
object and per image-class pair).
Part of ``make demo``: about 2 minutes on a 2-core CPU with one torch thread (selective search is
most of it).
"""
import json
import os

from .runner import DemoRunner, register_stage

__all__ = ["clickmil_chain", "CLICKMIL_RUNS"]

#: run name -> (clicks file stem suffix, extra overrides, uses mu)
CLICKMIL_RUNS = (("reference", "clicks1", ["mil.use_clicks=False"], False),
                 ("one_click", "clicks1", [], False),
                 ("two_clicks", "clicks2", [], True))


def clickmil_chain(runner: DemoRunner, iterations: int = 3, folds: int = 3, max_proposals: int = 300) -> None:
    from pointdet.data.demo import demo_root

    ann_dir = os.path.join(demo_root(), "trees", "annotations")
    images = os.path.join(demo_root(), "trees", "images")
    full, val = os.path.join(ann_dir, "trees_train.json"), os.path.join(ann_dir, "trees_val.json")
    out = runner.stage_dir("clickmil")
    clicks = {k: os.path.join(out, f"trees_train_{k}_s0.json") for k in ("clicks1", "clicks2")}
    calib = os.path.join(out, "trees_val_clicks2_s0.json")
    for k, n in (("clicks1", "1"), ("clicks2", "2")):
        runner.tool("make_weak_annotations.py", "clicks", "--input", full, "--num-annotators", n, "--seed", "0",
                    "--output", clicks[k], outputs=[clicks[k]])
    runner.tool("make_weak_annotations.py", "clicks", "--input", val, "--num-annotators", "2", "--seed", "0",
                "--output", calib, outputs=[calib])
    mu = os.path.join(out, "mu.json")
    runner.tool("fit_click_area.py", "--clicks", calib, "--gt", val, "--output", mu, outputs=[mu])
    props = os.path.join(out, "trees_train_ss.json")
    runner.tool("click_proposals.py", "--input", clicks["clicks1"], "--image-root", images, "--output", props,
                "--max-proposals", str(max_proposals), outputs=[props, props[:-5] + ".pkl"])
    for name, key, extra, with_mu in CLICKMIL_RUNS:
        boxes = os.path.join(out, name, "boxes.json")
        runner.tool("click_mil.py", "--config-file", "configs/common/models/clickmil_mnv2.py",
                    "--clicks", clicks[key], "--image-root", images, "--proposals", props[:-5] + ".pkl",
                    "--gt", full, "--output", boxes, *(["--mu", mu] if with_mu else []),
                    *([f"--num-threads={runner.num_threads}"] if runner.num_threads else []),
                    f"mil.num_iterations={iterations}", f"mil.num_folds={folds}", *extra, outputs=[boxes])
    if not runner.dry_run:
        print_clickmil_summary(out)


def print_clickmil_summary(out: str) -> None:
    print("\n[demo] click supervision on trees_train (CorLoc per object, IoU >= 0.5; initialization -> last iteration)")
    print("[demo] | run | CorLoc init | CorLoc final | mIoU_box final | CorLoc per image-class pair |")
    print("[demo] |---|---|---|---|---|")
    for name, *_ in CLICKMIL_RUNS:
        with open(os.path.join(out, name, "clickmil_history.json")) as f:
            h = json.load(f)["history"]
        print(f"[demo] | {name} | {100 * h[0]['corloc']:.2f} | {100 * h[-1]['corloc']:.2f} | "
              f"{100 * h[-1]['miou_box']:.2f} | {100 * h[-1]['corloc_image_class']:.2f} |")


@register_stage("clickmil", "click supervision on the trees: selective search, MIL re-localization for the "
                           "reference MIL, one click and two clicks, CorLoc of each (about 2 minutes)")
def stage_clickmil(runner: DemoRunner) -> None:
    clickmil_chain(runner)
