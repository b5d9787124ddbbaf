#!/usr/bin/env python
"""
Train or evaluate any pointdet LazyConfig experiment (``configs/**/*.py``).

Usage::

    python tools/train_net.py --config-file configs/demo/retinanet_mnv2_fpn_trees.py
    python tools/train_net.py --config-file X.py --eval-only train.init_checkpoint=out/model_final.pth
    python tools/train_net.py --config-file X.py --resume              # continue from output_dir
    python tools/train_net.py --config-file X.py --num-gpus 2          # 2 processes (gloo on CPU)
    python tools/train_net.py --config-file X.py train.max_iter=10 dataloader.train.total_batch_size=2

A config provides ``model``, ``dataloader.{train,test,evaluator}``, ``optimizer``,
``lr_multiplier`` and ``train`` (see ``configs/common/train.py``); the keys are the same as in
Detectron2's ``tools/lazyconfig_train_net.py``. ``dataloader.evaluator`` may be a single
evaluator or a list (wrapped in ``DatasetEvaluators``). An optional ``hooks`` node (a dict
``{name: L(SomeHook)(...)}`` or a list) adds trainer hooks, e.g. CPR's ``RefinePointsHook``.

Devices: ``train.device`` ("cuda" when available, else "cpu", in ``configs/common/train.py``).
Multi-process runs use Detectron2's ``launch``: NCCL with CUDA, gloo on CPU-only machines,
where ``--num-gpus N`` spawns N CPU processes. Mixed precision (``train.amp.enabled``) needs
CUDA and is switched off with a warning on CPU.
"""
import logging
import os
import sys
from collections.abc import Mapping

import torch
from omegaconf import ListConfig

# Make ``python tools/train_net.py`` work from a checkout without installing the repository root.
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

import pointdet  # noqa: E402,F401  (registers pointdet's datasets, models and heads)
from detectron2.checkpoint import DetectionCheckpointer  # noqa: E402
from detectron2.config import LazyConfig, instantiate  # noqa: E402
from detectron2.engine import (  # noqa: E402
    AMPTrainer,
    SimpleTrainer,
    default_argument_parser,
    default_setup,
    default_writers,
    hooks,
    launch,
)
from detectron2.engine import HookBase  # noqa: E402
from detectron2.engine.defaults import create_ddp_model  # noqa: E402
from detectron2.evaluation import (  # noqa: E402
    DatasetEvaluator,
    DatasetEvaluators,
    inference_on_dataset,
    print_csv_format,
)
from detectron2.utils import comm  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402

__all__ = ["build_evaluator", "build_extra_hooks", "do_test", "do_train", "main", "get_parser", "resolve_device"]

logger = logging.getLogger("detectron2")


