"""End-to-end tests of tools/train_net.py on a tiny synthetic COCO dataset (CPU, seconds each)."""
import json
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from detectron2.config import LazyConfig
from detectron2.evaluation import DatasetEvaluators

from detectron2.config import LazyCall as L
from detectron2.engine import HookBase

from tools.train_net import build_evaluator, build_extra_hooks, do_train, get_parser, main, resolve_device

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A config as an experiment file would write it, but with a tiny RetinaNet (ResNet-18 with
# GroupNorm, 16-channel FPN, one head conv) and a dataset registered from the files beside it.
TINY_CONFIG = '''
import os

import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.data import (
    DatasetCatalog,
    DatasetMapper,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.data.datasets import register_coco_instances
from detectron2.evaluation import COCOEvaluator
from detectron2.layers import ShapeSpec
from detectron2.modeling import FPN, ResNet, RetinaNet
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.backbone.fpn import LastLevelP6P7
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead
from omegaconf import OmegaConf

from detectron2.config import LazyConfig

REPO_ROOT = {repo_root!r}
from configs.common.optim import clip_gradients  # functions: a plain import is fine
from configs.common.schedules import multistep_with_warmup

# config objects: loaded (fresh copies) as an experiment under configs/ gets them by relative import
_COMMON = os.path.join(REPO_ROOT, "configs", "common")
train = LazyConfig.load(os.path.join(_COMMON, "train.py")).train
SGD = LazyConfig.load(os.path.join(_COMMON, "optim.py")).SGD

_ROOT = os.path.dirname(__file__)
for _split in ("train", "val"):
    if f"tn_tiny_{_split}" not in DatasetCatalog.list():
        register_coco_instances(
            f"tn_tiny_{_split}", {}, os.path.join(_ROOT, _split + ".json"), os.path.join(_ROOT, "images")
        )

model = L(RetinaNet)(
    backbone=L(FPN)(
        bottom_up=L(ResNet)(
            stem=L(BasicStem)(in_channels=3, out_channels=16, norm="BN"),
            stages=[  # one narrow BasicBlock per stage: res2 .. res5, strides 4 .. 32
                L(ResNet.make_stage)(
                    block_class=BasicBlock, num_blocks=1, in_channels=cin, out_channels=cout,
                    stride_per_block=[stride], norm="BN",
                )
                for cin, cout, stride in [(16, 16, 1), (16, 32, 2), (32, 64, 2), (64, 128, 2)]
            ],
            out_features=["res3", "res4", "res5"],
        ),
        in_features=["res3", "res4", "res5"],
        out_channels=16,
        top_block=L(LastLevelP6P7)(in_channels=128, out_channels=16),
    ),
    head=L(RetinaNetHead)(
        input_shape=[ShapeSpec(channels=16)] * 5,
        num_classes="${..num_classes}",
        conv_dims=[16],
        num_anchors=3,
    ),
    anchor_generator=L(DefaultAnchorGenerator)(
        sizes=[[x] for x in [16, 32, 64, 128, 256]],
        aspect_ratios=[0.5, 1.0, 2.0],
        strides=[8, 16, 32, 64, 128],
        offset=0.0,
    ),
    box2box_transform=L(Box2BoxTransform)(weights=[1.0, 1.0, 1.0, 1.0]),
    anchor_matcher=L(Matcher)(thresholds=[0.4, 0.5], labels=[0, -1, 1], allow_low_quality_matches=True),
    num_classes=2,
    head_in_features=["p3", "p4", "p5", "p6", "p7"],
    pixel_mean=[123.675, 116.28, 103.53],
    pixel_std=[58.395, 57.12, 57.375],
    input_format="RGB",
    test_score_thresh=0.001,  # untrained scores are near the 0.01 prior: keep detections
)

dataloader = OmegaConf.create()
dataloader.train = L(build_detection_train_loader)(
    dataset=L(get_detection_dataset_dicts)(names="tn_tiny_train"),
    mapper=L(DatasetMapper)(is_train=True, augmentations=[L(T.RandomFlip)(horizontal=True)], image_format="RGB"),
    total_batch_size=2,
    num_workers=0,
)
dataloader.test = L(build_detection_test_loader)(
    dataset=L(get_detection_dataset_dicts)(names="tn_tiny_val", filter_empty=False),
    mapper=L(DatasetMapper)(is_train=False, augmentations=[], image_format="RGB"),
    num_workers=0,
)
dataloader.evaluator = [
    L(COCOEvaluator)(dataset_name="tn_tiny_val", use_fast_impl=False, max_dets_per_image=50),
]

optimizer = clip_gradients(SGD, clip_value=1.0)
optimizer.lr = 0.001
lr_multiplier = multistep_with_warmup(100, warmup_iters=25)  # scale-free: warm-up = 1st of 4 iters

train.max_iter = 4
train.eval_period = 4
train.log_period = 1
train.checkpointer.period = 2
train.device = "cpu"
train.seed = 0
'''


def _write_tiny_dataset(root, num_train=4, num_val=2, size=128, seed=0):
    """Images with filled rectangles of two classes (class = colour) and their COCO files."""
    import cv2

    rng = np.random.RandomState(seed)
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    ann_id = 1
    for split, n in (("train", num_train), ("val", num_val)):
        images, anns = [], []
        for i in range(n):
            img_id = len(images) + 1
            fname = f"{split}_{i}.png"
            img = np.full((size, size, 3), 40, np.uint8)
            # the last val image has no objects (empty ground truth must evaluate)
            n_obj = 0 if (split == "val" and i == n - 1) else 2
            for k in range(n_obj):
                w, h = rng.randint(20, 50, size=2)
                x, y = rng.randint(0, size - w), rng.randint(0, size - h)
                cls = k % 2 + 1
                img[y : y + h, x : x + w] = (220, 60, 60) if cls == 1 else (60, 60, 220)
                anns.append(
                    dict(id=ann_id, image_id=img_id, category_id=cls, iscrowd=0,
                         bbox=[float(x), float(y), float(w), float(h)], area=float(w * h))
                )
                ann_id += 1
            cv2.imwrite(os.path.join(root, "images", fname), img[:, :, ::-1])
            images.append(dict(id=img_id, file_name=fname, width=size, height=size))
        coco = dict(images=images, annotations=anns,
                    categories=[dict(id=1, name="red"), dict(id=2, name="blue")])
        with open(os.path.join(root, split + ".json"), "w") as f:
            json.dump(coco, f)


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("tiny_data"))
    _write_tiny_dataset(root)
    path = os.path.join(root, "tiny_retinanet.py")
    with open(path, "w") as f:
        f.write(TINY_CONFIG.replace("{repo_root!r}", repr(REPO_ROOT)))
    return path


