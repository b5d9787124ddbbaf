"""SOLOv2 (Wang et al., NeurIPS 2020) with the SAPNet reference's head settings, on the ImageNet
MobileNetV2-FPN backbone (P2-P6, GN FPN).

Category / kernel branches over P2-P6 (P2 resized to P3's size, P6 to P5's), grids
40/36/24/16/12, scale ranges on sqrt(w*h) (1,96) (48,192) (96,384) (192,768) (384,2048),
pos_scale 0.2, 4 convs of 512 channels with GN(32); mask features from P2-P5, 128 channels,
E = 256 output channels (1x1 dynamic kernels); Dice weight 3, focal (0.25, 2) weight 1;
test: 500 candidates, score 0.1, mask 0.5, Gaussian Matrix NMS sigma 2, keep >= 0.05, 100 per
image. ``slim(model, ...)`` narrows the heads for the CPU demos.
"""
from detectron2.config import LazyCall as L

from pointdet.modeling.solov2 import SOLOv2, SOLOv2InsHead, SOLOv2MaskFeatHead

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2_fpn_p2p6


def solov2(backbone, pixel_mean, pixel_std, input_format):
    """LazyCall config of :class:`SOLOv2` with the paper's / reference's defaults on ``backbone``."""
    return L(SOLOv2)(
        backbone=backbone,
        ins_head=L(SOLOv2InsHead)(
            in_channels="${..backbone.out_channels}",
            num_classes="${..num_classes}",
            num_grids="${..num_grids}",
            kernel_out_channels="${..mask_head.out_channels}",
            feat_channels=512,
            stacked_convs=4,
            norm="GN",
            num_groups=32,
            prior_prob=0.01,
        ),
        mask_head=L(SOLOv2MaskFeatHead)(
            in_channels="${..backbone.out_channels}",
            num_levels=4,
            feat_channels=128,
            out_channels=256,
            norm="GN",
            num_groups=32,
        ),
        num_classes=80,
        in_features=["p2", "p3", "p4", "p5", "p6"],
        mask_in_features=["p2", "p3", "p4", "p5"],
        num_grids=[40, 36, 24, 16, 12],
        scale_ranges=[[1, 96], [48, 192], [96, 384], [192, 768], [384, 2048]],
        strides=[8, 8, 16, 32, 32],
        pos_scale=0.2,
        dice_weight=3.0,
        focal_weight=1.0,
        focal_alpha=0.25,
        focal_gamma=2.0,
        nms_pre=500,
        score_thresh=0.1,
        mask_thresh=0.5,
        filter_thresh=0.05,
        nms_kernel="gaussian",
        nms_sigma=2.0,
        max_per_image=100,
        pixel_mean=pixel_mean,
        pixel_std=pixel_std,
        input_format=input_format,
    )


def slim(model, channels=64, num_convs=2, mask_channels=32, mask_out_channels=64, num_groups=16):
    """Narrow the heads of a SOLOv2 config in place (the CPU demos' compute budget)."""
    model.ins_head.feat_channels = channels
    model.ins_head.stacked_convs = num_convs
    model.ins_head.num_groups = num_groups
    model.mask_head.feat_channels = mask_channels
    model.mask_head.out_channels = mask_out_channels
    model.mask_head.num_groups = num_groups
    return model


_backbone = mobilenetv2_fpn_p2p6(out_channels=256)
_backbone.norm = "GN"
model = solov2(_backbone, PIXEL_MEAN, PIXEL_STD, "RGB")
