"""Detectron2 Faster R-CNN (GeneralizedRCNN, StandardROIHeads) on the ImageNet
MobileNetV2-FPN backbone (P2-P6), RGB input.

Derived from Detectron2's model-zoo ``common/models/mask_rcnn_fpn.py`` without its mask branch
(RPN with one anchor size per level, 32-512, and 3 aspect ratios, 2000/1000 pre-NMS and
1000 post-NMS proposals (train/test), 512 RoIs per image with 25% positives, ROIAlignV2 7x7
box pooler and a 2-FC (1024) box head); only the backbone, the pixel statistics and the input
format are swapped. ROIAlign and NMS are torchvision's (no compiled Detectron2 ops).
``model.backbone.bottom_up.weights`` names the ImageNet checkpoint (None: random init).

yacs / ``DefaultPredictor`` equivalent: ``MODEL.META_ARCHITECTURE = "GeneralizedRCNN"``,
``MODEL.BACKBONE.NAME = "build_mobilenetv2_fpn_backbone"``, ``MODEL.FPN.IN_FEATURES`` =
res2..res5, RGB pixel statistics, ``INPUT.FORMAT = "RGB"``.
"""
from detectron2.layers import ShapeSpec
from pointdet.config import get_model_zoo_config

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2_fpn_p2p6

model = get_model_zoo_config("common/models/mask_rcnn_fpn.py").model
for _key in ("mask_in_features", "mask_pooler", "mask_head"):  # Faster R-CNN: boxes only
    del model.roi_heads[_key]
model.backbone = mobilenetv2_fpn_p2p6(out_channels=256)
model.pixel_mean = PIXEL_MEAN
model.pixel_std = PIXEL_STD
model.input_format = "RGB"


def set_fpn_channels(model, channels):
    """Set the FPN width of ``model`` (this file's config) and of the heads that read it, in
    place. Returns ``model``."""
    model.backbone.out_channels = channels
    model.proposal_generator.head.in_channels = channels
    model.roi_heads.box_head.input_shape = ShapeSpec(channels=channels, height=7, width=7)
    return model
