"""Detectron2 ResNet + FPN pieces for the papers' COCO settings (ImageNet MSRA weights, BGR).

``resnet_fpn_gn_p3(depth)``: the point models' FPN (CPRNet, P2PNet): GN, P3-P5 from
res3..res5 and no extra level, of which the models read P3 (the reference FPN's
``start_level=1, num_outs=1``). ``BGR_PIXEL_MEAN`` / ``BGR_PIXEL_STD`` go with Detectron2's
MSRA weights (``train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"``).
"""
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone import FPN, BasicStem, ResNet

BGR_PIXEL_MEAN = [103.530, 116.280, 123.675]
BGR_PIXEL_STD = [1.0, 1.0, 1.0]


def resnet_fpn_gn_p3(depth=50, out_channels=256):
    """LazyCall config of a GN FPN (P3-P5, no top block) on a FrozenBN ResNet (stem+res2 frozen)."""
    return L(FPN)(
        bottom_up=L(ResNet)(
            stem=L(BasicStem)(in_channels=3, out_channels=64, norm="FrozenBN"),
            stages=L(ResNet.make_default_stages)(depth=depth, stride_in_1x1=True, norm="FrozenBN"),
            out_features=["res3", "res4", "res5"],
            freeze_at=2,  # reference frozen_stages=1: stem and res2
        ),
        in_features=["res3", "res4", "res5"],
        out_channels=out_channels,
        norm="GN",
        top_block=None,
    )


backbone = resnet_fpn_gn_p3(depth=50)
