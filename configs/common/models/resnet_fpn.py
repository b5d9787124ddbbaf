"""Detectron2 ResNet + FPN pieces for the papers' COCO settings (ImageNet MSRA weights, BGR).

``resnet_fpn_gn_p3(depth)``: the point models' FPN (CPRNet, P2PNet): GN, P3-P5 from
res3..res5 and no extra level, of which the models read P3 (the reference FPN's
``start_level=1, num_outs=1``). ``BGR_PIXEL_MEAN`` / ``BGR_PIXEL_STD`` go with Detectron2's
MSRA weights (``train.init_checkpoint = R50_IMAGENET_CHECKPOINT``).
"""
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone import FPN, BasicStem, ResNet
from pointdet.modeling.backbone import MSRA_BGR_PIXEL_MEAN, MSRA_BGR_PIXEL_STD

BGR_PIXEL_MEAN = list(MSRA_BGR_PIXEL_MEAN)
BGR_PIXEL_STD = list(MSRA_BGR_PIXEL_STD)
# Detectron2's ImageNet R-50 (MSRA, BGR), fetched by Detectron2's checkpointer where there is a network
R50_IMAGENET_CHECKPOINT = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"


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
