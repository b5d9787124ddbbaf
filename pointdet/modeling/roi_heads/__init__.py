"""ROI heads registered in Detectron2's ``ROI_HEADS_REGISTRY``."""
from .mobilenetv2_c4 import MobileNetV2Res5ROIHeads  # noqa: F401
