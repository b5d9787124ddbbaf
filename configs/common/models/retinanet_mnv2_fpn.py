"""Detectron2 RetinaNet on the ImageNet MobileNetV2-FPN backbone (P3-P7), RGB input.

Derived from Detectron2's model-zoo ``common/models/retinanet.py`` (focal loss alpha 0.25 /
gamma 2, 9 anchors per location of 32-512 px, 4 head convs of 256 channels, IoU 0.4 / 0.5
matching); only the backbone, the pixel statistics and the input format are swapped, and the
smooth-L1 beta is set to Detectron2's yacs default (see below). Two slimmer variants for CPU
budgets (the head is ~57% of the forward time):

* ``slim_head(model, channels=128, num_convs=2)``: narrower FPN and a shorter head (also for
  the FCOS config, whose head has the same fields);
* anchor sizes are a list per level (``model.anchor_generator.sizes``), set per dataset.

``model.backbone.bottom_up.weights`` names the ImageNet checkpoint (None: random init).
yacs / ``DefaultPredictor`` equivalent: ``MODEL.META_ARCHITECTURE = "RetinaNet"``,
``MODEL.BACKBONE.NAME = "build_retinanet_mobilenetv2_fpn_backbone"``, ``MODEL.FPN.IN_FEATURES``
and ``MODEL.MOBILENETV2.OUT_FEATURES`` = res3..res5, RGB pixel statistics, ``INPUT.FORMAT = "RGB"``.
"""
from detectron2.layers import ShapeSpec
from pointdet.config import get_model_zoo_config

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2_fpn_p3p7

model = get_model_zoo_config("common/models/retinanet.py").model
model.backbone = mobilenetv2_fpn_p3p7(out_channels=256)  # P6/P7 from P5 (MobileNetV2's C5 is 320 ch)
model.pixel_mean = PIXEL_MEAN
model.pixel_std = PIXEL_STD
model.input_format = "RGB"
# Detectron2's yacs RetinaNet default (MODEL.RETINANET.SMOOTH_L1_LOSS_BETA = 0.1); the zoo's
# LazyConfig leaves the class default 0.0 (L1). The demo configs were trained with 0.1.
model.smooth_l1_beta = 0.1


def slim_head(model, channels=128, num_convs=2):
    """Make ``model`` (a RetinaNet or FCOS config of these bases) cheaper in place: an FPN and
    a head of ``channels`` channels with ``num_convs`` convs per branch. Returns ``model``."""
    model.backbone.out_channels = channels
    model.head.input_shape = [ShapeSpec(channels=channels)] * len(model.head_in_features)
    model.head.conv_dims = [channels] * num_convs
    return model
