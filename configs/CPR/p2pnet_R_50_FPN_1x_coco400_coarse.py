"""Multi-class P2PNet on COCO coarse points: the CPR paper's setting (Table 1 row 2, 38.48 mAP1.0).

R-50-FPN (GN in the FPN), P3 (stride 8) head with 4 convs, "coco400" resize (short side 400,
long side <= 667) for train and test, Adam lr 1e-4, gradient clipping 35, linear warm-up 500
iterations (factor 1/3), 12 epochs with x0.1 at epochs 8 and 11, batch 64 (8 GPUs x 8).
Evaluated with point mAP (tau 0.5/1/2, maxDets 100, COCO area ranges) on val2017.

Needs COCO under $DETECTRON2_DATASETS/coco and the coarse-point file
(``python tools/make_weak_annotations.py coarse-points --input
datasets/coco/annotations/instances_train2017.json``); ImageNet R-50 weights from Detectron2's
model zoo. For the CPR-refined file, set ``dataloader.train.dataset.names`` to the refined
dataset (see p2pnet_mnv2_fpn_trees_refined.py for registering a file on the fly).
Differences: Detectron2's gradient clipping is per parameter (mmcv clips the global norm);
the ImageNet weights are Detectron2's MSRA (caffe-style) R-50 instead of torchvision's.
"""
import torch

import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.data import build_detection_test_loader, build_detection_train_loader, get_detection_dataset_dicts
from detectron2.layers import ShapeSpec
from detectron2.modeling.backbone import FPN, BasicStem, ResNet
from detectron2.solver.build import get_default_optimizer_params
from omegaconf import OmegaConf

from pointdet.data.dataset_mapper import PointDatasetMapper
from pointdet.evaluation.point_ap import PointAPEvaluator
from pointdet.modeling.p2pnet import P2PHead, P2PNet

from ..common.optim import clip_gradients
from ..common.schedules import multistep_with_warmup
from ..common.train import train

model = L(P2PNet)(
    backbone=L(FPN)(
        bottom_up=L(ResNet)(
            stem=L(BasicStem)(in_channels=3, out_channels=64, norm="FrozenBN"),
            stages=L(ResNet.make_default_stages)(depth=50, stride_in_1x1=True, norm="FrozenBN"),
            out_features=["res3", "res4", "res5"],
            freeze_at=2,  # reference frozen_stages=1: stem and res2
        ),
        # reference FPN start_level=1, num_outs=1: P3 with the full top-down path
        in_features=["res3", "res4", "res5"],
        out_channels=256,
        norm="GN",
        top_block=None,
    ),
    head=L(P2PHead)(
        input_shape=ShapeSpec(channels=256, stride=8),
        num_classes="${..num_classes}",
        num_anchor_points=1,
        num_convs=4,
        conv_dims=256,
        norm="GN",
        prior_prob=0.01,
    ),
    num_classes=80,
    in_feature="p3",
    anchor_offsets=[[0.5, 0.5]],
    match_topk=5,
    match_cls_weight=2.0,
    match_dist_weight=0.1,
    focal_loss_alpha=0.25,
    focal_loss_gamma=2.0,
    cls_loss_weight=1.0,
    smooth_l1_beta=1.0 / 9.0,
    reg_loss_weight=0.5,
    test_topk_candidates=1000,
    test_score_thresh=0.05,
    test_nms_box_size=32,
    test_nms_thresh=0.01,
    max_detections_per_image=100,
    pixel_mean=[103.530, 116.280, 123.675],
    pixel_std=[1.0, 1.0, 1.0],
    input_format="BGR",
)

# ---- data: coco400
dataloader = OmegaConf.create()
dataloader.train = L(build_detection_train_loader)(
    dataset=L(get_detection_dataset_dicts)(names="coco_2017_train_coarse_points_s0", filter_empty=True),
    mapper=L(PointDatasetMapper)(
        is_train=True,
        augmentations=[
            L(T.ResizeShortestEdge)(short_edge_length=400, max_size=667, sample_style="choice"),
            L(T.RandomFlip)(horizontal=True),
        ],
        image_format="BGR",
        supervision="points",
    ),
    total_batch_size=64,
    num_workers=4,
)
dataloader.test = L(build_detection_test_loader)(
    dataset=L(get_detection_dataset_dicts)(names="coco_2017_val", filter_empty=False),
    mapper=L(PointDatasetMapper)(
        is_train=False,
        augmentations=[L(T.ResizeShortestEdge)(short_edge_length=400, max_size=667)],
        image_format="${...train.mapper.image_format}",
    ),
    num_workers=4,
)
dataloader.evaluator = L(PointAPEvaluator)(
    dataset_name="${..test.dataset.names}",
    output_dir="${train.output_dir}",
    taus=(0.5, 1.0, 2.0),
    max_dets=(100,),
    area_ranges="coco",
)

# ---- optimisation: Adam 1e-4, clip 35, 12 epochs of 118k images at batch 64
optimizer = clip_gradients(
    L(torch.optim.Adam)(
        params=L(get_default_optimizer_params)(weight_decay_norm=0.0),
        lr=1e-4,
        weight_decay=1e-4,
    ),
    clip_value=35.0,
    clip_type="norm",
)
_ITERS_PER_EPOCH = 118287 // 64
train.max_iter = 12 * _ITERS_PER_EPOCH
lr_multiplier = multistep_with_warmup(
    train.max_iter, steps=(8 / 12, 11 / 12), warmup_iters=500, warmup_factor=1.0 / 3
)
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
train.output_dir = "./output/cpr/p2pnet_R_50_FPN_1x_coco400_coarse"
train.eval_period = 4 * _ITERS_PER_EPOCH
train.checkpointer.period = _ITERS_PER_EPOCH
train.ddp.find_unused_parameters = True  # FPN output convs of p4/p5 are not used by the head
