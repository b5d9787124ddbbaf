"""SOLOv2 R-50 FPN as in the SAPNet reference's COCO config: ResNet-50 (stem + res2 frozen,
FrozenBN), FPN P2-P6 with GN(32), the heads of ``solov2_mnv2_fpn.py``; BGR input with Detectron2's
MSRA ImageNet weights (``train.init_checkpoint = R50_IMAGENET_CHECKPOINT``).

P6 is Detectron2's max-pooled P5 (``LastLevelMaxPool``); the reference computes it with a conv
on the FPN input ("on_input"). See projects/SAPNet/README.md.
"""
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone import FPN, BasicStem, ResNet
from detectron2.modeling.backbone.fpn import LastLevelMaxPool

from .resnet_fpn import BGR_PIXEL_MEAN, BGR_PIXEL_STD, R50_IMAGENET_CHECKPOINT  # noqa: F401
from .solov2_mnv2_fpn import solov2


def resnet_fpn_gn_p2p6(depth=50, out_channels=256):
    """LazyCall config of a GN FPN P2-P6 (P6 by max-pooling P5) on a FrozenBN ResNet."""
    return L(FPN)(
        bottom_up=L(ResNet)(
            stem=L(BasicStem)(in_channels=3, out_channels=64, norm="FrozenBN"),
            stages=L(ResNet.make_default_stages)(depth=depth, stride_in_1x1=True, norm="FrozenBN"),
            out_features=["res2", "res3", "res4", "res5"],
            freeze_at=2,  # reference frozen_stages=1: stem and res2
        ),
        in_features=["res2", "res3", "res4", "res5"],
        out_channels=out_channels,
        norm="GN",
        top_block=L(LastLevelMaxPool)(),
    )


model = solov2(resnet_fpn_gn_p2p6(depth=50), BGR_PIXEL_MEAN, BGR_PIXEL_STD, "BGR")
