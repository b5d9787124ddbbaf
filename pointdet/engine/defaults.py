"""Training and evaluation of a LazyConfig experiment, as Detectron2's ``lazyconfig_train_net.py``.

``tools/train_net.py`` parses the command line and launches :func:`train_or_evaluate` in each
process. A config provides ``model``, ``dataloader.{train,test,evaluator}``, ``optimizer``,
``lr_multiplier`` and ``train`` (``configs/common/train.py``), and optionally ``hooks``:

* ``train.trainer``: the training loop, a LazyCall of a :class:`detectron2.engine.TrainerBase`
  subclass that takes ``model``, ``data_loader`` and ``optimizer`` keywords (set here) plus
  its own arguments, e.g. ``train.trainer = L(MyTrainer)(my_weight=0.5)``. ``None`` (default):
  Detectron2's :class:`SimpleTrainer`, or :class:`AMPTrainer` when ``train.amp.enabled``.
* ``train.reference_world_size``: the number of processes the recipe was written for; the
  batch size, learning rate and iteration counts are rescaled to the actual number (see
  :func:`scale_to_world_size`). 0 (default) = use the recipe as written.
* ``hooks``: extra trainer hooks, a dict ``{name: L(SomeHook)(...)}`` (sorted by name) or a list.
* ``train.check_image_files``: check that every image of the training and test datasets exists
  before building anything (default True).
* ``train.allow_unsafe_pickle``: let checkpoints be unpickled with Python's full unpickler (see
  :class:`pointdet.engine.checkpoint.SafeDetectionCheckpointer`; default False).

Devices: ``train.device``; on a machine without CUDA, AMP is switched off with a warning and
DistributedDataParallel wraps CPU modules (gloo, ``--num-gpus N`` spawns N CPU processes).
"""
import copy
import logging
import os
from collections.abc import Mapping
from typing import Dict, List, Sequence, Tuple

import torch
from omegaconf import ListConfig

from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog
from detectron2.engine import AMPTrainer, HookBase, SimpleTrainer, TrainerBase, default_setup, default_writers, hooks
from detectron2.engine import default_argument_parser as _d2_argument_parser
from detectron2.engine.defaults import create_ddp_model
from detectron2.evaluation import DatasetEvaluator, DatasetEvaluators, inference_on_dataset, print_csv_format
from detectron2.utils import comm
from detectron2.utils.file_io import PathManager
from detectron2.utils.logger import setup_logger

from pointdet.utils.comm import close_process_group

from .checkpoint import SafeDetectionCheckpointer, is_complete_checkpoint

__all__ = [
    "build_evaluator",
    "build_extra_hooks",
    "build_trainer",
    "check_image_files",
    "default_argument_parser",
    "do_test",
    "do_train",
    "evaluate_checkpoint",
    "resolve_device",
    "scale_to_world_size",
    "setup",
    "train_or_evaluate",
]

logger = logging.getLogger(__name__)


_EPILOG = """
Examples (LazyConfig overrides are key=value):
  tools/train_net.py --config-file configs/demo/retinanet_mnv2_fpn_trees.py train.max_iter=10
  tools/train_net.py --config-file X.py --eval-only train.init_checkpoint=out/model_final.pth
  tools/train_net.py --config-file X.py --resume train.output_dir=out
  tools/train_net.py --config-file X.py --num-gpus 2 --num-threads 1   # 2 processes (gloo on CPU)
"""


def default_argument_parser(epilog=None):
    """Detectron2's default argument parser plus ``--num-threads``, with LazyConfig examples."""
    parser = _d2_argument_parser(epilog or _EPILOG)
    parser.add_argument(
        "--num-threads",
        type=int,
        default=0,
        help="torch intra-op threads per process (0: PyTorch's default); useful with "
        "--num-gpus N on a CPU machine",
    )
    return parser