def resolve_device(cfg):
    """
    Return the ``torch.device`` to train/evaluate on, from ``cfg.train.device``.

    Raises a clear error when CUDA is requested on a machine without it, and switches off
    ``train.amp.enabled`` on CPU (Detectron2's ``AMPTrainer`` needs CUDA).
    """
    device = torch.device(cfg.train.get("device", "cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"train.device={cfg.train.device!r} but CUDA is not available; "
            "run with train.device=cpu"
        )
    amp = cfg.train.get("amp", None)
    if device.type != "cuda" and amp is not None and amp.get("enabled", False):
        logger.warning("train.amp.enabled=True needs CUDA; training in float32 on %s.", device)
        amp.enabled = False
    return device


def build_evaluator(cfg):
    """
    Instantiate ``cfg.dataloader.evaluator`` (one evaluator config or a list of them) as a
    single :class:`DatasetEvaluator`; returns None when the config has no evaluator.
    """
    if "evaluator" not in cfg.dataloader or cfg.dataloader.evaluator is None:
        return None
    evaluator = instantiate(cfg.dataloader.evaluator)
    if isinstance(evaluator, (list, tuple, ListConfig)):  # instantiate keeps ListConfig
        for e in evaluator:
            if not isinstance(e, DatasetEvaluator):
                raise TypeError(f"dataloader.evaluator contains {type(e)}, not a DatasetEvaluator")
        evaluator = DatasetEvaluators(list(evaluator))
    elif not isinstance(evaluator, DatasetEvaluator):
        raise TypeError(f"dataloader.evaluator built {type(evaluator)}, not a DatasetEvaluator")
    return evaluator


def build_extra_hooks(cfg):
    """
    Instantiate the optional ``cfg.hooks``: a dict ``{name: hook config}`` (registered in
    sorted name order) or a list of hook configs, each building a
    :class:`detectron2.engine.HookBase` (e.g. pointdet's ``RefinePointsHook``). They run after
    the evaluation hook and before the metric writers; a hook reaches the model through
    ``self.trainer.model``.
    """
    spec = cfg.get("hooks", None)
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        items = [(str(k), spec[k]) for k in sorted(spec.keys())]
    elif isinstance(spec, (list, tuple, ListConfig)):
        items = [(f"hooks[{i}]", h) for i, h in enumerate(spec)]
    else:
        raise TypeError(f"cfg.hooks must be a dict or a list of hook configs, got {type(spec)}")
    built = []
    for name, hook_cfg in items:
        hook = instantiate(hook_cfg)
        if not isinstance(hook, HookBase):
            raise TypeError(f"cfg.hooks: {name} built {type(hook)}, not a detectron2 HookBase")
        built.append(hook)
    return built


def do_test(cfg, model):
    """
    Evaluate ``model`` on ``cfg.dataloader.test`` with ``cfg.dataloader.evaluator``.

    Returns:
        dict: ``{task: {metric: value}}`` on the main process (empty on the others, or when
        the config defines no evaluator).
    """
    evaluator = build_evaluator(cfg)
    if evaluator is None:
        logger.warning("No dataloader.evaluator in the config: skipping evaluation.")
        return {}
    ret = inference_on_dataset(model, instantiate(cfg.dataloader.test), evaluator)
    if comm.is_main_process() and ret:
        print_csv_format(ret)
    return ret


def do_train(args, cfg):
    """
    Train ``cfg.model`` as Detectron2's ``lazyconfig_train_net.py`` does.

    Args:
        args: parsed command line (uses ``args.resume``).
        cfg: a LazyConfig with ``model``, ``dataloader.{train,test,evaluator}``, ``optimizer``,
            ``lr_multiplier`` and ``train`` (``output_dir``, ``init_checkpoint``, ``max_iter``,
            ``amp.enabled``, ``ddp``, ``checkpointer``, ``eval_period``, ``log_period``, ``device``).
    """
    device = resolve_device(cfg)
    model = instantiate(cfg.model)
    logger.info("Model:\n{}".format(model))
    model.to(device)

    cfg.optimizer.params.model = model
    optim = instantiate(cfg.optimizer)

    train_loader = instantiate(cfg.dataloader.train)

    ddp_kwargs = dict(cfg.train.get("ddp", {}))
    if device.type != "cuda":
        ddp_kwargs["device_ids"] = None  # CPU modules: DDP takes no device ids
    model = create_ddp_model(model, **ddp_kwargs)
    use_amp = cfg.train.get("amp", {}).get("enabled", False)
    trainer = (AMPTrainer if use_amp else SimpleTrainer)(model, train_loader, optim)
    checkpointer = DetectionCheckpointer(
        model,
        cfg.train.output_dir,
        optimizer=optim,
        trainer=trainer,
    )
    trainer.register_hooks(
        [
            hooks.IterationTimer(),
            hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
            hooks.PeriodicCheckpointer(checkpointer, **cfg.train.checkpointer)
            if comm.is_main_process()
            else None,
            hooks.EvalHook(cfg.train.eval_period, lambda: do_test(cfg, model)),
            *build_extra_hooks(cfg),
            hooks.PeriodicWriter(
                default_writers(cfg.train.output_dir, cfg.train.max_iter),
                period=cfg.train.log_period,
            )
            if comm.is_main_process()
            else None,
        ]
    )

    checkpointer.resume_or_load(cfg.train.init_checkpoint, resume=args.resume)
    if args.resume and checkpointer.has_checkpoint():
        # the checkpoint stores the iteration that just finished
        start_iter = trainer.iter + 1
    else:
        start_iter = 0
    trainer.train(start_iter, cfg.train.max_iter)
    return trainer


def main(args):
    """Entry point of one process: load the config, apply overrides, then train or evaluate."""
    if getattr(args, "num_threads", 0):
        torch.set_num_threads(args.num_threads)
    if not os.path.isfile(args.config_file):
        raise FileNotFoundError(f"--config-file {args.config_file!r} does not exist")
    cfg = LazyConfig.load(args.config_file)
    cfg = LazyConfig.apply_overrides(cfg, args.opts)
    default_setup(cfg, args)
    # default_setup configures the "detectron2" and "fvcore" loggers; pointdet's hooks and
    # evaluators log under "pointdet" (e.g. RefinePointsHook's RSV before/after)
    setup_logger(cfg.train.output_dir, distributed_rank=comm.get_rank(), name="pointdet", abbrev_name="pointdet")

    if args.eval_only:
        device = resolve_device(cfg)
        model = instantiate(cfg.model)
        model.to(device)
        model = create_ddp_model(model, **({} if device.type == "cuda" else {"device_ids": None}))
        DetectionCheckpointer(model).load(cfg.train.init_checkpoint)
        return do_test(cfg, model)
    do_train(args, cfg)
    return None


def get_parser():
    """Detectron2's default argument parser plus ``--num-threads``."""
    parser = default_argument_parser()
    parser.add_argument(
        "--num-threads",
        type=int,
        default=0,
        help="torch intra-op threads per process (0: PyTorch's default); useful with "
        "--num-gpus N on a CPU machine",
    )
    return parser


def invoke_main() -> None:
    args = get_parser().parse_args()
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )


if __name__ == "__main__":
    invoke_main()  # pragma: no cover
