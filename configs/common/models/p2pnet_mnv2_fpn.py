"""Multi-class P2PNet localizer (CPR paper Sec. 4.2) on the ImageNet MobileNetV2-FPN backbone.

The head and all training/inference hyperparameters are the paper's / reference's COCO
defaults (projects/CPR/README.md): one feature level P3 (stride 8) computed by an FPN with GN
from res3..res5 (the reference FPN's start_level=1, num_outs=1), separate cls/reg towers of 4
3x3 convs (256 ch, GN, ReLU), A = 1 anchor point per cell, top-5 repeated Hungarian matching
on 2.0 * focal cost + 0.1 * L1 (px), focal loss (0.25, 2), smooth-L1 (beta 1/9, weight 0.5) on
points / stride; inference: top 1000 cells, score > 0.05, point NMS with 32-px pseudo boxes at
IoU 0.01, at most 100 points per image.

Variants are configs: ``model.in_feature = "p2"`` (with ``model.backbone.in_features`` from
res2 and ``model.backbone.bottom_up.out_features`` including res2) for SeaPerson-like tiny
objects; ``model.head.num_convs = 3`` with ``"p4"`` for DOTA; ``model.anchor_offsets =
[[0.0, 0.0]]`` for the reference's anchor at (j s, i s) instead of the cell centre.
``model.backbone.bottom_up.weights`` holds the ImageNet checkpoint path (None: random init).
"""
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec

from pointdet.modeling.p2pnet import P2PHead, P2PNet

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2_fpn_gn_p3

model = L(P2PNet)(
    backbone=mobilenetv2_fpn_gn_p3(out_channels=256),
    head=L(P2PHead)(
        input_shape=L(ShapeSpec)(channels="${...backbone.out_channels}"),
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
    pixel_mean=PIXEL_MEAN,
    pixel_std=PIXEL_STD,
    input_format="RGB",
)
