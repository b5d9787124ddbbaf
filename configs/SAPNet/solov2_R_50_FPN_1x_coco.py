"""Fully supervised SOLOv2 R-50 FPN 1x on COCO 2017 (SAPNet paper Table 1's upper bound, 34.8
mask AP there), with the SAPNet reference's schedule so that the comparison differs only in the
supervision: SGD lr 0.015, momentum 0.9, weight decay 1e-4, gradient max-norm 35, linear
warm-up of 500 iterations from 0.001, x0.1 at epochs 8 and 11 of 12; 32 images per batch
(8 GPUs x 4), single-scale resize (1333, 800) and horizontal flip.

Needs COCO under $DETECTRON2_DATASETS/coco and the ImageNet R-50 weights.
"""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L

from pointdet.evaluation.score_aware_evaluator import ScoreAwareCOCOEvaluator

from ..common.data.coco import dataloader
from ..common.models.solov2_R_50_FPN import R50_IMAGENET_CHECKPOINT, model  # noqa: F401
from ..common.optim import SGD as optimizer
from ..common.optim import clip_gradients
from ..common.schedules import multistep_with_warmup
from ..common.train import train

COCO_TRAIN_IMAGES = 118287
BATCH = 32
EPOCHS = 12

dataloader.train.mapper.augmentations = [
    L(T.ResizeShortestEdge)(short_edge_length=800, max_size=1333),
    L(T.RandomFlip)(horizontal=True),
]
dataloader.train.total_batch_size = BATCH
dataloader.evaluator.tasks = ("bbox", "segm")
dataloader.evaluator._target_ = ScoreAwareCOCOEvaluator  # COCO AP + score-aware AP (bbox, segm)

optimizer = clip_gradients(optimizer, clip_value=35.0, clip_type="norm")
optimizer.lr = 0.015
optimizer.momentum = 0.9
optimizer.weight_decay = 1e-4

train.max_iter = COCO_TRAIN_IMAGES * EPOCHS // BATCH
train.eval_period = COCO_TRAIN_IMAGES // BATCH
train.init_checkpoint = R50_IMAGENET_CHECKPOINT
train.checkpointer = dict(period=COCO_TRAIN_IMAGES // BATCH, max_to_keep=3)
train.output_dir = "./output/SAPNet/solov2_R_50_FPN_1x_coco"

lr_multiplier = multistep_with_warmup(train.max_iter, steps=(8 / 12, 11 / 12), warmup_iters=500, warmup_factor=0.001)

# written for 8 GPUs: fewer processes rescale batch, lr and iterations (pointdet.engine.defaults.scale_to_world_size)
train.reference_world_size = 8