def resolve_device(cfg) -> torch.device:
    """
    Return the ``torch.device`` to train/evaluate on, from ``cfg.train.device``.

    Raises a clear error when CUDA is requested on a machine without it, and switches off
    ``train.amp.enabled`` on CPU (Detectron2's ``AMPTrainer`` needs CUDA).
    """
    device = torch.device(cfg.train.get("device", "cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"train.device={cfg.train.device!r} but CUDA is not available; run with train.device=cpu")
    amp = cfg.train.get("amp", None)
    if device.type != "cuda" and amp is not None and amp.get("enabled", False):
        logger.warning("train.amp.enabled=True needs CUDA; training in float32 on %s.", device)
        amp.enabled = False
    return device


# ---- world size ---------------------------------------------------------------------------
def _scaled_period(value: int, scale: float) -> int:
    value = int(value)
    return max(1, int(round(value / scale))) if value > 0 else value


def scale_to_world_size(cfg, world_size: int) -> Tuple[object, List[Tuple[str, object, object]]]:
    """
    Rescale a recipe written for ``cfg.train.reference_world_size`` processes to ``world_size``
    processes, keeping the images per process and following the linear scaling rule (Goyal et
    al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017), as Detectron2's
    ``DefaultTrainer.auto_scale_workers``. With ``scale = world_size / reference_world_size``:

    * ``dataloader.train.total_batch_size`` x scale (must be a multiple of the reference size);
    * ``optimizer.lr`` x scale (values interpolated from it, e.g. ``params.base_lr``, follow);
    * ``train.max_iter``, ``train.eval_period`` and ``train.checkpointer.period`` / scale,
      rounded (a positive period stays >= 1). Warm-up and decay steps of ``lr_multiplier`` are
      fractions of ``train.max_iter`` (fvcore schedulers), so they move with it; periods of
      ``cfg.hooks`` are not changed;
    * ``train.reference_world_size`` = ``world_size``, so a saved config is not scaled twice.

    Example: 16 images, lr 0.02, 90,000 iterations for 8 processes become 2 images, lr 0.0025,
    720,000 iterations on 1 process.

    Args:
        cfg: a LazyConfig; not modified.
        world_size (int): the number of training processes.

    Returns:
        (cfg, changes): the scaled copy (``cfg`` itself when ``reference_world_size`` is 0 or
        equals ``world_size``) and a list of ``(key, old value, new value)``.
    """
    ref = int(cfg.train.get("reference_world_size", 0) or 0)
    if ref < 0:
        raise ValueError(f"train.reference_world_size must be >= 0, got {ref}")
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    if ref == 0 or ref == world_size:
        return cfg, []
    loader = cfg.dataloader.train
    if "total_batch_size" not in loader:
        raise ValueError("train.reference_world_size is set but dataloader.train has no total_batch_size")
    if "lr" not in cfg.optimizer:
        raise ValueError("train.reference_world_size is set but the optimizer config has no lr")
    batch = int(loader.total_batch_size)
    if batch % ref != 0:
        raise ValueError(
            f"dataloader.train.total_batch_size={batch} is not a multiple of train.reference_world_size={ref}"
        )
    scale = world_size / ref
    cfg = copy.deepcopy(cfg)
    changes = []

    def _set(node, key, name, value):
        changes.append((name, node[key], value))
        node[key] = value

    _set(cfg.dataloader.train, "total_batch_size", "dataloader.train.total_batch_size", batch // ref * world_size)
    _set(cfg.optimizer, "lr", "optimizer.lr", float(cfg.optimizer.lr) * scale)
    _set(cfg.train, "max_iter", "train.max_iter", max(1, int(round(cfg.train.max_iter / scale))))
    if "eval_period" in cfg.train:
        _set(cfg.train, "eval_period", "train.eval_period", _scaled_period(cfg.train.eval_period, scale))
    if "period" in cfg.train.get("checkpointer", {}):
        _set(cfg.train.checkpointer, "period", "train.checkpointer.period",
             _scaled_period(cfg.train.checkpointer.period, scale))  # fmt: skip
    _set(cfg.train, "reference_world_size", "train.reference_world_size", world_size)
    return cfg, changes


# ---- input checks -------------------------------------------------------------------------
def _dataset_names(loader_cfg) -> List[str]:
    """Registered dataset names of a data-loader config built on ``get_detection_dataset_dicts``."""
    dataset = loader_cfg.get("dataset", None) if isinstance(loader_cfg, Mapping) else None
    names = dataset.get("names", None) if isinstance(dataset, Mapping) else None
    if isinstance(names, str):
        return [names]
    if isinstance(names, (list, tuple, ListConfig)) and all(isinstance(n, str) for n in names):
        return list(names)
    return []


def check_image_files(dataset_names: Sequence[str]) -> None:
    """
    Raise :class:`FileNotFoundError` naming the dataset, the image id and the path of the first
    image whose ``file_name`` does not exist (and how many are missing), for each registered
    dataset in ``dataset_names``.
    """
    for name in dataset_names:
        dicts = DatasetCatalog.get(name)
        missing = [d for d in dicts if not PathManager.isfile(d["file_name"])]
        if missing:
            first = missing[0]
            raise FileNotFoundError(
                f"dataset {name!r}: {len(missing)} of {len(dicts)} image files do not exist; first: "
                f"image id {first.get('image_id')!r}, file {first['file_name']!r}"
            )


def _check_config_images(cfg, splits: Sequence[str]) -> None:
    if not cfg.train.get("check_image_files", True):
        return
    for split in splits:
        loader = cfg.dataloader.get(split, None)
        names = _dataset_names(loader) if loader is not None else []
        if loader is not None and not names:
            logger.info("dataloader.%s names no registered dataset; its image files are not checked.", split)
        check_image_files(names)


# ---- building blocks ----------------------------------------------------------------------
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


def build_extra_hooks(cfg) -> List[HookBase]:
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


_TRAINER_INPUTS = ("model", "data_loader", "optimizer")


def build_trainer(cfg, model, data_loader, optimizer) -> TrainerBase:
    """
    Build the training loop named by ``cfg.train.trainer`` (see the module doc) around the
    built ``model`` (DDP-wrapped when distributed), ``data_loader`` and ``optimizer``.
    """
    amp = bool(cfg.train.get("amp", {}).get("enabled", False))
    spec = cfg.train.get("trainer", None)
    if spec is None:
        return (AMPTrainer if amp else SimpleTrainer)(model, data_loader, optimizer)
    if not isinstance(spec, Mapping) or "_target_" not in spec:
        raise TypeError(f"train.trainer must be a LazyCall of a trainer class (or None), got {spec!r}")
    taken = [k for k in _TRAINER_INPUTS if k in spec]
    if taken:
        raise ValueError(f"train.trainer must not set {taken}: they are built from the config and passed in")
    spec = copy.deepcopy(spec)
    spec.model, spec.data_loader, spec.optimizer = model, data_loader, optimizer
    trainer = instantiate(spec)
    if not isinstance(trainer, TrainerBase):
        raise TypeError(f"train.trainer built {type(trainer)}, not a detectron2 TrainerBase")
    if amp and not isinstance(trainer, AMPTrainer):
        logger.warning("train.amp.enabled=True, but train.trainer %s is not an AMPTrainer: it decides "
                       "on mixed precision itself.", type(trainer).__name__)  # fmt: skip
    return trainer


def _ddp(model, device, **kwargs):
    if device.type != "cuda":
        kwargs["device_ids"] = None  # CPU modules: DDP takes no device ids
    return create_ddp_model(model, **kwargs)


def _checkpointer(cfg, model, save_dir="", **checkpointables):
    return SafeDetectionCheckpointer(
        model, save_dir, allow_unsafe_pickle=cfg.train.get("allow_unsafe_pickle", False), **checkpointables
    )


# ---- train / test -------------------------------------------------------------------------
def do_test(cfg, model) -> Dict:
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


def do_train(cfg, resume: bool = False) -> TrainerBase:
    """
    Train ``cfg.model`` with the trainer of ``cfg.train.trainer`` and Detectron2's hooks
    (iteration timer, LR schedule, periodic checkpoints, evaluation, ``cfg.hooks``, writers).

    Args:
        cfg: a LazyConfig (see the module doc; ``train``: ``output_dir``, ``init_checkpoint``,
            ``max_iter``, ``amp.enabled``, ``ddp``, ``checkpointer``, ``eval_period``,
            ``log_period``, ``device``, ``trainer``).
        resume (bool): continue from ``output_dir/last_checkpoint`` (model, optimizer,
            scheduler, iteration) when it exists; otherwise load ``train.init_checkpoint``
            (model weights only) and start at iteration 0.

    Returns:
        the trainer after training.
    """
    device = resolve_device(cfg)
    _check_config_images(cfg, ("train", "test"))
    model = instantiate(cfg.model)
    logger.info("Model:\n%s", model)
    model.to(device)

    cfg.optimizer.params.model = model
    optim = instantiate(cfg.optimizer)
    train_loader = instantiate(cfg.dataloader.train)

    model = _ddp(model, device, **cfg.train.get("ddp", {}))
    trainer = build_trainer(cfg, model, train_loader, optim)
    checkpointer = _checkpointer(cfg, model, cfg.train.output_dir, optimizer=optim, trainer=trainer)
    main = comm.is_main_process()
    trainer.register_hooks(
        [
            hooks.IterationTimer(),
            hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
            hooks.PeriodicCheckpointer(checkpointer, **cfg.train.checkpointer) if main else None,
            hooks.EvalHook(cfg.train.eval_period, lambda: do_test(cfg, model)),
            *build_extra_hooks(cfg),
            hooks.PeriodicWriter(
                default_writers(cfg.train.output_dir, cfg.train.max_iter), period=cfg.train.log_period
            )
            if main
            else None,
        ]
    )
    checkpointer.resume_or_load(cfg.train.init_checkpoint, resume=resume)
    # the checkpoint stores the iteration that just finished
    start_iter = trainer.iter + 1 if resume and checkpointer.has_checkpoint() else 0
    trainer.train(start_iter, cfg.train.max_iter)
    if start_iter >= cfg.train.max_iter and main:
        # resumed after the last iteration (e.g. killed while the final checkpoint was being
        # written): no step ran, so write the final checkpoint that the periodic hook did not
        final = cfg.train.checkpointer.get("file_prefix", "model") + "_final"
        if not is_complete_checkpoint(os.path.join(cfg.train.output_dir, final + ".pth")):
            checkpointer.save(final, iteration=start_iter - 1)
    return trainer


def evaluate_checkpoint(cfg) -> Dict:
    """Load ``train.init_checkpoint`` into ``cfg.model`` and run :func:`do_test`."""
    device = resolve_device(cfg)
    _check_config_images(cfg, ("test",))
    model = instantiate(cfg.model)
    model.to(device)
    model = _ddp(model, device)
    _checkpointer(cfg, model).load(cfg.train.init_checkpoint)
    return do_test(cfg, model)


def setup(args):
    """
    Load ``args.config_file`` with the ``args.opts`` overrides, scale a training recipe to the
    number of processes (:func:`scale_to_world_size`), then Detectron2's ``default_setup``
    (output folder, ``config.yaml`` of the scaled config, logs, seed) plus the "pointdet" logger.
    """
    if not os.path.isfile(args.config_file):
        raise FileNotFoundError(f"--config-file {args.config_file!r} does not exist")
    cfg = LazyConfig.load(args.config_file)
    cfg = LazyConfig.apply_overrides(cfg, args.opts)
    changes = []
    if not args.eval_only:
        cfg, changes = scale_to_world_size(cfg, comm.get_world_size())
    default_setup(cfg, args)
    # default_setup configures the "detectron2" and "fvcore" loggers; pointdet's hooks and
    # evaluators log under "pointdet" (e.g. RefinePointsHook's RSV before/after)
    setup_logger(cfg.train.output_dir, distributed_rank=comm.get_rank(), name="pointdet", abbrev_name="pointdet")
    if changes:
        logger.info(
            "Scaled the recipe to %d process(es): %s",
            comm.get_world_size(),
            ", ".join(f"{k} {old} -> {new}" for k, old, new in changes),
        )
    return cfg


def train_or_evaluate(args):
    """
    One process of ``tools/train_net.py``: :func:`setup`, then :func:`do_train` (``--resume``)
    or, with ``--eval-only``, evaluate ``train.init_checkpoint``.

    Returns:
        the evaluation results with ``--eval-only``, else None.
    """
    if getattr(args, "num_threads", 0):
        torch.set_num_threads(args.num_threads)
    cfg = setup(args)
    if args.eval_only:
        results = evaluate_checkpoint(cfg)
    else:
        do_train(cfg, resume=args.resume)
        results = None
    close_process_group()
    return results
