"""CenterNet (Zhou et al. 2019) as used by SIOD (Li et al. CVPR 2022, Sec. 3.1), LazyConfig pieces.

``centernet_resnet(depth)``: Detectron2's ResNet (18 or 101, BN, nothing frozen: the reference
fine-tunes the whole torchvision ResNet), the stride-32 res5 map into three upsampling stages
(256/128/64 channels, DCNv2 through torchvision by default; ``neck_conv="plain"`` for a plain
3x3 conv) to stride 4, heads of one 64-channel 3x3 conv. Losses: CornerNet focal (Gaussian
targets, IoU 0.7 radius), L1 size (0.1) and offset (1.0); 3x3 max-pool peaks, top 100. BGR
input with Detectron2's MSRA statistics; ImageNet weights: convert torchvision's ResNet with
Detectron2's ``tools/convert-torchvision-to-d2.py`` into ``train.init_checkpoint``.

``centernet_mnv2()``: the same on the ImageNet MobileNetV2 (res5, 320 channels), RGB.
``model.dminer = dminer()`` (``dminer.py``) turns on SPLG + PGCL on the stride-4 feature.
"""
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone import BasicStem, ResNet

from pointdet.modeling.centernet import CenterNet, CenterNetHead, CenterNetNeck

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2
from .resnet_fpn import BGR_PIXEL_MEAN, BGR_PIXEL_STD


def _centernet(backbone, in_channels, neck_conv, neck_channels, head_conv, pixel_mean, pixel_std, input_format):
    return L(CenterNet)(
        backbone=backbone,
        neck=L(CenterNetNeck)(in_channels=in_channels, channels=list(neck_channels), conv=neck_conv, norm="BN"),
        head=L(CenterNetHead)(in_channels=neck_channels[-1], num_classes="${..num_classes}", head_conv=head_conv,
                              heatmap_bias=-2.19),
        num_classes=80,
        in_feature="res5",
        min_overlap=0.7,
        heatmap_weight=1.0,
        size_weight=0.1,  # lambda_size
        offset_weight=1.0,  # lambda_off
        test_topk=100,
        test_score_thresh=0.0,
        dminer=None,
        pixel_mean=pixel_mean,
        pixel_std=pixel_std,
        input_format=input_format,
    )


def centernet_resnet(depth=18, neck_conv="dcn", neck_channels=(256, 128, 64), head_conv=64):
    """LazyCall of CenterNet-Res{depth} (BGR, MSRA statistics)."""
    backbone = L(ResNet)(
        stem=L(BasicStem)(in_channels=3, out_channels=64, norm="BN"),
        stages=L(ResNet.make_default_stages)(
            depth=depth, norm="BN", **({} if depth < 50 else {"stride_in_1x1": False})  # torchvision: stride in 3x3
        ),
        out_features=["res5"],
        freeze_at=0,
    )
    in_channels = 512 if depth < 50 else 2048
    return _centernet(backbone, in_channels, neck_conv, neck_channels, head_conv, BGR_PIXEL_MEAN, BGR_PIXEL_STD, "BGR")


def centernet_mnv2(neck_conv="plain", neck_channels=(256, 128, 64), head_conv=64, norm="FrozenBN"):
    """LazyCall of CenterNet on the ImageNet MobileNetV2 (RGB, torchvision statistics)."""
    backbone = mobilenetv2(out_features=("res5",), norm=norm)
    return _centernet(backbone, 320, neck_conv, neck_channels, head_conv, PIXEL_MEAN, PIXEL_STD, "RGB")


model = centernet_resnet(18)
