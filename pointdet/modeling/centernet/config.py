"""yacs keys of CenterNet (``cfg.MODEL.CENTERNET``) and of DMiner (``cfg.MODEL.DMINER``), with the
reference / paper defaults (SIOD, Li et al. CVPR 2022, Sec. 3.1, Eq. 2)."""
from detectron2.config import CfgNode as CN

from ..dminer.config import add_dminer_config

__all__ = ["add_centernet_config"]


def add_centernet_config(cfg):
    """Add ``cfg.MODEL.CENTERNET`` and ``cfg.MODEL.DMINER`` in place; returns ``cfg``.

    The backbone is Detectron2's (``MODEL.BACKBONE.NAME``), e.g. ``build_resnet_backbone`` with
    ``MODEL.RESNETS.DEPTH = 18``, ``RES2_OUT_CHANNELS = 64``, ``OUT_FEATURES = ["res5"]``, or
    ``build_mobilenetv2_backbone`` with ``MODEL.MOBILENETV2.OUT_FEATURES = ["res5"]``.
    """
    _C = cfg
    _C.MODEL.CENTERNET = CN()
    _C.MODEL.CENTERNET.NUM_CLASSES = 80
    _C.MODEL.CENTERNET.IN_FEATURE = "res5"  # the stride-32 backbone map
    _C.MODEL.CENTERNET.NECK_CHANNELS = [256, 128, 64]
    _C.MODEL.CENTERNET.NECK_CONV = "dcn"  # "dcn" (torchvision DCNv2) or "plain"
    _C.MODEL.CENTERNET.NECK_NORM = "BN"
    _C.MODEL.CENTERNET.HEAD_CONV = 64
    _C.MODEL.CENTERNET.HEATMAP_BIAS = -2.19
    _C.MODEL.CENTERNET.MIN_OVERLAP = 0.7  # CornerNet radius
    _C.MODEL.CENTERNET.HEATMAP_WEIGHT = 1.0
    _C.MODEL.CENTERNET.SIZE_WEIGHT = 0.1  # lambda_size
    _C.MODEL.CENTERNET.OFFSET_WEIGHT = 1.0  # lambda_off
    _C.MODEL.CENTERNET.TEST_TOPK = 100
    _C.MODEL.CENTERNET.TEST_SCORE_THRESH = 0.0  # the reference keeps all top-K
    add_dminer_config(cfg)
    return cfg
