"""Detectron2 FCOS (Tian et al., arXiv:2006.09214) on the ImageNet MobileNetV2-FPN backbone
(P3-P7, P6/P7 from P5), RGB input.

Derived from Detectron2's model-zoo ``common/models/fcos.py`` (RetinaNet's head with GN and a
centerness branch on the regression tower, 4 convs of 256 channels, one anchor point per
location, centre sampling radius 1.5 strides, focal loss alpha 0.25 / gamma 2, GIoU box loss,
test score sqrt(cls * centerness) > 0.2, NMS 0.6); only the backbone and the pixel statistics
are swapped. FCOS takes no ``input_format``: the data loader's ``image_format`` must be "RGB".
``slim_head`` of ``retinanet_mnv2_fpn.py`` narrows it (keep the width a multiple of 32 for GN).

yacs / ``DefaultPredictor`` equivalent: ``pointdet.add_pointdet_config(cfg)``,
``MODEL.META_ARCHITECTURE = "FCOS"`` (pointdet's registration of Detectron2's FCOS, keys
``MODEL.FCOS.*``), ``MODEL.BACKBONE.NAME = "build_retinanet_mobilenetv2_fpn_backbone"``,
res3..res5 as in ``retinanet_mnv2_fpn.py``, ``INPUT.FORMAT = "RGB"``.
"""
from pointdet.config import get_model_zoo_config

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2_fpn_p3p7

model = get_model_zoo_config("common/models/fcos.py").model
model.backbone = mobilenetv2_fpn_p3p7(out_channels=256)
model.pixel_mean = PIXEL_MEAN
model.pixel_std = PIXEL_STD
