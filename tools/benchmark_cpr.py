#!/usr/bin/env python
"""Benchmark CPRNet against its own backbone (+FPN), side by side in one run.

Measures, on the same synthetic batch (random images, random annotated points):

* training step time (forward + backward + SGD step) of the whole CPRNet vs. the backbone+FPN
  alone (forward of the used level, backward of its mean), interleaved step by step so that
  machine load affects both alike; median over --steps;
* peak memory of each: CUDA ``max_memory_allocated`` on GPU; on CPU (Linux) the increase of
  the peak RSS over the RSS before training, during 2 steps in a fresh process per variant
  (model built first, peak reset through /proc/self/clear_refs);
* refinement throughput (images/s) of ``CPRNet.refine`` in eval mode.

Example:
  python tools/benchmark_cpr.py --config-file configs/CPR/cprnet_mnv2_fpn_trees.py \
      --batch-size 2 --image-size 384 --points 30 --steps 5
"""
import argparse
import os
import statistics
import sys
import time

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pointdet.utils.cli import run_cli  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, help="LazyConfig whose `model` is a CPRNet")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--image-size", type=int, default=384, help="square synthetic images (px)")
    p.add_argument("--points", type=int, default=30, help="annotated points per image")
    p.add_argument("--steps", type=int, default=5, help="timed steps per variant (after 1 warm-up)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="LazyConfig overrides key=value")
    return p


def build_model(config_file, opts, device):
    """The CPRNet of a LazyConfig (random init / the config's backbone weights), training mode."""
    from pointdet.engine.model_loading import load_model_from_config

    model, _ = load_model_from_config(config_file, None, opts, device, require_method="refine")
    return model


def synthetic_batch(model, batch_size, size, points, seed=0):
    import torch
    from detectron2.structures import Instances

    g = torch.Generator().manual_seed(seed)
    batch = []
    for i in range(batch_size):
        inst = Instances((size, size))
        inst.gt_points = torch.rand(points, 2, generator=g) * size
        inst.gt_classes = torch.randint(0, model.num_classes, (points,), generator=g)
        inst.gt_ann_ids = torch.arange(points) + 1 + i * points
        img = torch.randint(0, 256, (3, size, size), generator=g).float()
        batch.append({"image": img, "instances": inst, "height": size, "width": size, "image_id": i + 1})
    return batch


def _sync(device):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def step_fns(model, batch, device):
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


def _proc_status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _child(kind, args, q):
    """In a fresh process: build the model, reset the peak RSS, run 2 steps of ``kind``; put
    (peak RSS - RSS before the steps) in MB on ``q``."""
    import torch

    try:
        if args.threads:
            torch.set_num_threads(args.threads)
        model = build_model(args.config_file, args.opts, args.device)
        batch = synthetic_batch(model, args.batch_size, args.image_size, args.points)
        cpr_step, backbone_step = step_fns(model, batch, args.device)
        fn = {"cpr": cpr_step, "backbone": backbone_step}[kind]
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (Linux)
        before = _proc_status_kb("VmRSS")
        for _ in range(2):
            fn()
        q.put((_proc_status_kb("VmHWM") - before) / 1024.0)
    except Exception as e:  # reported by the parent
        q.put(f"{type(e).__name__}: {e}")


def cpu_peak_memory(args):
    """Peak RSS increase (MB) of a CPRNet step and of a backbone+FPN step, each in a fresh process."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out = {}
    for kind in ("backbone", "cpr"):
        q = ctx.Queue()
        p = ctx.Process(target=_child, args=(kind, args, q))
        p.start()
        val = q.get()
        p.join()
        if isinstance(val, str):
            raise OSError(f"memory child '{kind}': {val}")
        out[kind] = val
    return out


def main(argv=None):
    args = build_parser().parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_model(args.config_file, args.opts, args.device)
    batch = synthetic_batch(model, args.batch_size, args.image_size, args.points)
    cpr_step, backbone_step = step_fns(model, batch, args.device)
    cpr_step()
    backbone_step()  # warm-up
    t_cpr, t_bb = [], []
    for _ in range(args.steps):
        for fn, acc in ((backbone_step, t_bb), (cpr_step, t_cpr)):
            _sync(args.device)
            t0 = time.perf_counter()
            fn()
            _sync(args.device)
            acc.append(time.perf_counter() - t0)

    model.eval()
    with torch.no_grad():
        model.refine(batch)
        _sync(args.device)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            model.refine(batch)
        _sync(args.device)
        refine_ips = args.steps * len(batch) / (time.perf_counter() - t0)

    mem = None
    if not args.no_memory:
        if str(args.device).startswith("cuda"):
            mem = {}
            for kind, fn in (("backbone", backbone_step), ("cpr", cpr_step)):
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                fn()
                mem[kind] = torch.cuda.max_memory_allocated() / 2**20
        else:
            try:
                mem = cpu_peak_memory(args)
            except OSError as e:
                print(f"(no CPU memory measurement: {e})")
                mem = None

    med_cpr, med_bb = statistics.median(t_cpr), statistics.median(t_bb)
    print(
        f"CPRNet benchmark: {args.config_file} | batch {args.batch_size} x {args.image_size}px, "
        f"{args.points} points/image, R={model.bag_radius}, stride {model.stride:g}, device {args.device}, "
        f"threads {torch.get_num_threads()}, {args.steps} steps"
    )
    print(f"| {'measure':<34} | {'backbone+FPN':>12} | {'CPRNet':>10} | {'ratio':>6} |")
    print(f"|{'-' * 36}|{'-' * 14}|{'-' * 12}|{'-' * 8}|")
    print(f"| {'train step, median (s)':<34} | {med_bb:>12.3f} | {med_cpr:>10.3f} | {med_cpr / med_bb:>6.2f} |")
    if mem is not None:
        label = "peak CUDA memory (MB)" if str(args.device).startswith("cuda") else "peak RSS increase in step (MB)"
        ratio = mem["cpr"] / mem["backbone"] if mem["backbone"] > 0 else float("nan")
        print(f"| {label:<34} | {mem['backbone']:>12.0f} | {mem['cpr']:>10.0f} | {ratio:>6.2f} |")
    print(f"refinement throughput: {refine_ips:.2f} images/s ({args.points} points/image)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