def _args(config_file, *opts, eval_only=False, resume=False):
    argv = ["--config-file", config_file]
    if eval_only:
        argv.append("--eval-only")
    if resume:
        argv.append("--resume")
    return get_parser().parse_args(argv + list(opts))


def _metrics(output_dir):
    with open(os.path.join(output_dir, "metrics.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def trained(tiny_config, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("train_out"))
    assert main(_args(tiny_config, f"train.output_dir={out}")) is None
    return out


def test_train_writes_checkpoints_metrics_and_evaluates(trained):
    files = set(os.listdir(trained))
    assert {"model_final.pth", "model_0000001.pth", "model_0000003.pth", "last_checkpoint",
            "config.yaml", "metrics.json", "log.txt"} <= files, files
    assert any(f.startswith("events.out.tfevents") for f in files), files
    rows = _metrics(trained)
    train_rows = [r for r in rows if "total_loss" in r]
    assert [r["iteration"] for r in train_rows] == [0, 1, 2, 3]
    assert all(np.isfinite(r["total_loss"]) for r in train_rows)
    # warm-up from 0.001 * lr to lr in 1 iteration, then the base lr 0.001
    assert train_rows[0]["lr"] == pytest.approx(1e-6)
    assert train_rows[1]["lr"] == pytest.approx(1e-3)
    # the EvalHook wrote the COCO metrics of the last iteration
    assert "bbox/AP" in rows[-1] and rows[-1]["iteration"] == 4, rows[-2:]
    ckpt = torch.load(os.path.join(trained, "model_final.pth"), map_location="cpu", weights_only=False)
    assert ckpt["iteration"] == 3 and "optimizer" in ckpt
    assert "LRScheduler" in ckpt["trainer"]["hooks"]  # the LR schedule resumes too


def test_eval_only_loads_the_checkpoint(trained, tiny_config, tmp_path):
    final = os.path.join(trained, "model_final.pth")
    res = main(_args(tiny_config, f"train.output_dir={tmp_path}", f"train.init_checkpoint={final}",
                     eval_only=True))
    assert set(res) == {"bbox"} and "AP50" in res["bbox"]
    # pointdet's own loggers (hooks, evaluators) reach the run's log.txt too
    logging.getLogger("pointdet.engine.refinement").info("marker-from-pointdet")
    log = (tmp_path / "log.txt").read_text()
    assert f"Loading from {final}" in log
    assert "marker-from-pointdet" in log
    assert "not found in the checkpoint" not in log and "not used in the model" not in log
    in_training = [r for r in _metrics(trained) if "bbox/AP" in r][-1]
    # same weights, same data: the same numbers as the evaluation at the end of training
    for k in ("AP", "AP50", "AP75"):
        assert res["bbox"][k] == pytest.approx(in_training["bbox/" + k], nan_ok=True, abs=1e-6)


def test_eval_only_missing_checkpoint_fails(tiny_config, tmp_path):
    with pytest.raises(Exception, match="nope.pth"):
        main(_args(tiny_config, f"train.output_dir={tmp_path}",
                   f"train.init_checkpoint={tmp_path}/nope.pth", eval_only=True))


def test_resume_continues_from_last_checkpoint(trained, tiny_config, tmp_path):
    import shutil

    out = str(tmp_path / "resumed")
    shutil.copytree(trained, out)
    before = len(_metrics(out))
    main(_args(tiny_config, f"train.output_dir={out}", "train.max_iter=6", "train.eval_period=100",
               resume=True))
    new_rows = [r for r in _metrics(out)[before:] if "total_loss" in r]
    assert [r["iteration"] for r in new_rows] == [4, 5]
    ckpt = torch.load(os.path.join(out, "model_final.pth"), map_location="cpu", weights_only=False)
    assert ckpt["iteration"] == 5


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such.py"):
        main(_args(str(tmp_path / "no_such.py")))


def test_evaluator_list_is_wrapped(tiny_config):
    cfg = LazyConfig.load(tiny_config)
    ev = build_evaluator(cfg)
    assert isinstance(ev, DatasetEvaluators) and len(ev._evaluators) == 1
    cfg.dataloader.evaluator = cfg.dataloader.evaluator[0]
    assert not isinstance(build_evaluator(cfg), DatasetEvaluators)
    del cfg.dataloader["evaluator"]
    assert build_evaluator(cfg) is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only fallbacks")
def test_cpu_device_turns_amp_off_and_refuses_cuda(tiny_config):
    cfg = LazyConfig.load(tiny_config)
    cfg.train.amp.enabled = True
    assert resolve_device(cfg) == torch.device("cpu")
    assert cfg.train.amp.enabled is False
    cfg.train.device = "cuda"
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device(cfg)


@pytest.mark.timeout(300)
def test_two_process_gloo_run(tiny_config, tmp_path):
    """``--num-gpus 2`` on a CPU machine spawns two gloo processes that train together."""
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, os.path.join(REPO_ROOT, "tools", "train_net.py"),
        "--num-gpus", "2", "--num-threads", "1", "--dist-url", "auto",
        "--config-file", tiny_config,
        f"train.output_dir={out}", "train.max_iter=2", "train.eval_period=2",
        "dataloader.train.total_batch_size=2",
    ]  # fmt: skip
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="" if not torch.cuda.is_available() else
               os.environ.get("CUDA_VISIBLE_DEVICES", ""))
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = (out / "log.txt").read_text()
    assert "World size: 2" in log
    assert (out / "model_final.pth").exists()
    assert "copypaste: Task: bbox" in log


