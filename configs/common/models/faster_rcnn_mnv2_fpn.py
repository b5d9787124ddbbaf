"""Detectron2 Faster R-CNN (GeneralizedRCNN, StandardROIHeads) on the ImageNet
MobileNetV2-FPN backbone (P2-P6), RGB input.

Detectron2's FPN recipe: RPN with one anchor size per level (32-512) and 3 aspect ratios,
2000/1000 pre-NMS and 1000 post-NMS proposals (train/test), 512 RoIs per image with 25%
positives, ROIAlignV2 7x7 box pooler and a 2-FC (1024) box head. ROIAlign and NMS are
torchvision's (no compiled Detectron2 ops). ``model.backbone.bottom_up.weights`` holds the
ImageNet checkpoint path (None: random init).
"""
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.meta_arch import GeneralizedRCNN
from detectron2.modeling.poolers import ROIPooler
from detectron2.modeling.proposal_generator import RPN, StandardRPNHead
from detectron2.modeling.roi_heads import FastRCNNConvFCHead, FastRCNNOutputLayers, StandardROIHeads

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2_fpn_p2p6

model = L(GeneralizedRCNN)(
    backbone=mobilenetv2_fpn_p2p6(out_channels=256),
    proposal_generator=L(RPN)(
        in_features=["p2", "p3", "p4", "p5", "p6"],
        head=L(StandardRPNHead)(in_channels=256, num_anchors=3),
        anchor_generator=L(DefaultAnchorGenerator)(
            sizes=[[32], [64], [128], [256], [512]],
            aspect_ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64],
            offset=0.0,
        ),
        anchor_matcher=L(Matcher)(thresholds=[0.3, 0.7], labels=[0, -1, 1], allow_low_quality_matches=True),
        box2box_transform=L(Box2BoxTransform)(weights=[1.0, 1.0, 1.0, 1.0]),
        batch_size_per_image=256,
        positive_fraction=0.5,
        pre_nms_topk=(2000, 1000),
        post_nms_topk=(1000, 1000),
        nms_thresh=0.7,
    ),
    roi_heads=L(StandardROIHeads)(
        num_classes=80,
        batch_size_per_image=512,
        positive_fraction=0.25,
        proposal_matcher=L(Matcher)(thresholds=[0.5], labels=[0, 1], allow_low_quality_matches=False),
        box_in_features=["p2", "p3", "p4", "p5"],
        box_pooler=L(ROIPooler)(
            output_size=7,
            scales=(1.0 / 4, 1.0 / 8, 1.0 / 16, 1.0 / 32),
            sampling_ratio=0,
            pooler_type="ROIAlignV2",
        ),
        box_head=L(FastRCNNConvFCHead)(
            input_shape=ShapeSpec(channels=256, height=7, width=7),
            conv_dims=[],
            fc_dims=[1024, 1024],
        ),
        box_predictor=L(FastRCNNOutputLayers)(
            input_shape=ShapeSpec(channels=1024),
            test_score_thresh=0.05,
            test_topk_per_image=100,
            box2box_transform=L(Box2BoxTransform)(weights=(10, 10, 5, 5)),
            num_classes="${..num_classes}",
        ),
    ),
    pixel_mean=PIXEL_MEAN,
    pixel_std=PIXEL_STD,
    input_format="RGB",
)


def set_fpn_channels(model, channels):
    """Set the FPN width of ``model`` (this file's config) and of the heads that read it, in
    place. Returns ``model``."""
    model.backbone.out_channels = channels
    model.proposal_generator.head.in_channels = channels
    model.roi_heads.box_head.input_shape = ShapeSpec(channels=channels, height=7, width=7)
    return model
