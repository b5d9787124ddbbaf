"""A tiny LazyConfig experiment (RetinaNet on synthetic rectangles) for training-loop tests,
and a custom trainer class that a config can name (importable by a subprocess)."""
import json
import os

import numpy as np

from detectron2.engine import SimpleTrainer

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A config as an experiment file would write it, but with a tiny RetinaNet (one narrow BasicBlock
# per ResNet stage, 16-channel FPN, one head conv) and a dataset registered from the files beside it.
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
from pointdet.modeling.backbone.imagenet import IMAGENET_RGB_PIXEL_MEAN, IMAGENET_RGB_PIXEL_STD
from pointdet.solver import clip_gradients, multistep_with_warmup

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
    pixel_mean=list(IMAGENET_RGB_PIXEL_MEAN),
    pixel_std=list(IMAGENET_RGB_PIXEL_STD),
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


def write_tiny_dataset(root, num_train=4, num_val=2, size=128, seed=0):
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


def write_tiny_config(root):
    """Write the tiny dataset and ``tiny_retinanet.py`` into ``root``; returns the config path."""
    write_tiny_dataset(root)
    path = os.path.join(root, "tiny_retinanet.py")
    with open(path, "w") as f:
        f.write(TINY_CONFIG.replace("{repo_root!r}", repr(REPO_ROOT)))
    return path


class CountingTrainer(SimpleTrainer):
    """A training loop chosen by config: Detectron2's SimpleTrainer that also records, under
    ``<tag>_steps``, how many steps it ran."""

    def __init__(self, model, data_loader, optimizer, tag="custom"):
        super().__init__(model, data_loader, optimizer)
        self.tag = tag
        self.steps = 0

    def run_step(self):
        super().run_step()
        self.steps += 1
        self.storage.put_scalar(f"{self.tag}_steps", self.steps, smoothing_hint=False)