RECORDED = []


class RecordingHook(HookBase):
    """Records the iterations it sees and whether it can reach the model."""

    def __init__(self, tag="rec"):
        self.tag = tag

    def after_step(self):
        RECORDED.append((self.tag, self.trainer.iter, self.trainer.model is not None))


def test_extra_hooks_from_config_are_registered(tiny_config, tmp_path):
    cfg = LazyConfig.load(tiny_config)
    cfg.train.output_dir = str(tmp_path)
    cfg.train.max_iter = 2
    cfg.train.eval_period = 100
    cfg.hooks = {"b": L(RecordingHook)(tag="b"), "a": L(RecordingHook)(tag="a")}
    RECORDED.clear()
    trainer = do_train(_args(tiny_config), cfg)
    # dict hooks run in sorted name order, every iteration, before the writers
    assert RECORDED == [("a", 0, True), ("b", 0, True), ("a", 1, True), ("b", 1, True)]
    names = [type(h).__name__ for h in trainer._hooks]
    assert names.index("RecordingHook") < names.index("PeriodicWriter")


def test_extra_hooks_reject_non_hooks(tiny_config):
    cfg = LazyConfig.load(tiny_config)
    cfg.hooks = [L(RecordingHook)(), L("builtins.dict")(a=1)]
    with pytest.raises(TypeError, match=r"hooks\[1\]"):
        build_extra_hooks(cfg)
    cfg.hooks = None
    assert build_extra_hooks(cfg) == []
