"""yacs keys of the multi-class P2PNet localizer (CPR paper Sec. 4.2; projects/CPR/README.md).

Defaults are the paper/reference COCO settings. ``add_p2pnet_config(cfg)`` only adds keys to
the given ``cfg``; it never touches Detectron2's global defaults.
"""
from detectron2.config import CfgNode as CN

__all__ = ["add_p2pnet_config"]


def add_p2pnet_config(cfg):
    """Add ``cfg.MODEL.P2PNET`` (in place) and return ``cfg``."""
    _C = cfg
    _C.MODEL.P2PNET = CN()
    _C.MODEL.P2PNET.NUM_CLASSES = 80
    # Single feature map the head runs on: "p3" (stride 8, COCO), "p2" (stride 4, SeaPerson),
    # "p4" (stride 16, DOTA).
    _C.MODEL.P2PNET.IN_FEATURE = "p3"
    # Head: separate cls / reg towers of NUM_CONVS 3x3 convs (4; 3 for DOTA).
    _C.MODEL.P2PNET.NUM_CONVS = 4
    _C.MODEL.P2PNET.CONV_DIMS = 256
    _C.MODEL.P2PNET.NORM = "GN"
    _C.MODEL.P2PNET.PRIOR_PROB = 0.01
    # Anchor points per cell, as offsets in units of the stride. pointdet's default (0.5, 0.5)
    # is the cell centre in Detectron2's continuous convention; the reference uses (0, 0).
    _C.MODEL.P2PNET.ANCHOR_OFFSETS = [[0.5, 0.5]]
    # Assignment: top-k repeated Hungarian matching on 2.0 * focal cost + 0.1 * L1 (px).
    _C.MODEL.P2PNET.MATCH_TOPK = 5
    _C.MODEL.P2PNET.MATCH_CLS_WEIGHT = 2.0
    _C.MODEL.P2PNET.MATCH_DIST_WEIGHT = 0.1
    # Losses: sigmoid focal (alpha 0.25, gamma 2, weight 1) and smooth-L1 on points / stride.
    _C.MODEL.P2PNET.FOCAL_LOSS_ALPHA = 0.25
    _C.MODEL.P2PNET.FOCAL_LOSS_GAMMA = 2.0
    _C.MODEL.P2PNET.CLS_LOSS_WEIGHT = 1.0
    _C.MODEL.P2PNET.SMOOTH_L1_BETA = 1.0 / 9.0
    _C.MODEL.P2PNET.REG_LOSS_WEIGHT = 0.5
    # Inference: top-k cells by max score, score threshold, point NMS with pseudo boxes of
    # NMS_BOX_SIZE_TEST px (original image) and IoU NMS_THRESH_TEST; at most
    # TEST.DETECTIONS_PER_IMAGE points per image.
    _C.MODEL.P2PNET.TOPK_CANDIDATES_TEST = 1000
    _C.MODEL.P2PNET.SCORE_THRESH_TEST = 0.05
    _C.MODEL.P2PNET.NMS_BOX_SIZE_TEST = 32
    _C.MODEL.P2PNET.NMS_THRESH_TEST = 0.01
    return cfg
