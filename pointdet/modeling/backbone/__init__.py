from . import mobilenetv2  # noqa: F401  (MobileNetV2 / MobileNetV2-FPN backbones)
