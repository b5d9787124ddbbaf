"""The ImageNet MobileNetV2 backbone and its FPNs, as LazyConfig pieces.

``bottom_up`` is pointdet's :class:`MobileNetV2Backbone` (torchvision's MobileNetV2 features:
res2..res5 = 24/32/96/320 channels at strides 4/8/16/32) loading torchvision's ImageNet
checkpoint ``pointdet://ImageNetPretrained/mobilenet_v2.pth`` (``IMAGENET_WEIGHTS``; set
``weights`` to None for random initialisation). Those weights expect RGB input normalised
with ``PIXEL_MEAN`` / ``PIXEL_STD`` below (0-255 scale): models built on this backbone must
use them and ``input_format="RGB"``.

* ``mobilenetv2_fpn_p3p7(...)``: RetinaNet/FCOS-style FPN, P3-P5 from res3..res5 plus P6/P7
  computed from P5 (Detectron2's ``LastLevelP6P7(in_feature="p5")``).
* ``mobilenetv2_fpn_gn_p3(...)``: the single-level point models' FPN (GN, P3 read).
* ``mobilenetv2_fpn_p2p6(...)``: Faster/Mask R-CNN-style FPN, P2-P5 from res2..res5 plus P6
  by max-pooling P5.
* ``mobilenetv2_res5(...)``: the res5 stage alone, the per-RoI box head of a C4 detector
  (with ``mobilenetv2(out_features=("res4",))`` as the trunk).

Loading a config looks nothing up: ``pointdet://...`` is resolved when the model is built, under
``$DETECTRON2_DATASETS/pointdet_demo/weights/`` of the machine that builds it (the file comes
from ``python tools/prepare_demo_data.py``).
"""
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone import FPN
from detectron2.modeling.backbone.fpn import LastLevelMaxPool, LastLevelP6P7
from pointdet.modeling.backbone import (
    IMAGENET_RGB_PIXEL_MEAN,
    IMAGENET_RGB_PIXEL_STD,
    MOBILENET_V2_IMAGENET_WEIGHTS,
    MobileNetV2Backbone,
    mobilenetv2_stage,
)

# torchvision's ImageNet checkpoint (IMAGENET1K_V1) and its input normalisation (RGB, 0-255)
IMAGENET_WEIGHTS = MOBILENET_V2_IMAGENET_WEIGHTS
PIXEL_MEAN = list(IMAGENET_RGB_PIXEL_MEAN)
PIXEL_STD = list(IMAGENET_RGB_PIXEL_STD)


def mobilenetv2(out_features=("res2", "res3", "res4", "res5"), weights=IMAGENET_WEIGHTS, norm="FrozenBN", freeze_at=0):
    """LazyCall config of :class:`MobileNetV2Backbone`.

    Args:
        out_features: among res2..res5.
        weights: torchvision ImageNet state dict (a ``pointdet://`` name, a file path or any
            path Detectron2's ``PathManager`` opens), or None for random initialisation.
        norm: "FrozenBN" (ImageNet statistics kept, the default for small batches), "BN",
            "SyncBN" or "GN".
        freeze_at: 0 trains everything; N freezes the stem and the first N-1 stages.
    """
    return L(MobileNetV2Backbone)(
        out_features=list(out_features), weights=weights, norm=norm, freeze_at=freeze_at
    )


def mobilenetv2_res5(weights=IMAGENET_WEIGHTS, norm="FrozenBN"):
    """LazyCall config of MobileNetV2's res5 stage (96 -> 320 channels, stride 2) as a module:
    the per-RoI head of a C4 detector (``Res5ROIHeads.res5``), FrozenBN as Detectron2's C4 res5."""
    return L(mobilenetv2_stage)(name="res5", weights=weights, norm=norm)


def mobilenetv2_fpn_p3p7(out_channels=256, **bottom_up_kwargs):
    """LazyCall config of a P3-P7 FPN (P6/P7 from P5) on MobileNetV2 res3..res5."""
    return L(FPN)(
        bottom_up=mobilenetv2(out_features=("res3", "res4", "res5"), **bottom_up_kwargs),
        in_features=["res3", "res4", "res5"],
        out_channels=out_channels,
        top_block=L(LastLevelP6P7)(
            in_channels="${..out_channels}", out_channels="${..out_channels}", in_feature="p5"
        ),
    )


def mobilenetv2_fpn_p2p6(out_channels=256, **bottom_up_kwargs):
    """LazyCall config of a P2-P6 FPN (P6 by max-pooling P5) on MobileNetV2 res2..res5."""
    return L(FPN)(
        bottom_up=mobilenetv2(out_features=("res2", "res3", "res4", "res5"), **bottom_up_kwargs),
        in_features=["res2", "res3", "res4", "res5"],
        out_channels=out_channels,
        top_block=L(LastLevelMaxPool)(),
    )


def mobilenetv2_fpn_gn_p3(out_channels=256, **bottom_up_kwargs):
    """LazyCall config of the point models' FPN: GN, P3-P5 from res3..res5, no extra level.

    CPRNet and P2PNet read one level (``in_feature``, P3 by default), which still receives the
    full top-down path (the reference FPN's ``start_level=1, num_outs=1``).
    """
    return L(FPN)(
        bottom_up=mobilenetv2(out_features=("res3", "res4", "res5"), **bottom_up_kwargs),
        in_features=["res3", "res4", "res5"],
        out_channels=out_channels,
        norm="GN",
        top_block=None,
    )


bottom_up = mobilenetv2()
backbone = mobilenetv2_fpn_p3p7()
res5_head = mobilenetv2_res5()
