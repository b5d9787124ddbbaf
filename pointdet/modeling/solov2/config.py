"""yacs keys of SOLOv2 (``cfg.MODEL.SOLOV2``), with the SOLOv2 paper's / SAPNet reference's defaults."""
from detectron2.config import CfgNode as CN

__all__ = ["add_solov2_config"]


def add_solov2_config(cfg):
    """Add ``cfg.MODEL.SOLOV2`` to a Detectron2 ``CfgNode`` in place (never the global defaults)."""
    _C = cfg
    _C.MODEL.SOLOV2 = CN()
    _C.MODEL.SOLOV2.NUM_CLASSES = 80
    # category / kernel branches: P2-P6; P2 is resized to P3's size and P6 to P5's
    _C.MODEL.SOLOV2.IN_FEATURES = ["p2", "p3", "p4", "p5", "p6"]
    _C.MODEL.SOLOV2.NUM_GRIDS = [40, 36, 24, 16, 12]
    _C.MODEL.SOLOV2.SCALE_RANGES = [[1, 96], [48, 192], [96, 384], [192, 768], [384, 2048]]  # sqrt(w*h)
    _C.MODEL.SOLOV2.STRIDES = [8, 8, 16, 32, 32]  # a mask must cover more pixels than its level's stride
    _C.MODEL.SOLOV2.POS_SCALE = 0.2  # epsilon of the centre region
    _C.MODEL.SOLOV2.FEAT_CHANNELS = 512
    _C.MODEL.SOLOV2.STACKED_CONVS = 4
    _C.MODEL.SOLOV2.NORM = "GN"  # "GN" or "" (none)
    _C.MODEL.SOLOV2.NUM_GROUPS = 32
    _C.MODEL.SOLOV2.PRIOR_PROB = 0.01
    # unified mask-feature branch: P2-P5 to stride 4
    _C.MODEL.SOLOV2.MASK_IN_FEATURES = ["p2", "p3", "p4", "p5"]
    _C.MODEL.SOLOV2.MASK_FEAT_CHANNELS = 128
    _C.MODEL.SOLOV2.MASK_OUT_CHANNELS = 256  # E, also the dynamic kernel size (1x1 kernels)

    _C.MODEL.SOLOV2.LOSS = CN()
    _C.MODEL.SOLOV2.LOSS.DICE_WEIGHT = 3.0
    _C.MODEL.SOLOV2.LOSS.FOCAL_WEIGHT = 1.0
    _C.MODEL.SOLOV2.LOSS.FOCAL_ALPHA = 0.25
    _C.MODEL.SOLOV2.LOSS.FOCAL_GAMMA = 2.0

    _C.MODEL.SOLOV2.TEST = CN()
    _C.MODEL.SOLOV2.TEST.NMS_PRE = 500
    _C.MODEL.SOLOV2.TEST.SCORE_THRESH = 0.1
    _C.MODEL.SOLOV2.TEST.MASK_THRESH = 0.5
    _C.MODEL.SOLOV2.TEST.FILTER_THRESH = 0.05  # after Matrix NMS
    _C.MODEL.SOLOV2.TEST.NMS_KERNEL = "gaussian"
    _C.MODEL.SOLOV2.TEST.NMS_SIGMA = 2.0
    _C.MODEL.SOLOV2.TEST.MAX_PER_IMAGE = 100
    return cfg
