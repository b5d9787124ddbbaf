"""Detectron2 RetinaNet on the ImageNet MobileNetV2-FPN backbone (P3-P7), RGB input.

The base model follows Detectron2's RetinaNet (focal loss alpha 0.25 / gamma 2, 9 anchors
per location, 4 head convs of 256 channels, IoU 0.4 / 0.5 matching). Two slimmer variants for
CPU budgets (the head is ~57% of the forward time, ARCHITECTURE "Compute budget"):

* ``slim_head(model, channels=128, num_convs=2)``: narrower FPN and a shorter head;
* anchor sizes are a list per level (``model.anchor_generator.sizes``), set per dataset.

``model.backbone.bottom_up.weights`` holds the ImageNet checkpoint path (None: random init).
"""
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.meta_arch import RetinaNet
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2_fpn_p3p7

model = L(RetinaNet)(
    backbone=mobilenetv2_fpn_p3p7(out_channels=256),
    head=L(RetinaNetHead)(
        input_shape=[ShapeSpec(channels=256)] * 5,  # = backbone.out_channels
        num_classes="${..num_classes}",
        conv_dims=[256, 256, 256, 256],
        prior_prob=0.01,
        num_anchors=9,
        norm="",
    ),
    anchor_generator=L(DefaultAnchorGenerator)(
        sizes=[[x, x * 2 ** (1.0 / 3), x * 2 ** (2.0 / 3)] for x in [32, 64, 128, 256, 512]],
        aspect_ratios=[0.5, 1.0, 2.0],
        strides=[8, 16, 32, 64, 128],
        offset=0.0,
    ),
    box2box_transform=L(Box2BoxTransform)(weights=[1.0, 1.0, 1.0, 1.0]),
    anchor_matcher=L(Matcher)(thresholds=[0.4, 0.5], labels=[0, -1, 1], allow_low_quality_matches=True),
    num_classes=80,
    head_in_features=["p3", "p4", "p5", "p6", "p7"],
    focal_loss_alpha=0.25,
    focal_loss_gamma=2.0,
    smooth_l1_beta=0.1,
    box_reg_loss_type="smooth_l1",
    test_score_thresh=0.05,
    test_topk_candidates=1000,
    test_nms_thresh=0.5,
    max_detections_per_image=100,
    pixel_mean=PIXEL_MEAN,
    pixel_std=PIXEL_STD,
    input_format="RGB",
)


def slim_head(model, channels=128, num_convs=2):
    """Make ``model`` (this file's RetinaNet config) cheaper in place: an FPN and a head of
    ``channels`` channels with ``num_convs`` convs per branch. Returns ``model``."""
    model.backbone.out_channels = channels
    model.head.input_shape = [ShapeSpec(channels=channels)] * len(model.head_in_features)
    model.head.conv_dims = [channels] * num_convs
    return model
