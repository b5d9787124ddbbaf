"""Detectron2 Faster R-CNN C4 (GeneralizedRCNN, Res5ROIHeads) on ImageNet MobileNetV2, RGB input.

Derived from Detectron2's model-zoo ``common/models/mask_rcnn_c4.py`` without its mask branch
(the zoo's ``faster_rcnn_R_50_C4``): RPN on the stride-16 map with 15 anchors per location
(32-512 px x 3 aspect ratios), 12000/6000 pre-NMS and 2000/1000 post-NMS proposals (train/test),
512 RoIs per image with 25% positives, ROIAlignV2 14x14. MobileNetV2 takes ResNet's places:

* trunk ("res4"): MobileNetV2 up to stride 16 (``features[:14]``, 96 channels);
* per-RoI head ("res5"): MobileNetV2's stride-32 stages (``features[14:18]``, 96 -> 320
  channels, stride 2: 14x14 -> 7x7), averaged to one 320-d vector per RoI, from the same
  ImageNet checkpoint (``model.roi_heads.res5.weights``).

``model.backbone.weights`` / ``model.roi_heads.res5.weights`` name the ImageNet checkpoint
(None: random init). yacs / ``DefaultPredictor`` equivalent: ``pointdet.add_pointdet_config(cfg)``,
``MODEL.META_ARCHITECTURE = "GeneralizedRCNN"``, ``MODEL.BACKBONE.NAME =
"build_mobilenetv2_backbone"``, ``MODEL.MOBILENETV2.OUT_FEATURES = ["res4"]``,
``MODEL.RPN.IN_FEATURES`` and ``MODEL.ROI_HEADS.IN_FEATURES`` = ["res4"],
``MODEL.ROI_HEADS.NAME = "MobileNetV2Res5ROIHeads"``, RGB pixel statistics, ``INPUT.FORMAT = "RGB"``.
"""
from pointdet.config import get_model_zoo_config

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2, mobilenetv2_res5

model = get_model_zoo_config("common/models/mask_rcnn_c4.py").model
del model.roi_heads.mask_head  # Faster R-CNN: boxes only
model.backbone = mobilenetv2(out_features=("res4",))
model.proposal_generator.head.in_channels = 96  # MobileNetV2 res4
model.roi_heads.res5 = mobilenetv2_res5()
model.roi_heads.box_predictor.input_shape.channels = 320  # MobileNetV2 res5 (the zoo reads res5.out_channels)
model.pixel_mean = PIXEL_MEAN
model.pixel_std = PIXEL_STD
model.input_format = "RGB"
