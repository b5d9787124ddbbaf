"""Backbones (registered in Detectron2's ``BACKBONE_REGISTRY``) and their ImageNet inputs."""
from . import imagenet, mobilenetv2  # noqa: F401  (pointdet:// paths; MobileNetV2 / -FPN backbones)
from .imagenet import (  # noqa: F401
    IMAGENET_RGB_PIXEL_MEAN,
    IMAGENET_RGB_PIXEL_STD,
    MOBILENET_V2_IMAGENET_WEIGHTS,
    MSRA_BGR_PIXEL_MEAN,
    MSRA_BGR_PIXEL_STD,
)
from .mobilenetv2 import MobileNetV2Backbone, mobilenetv2_stage  # noqa: F401
