"""yacs keys of CPRNet (``cfg.MODEL.CPR``), with the paper's / reference's defaults."""
from detectron2.config import CfgNode as CN

__all__ = ["add_cprnet_config"]


def add_cprnet_config(cfg):
    """Add ``cfg.MODEL.CPR`` to a Detectron2 ``CfgNode`` in place (never the global defaults)."""
    _C = cfg
    _C.MODEL.CPR = CN()
    _C.MODEL.CPR.IN_FEATURE = "p3"  # COCO: P3 (stride 8); "p2" for tiny objects (SeaPerson)
    _C.MODEL.CPR.NUM_CLASSES = 80
    _C.MODEL.CPR.BAG_RADIUS = 8  # R, in feature cells (Table 4a)
    _C.MODEL.CPR.CIRCLE_DENSITY = 8  # u0 (Eq. 1)
    _C.MODEL.CPR.APPEND_CENTER = True  # reference: the bag also holds the annotated point

    _C.MODEL.CPR.HEAD = CN()
    _C.MODEL.CPR.HEAD.NUM_CONVS = 4
    _C.MODEL.CPR.HEAD.CONV_DIMS = 256
    _C.MODEL.CPR.HEAD.NORM = "GN"  # "GN" or "" (none)
    _C.MODEL.CPR.HEAD.NUM_GROUPS = 32
    _C.MODEL.CPR.HEAD.PRIOR_PROB = 0.01

    _C.MODEL.CPR.LOSS = CN()
    # paper Eq. 3 weights 1 / 0.5 / 3 times the reference's global 0.25
    _C.MODEL.CPR.LOSS.MIL_WEIGHT = 0.25
    _C.MODEL.CPR.LOSS.ANNOTATION_WEIGHT = 0.125
    _C.MODEL.CPR.LOSS.NEGATIVE_WEIGHT = 0.75
    _C.MODEL.CPR.LOSS.ALL_POSITIVE_WEIGHT = 0.25
    _C.MODEL.CPR.LOSS.FOCAL_GAMMA = 2.0
    _C.MODEL.CPR.LOSS.FOCAL_EPS = 1e-6
    _C.MODEL.CPR.LOSS.USE_MIL = True
    _C.MODEL.CPR.LOSS.USE_ANNOTATION = True
    _C.MODEL.CPR.LOSS.USE_NEGATIVE = True
    _C.MODEL.CPR.LOSS.USE_ALL_POSITIVE = False  # Table 2 "pos loss"

    _C.MODEL.CPR.REFINE = CN()
    _C.MODEL.CPR.REFINE.BAG_RADIUS = None  # R of the refinement bags; None = BAG_RADIUS (reference)
    _C.MODEL.CPR.REFINE.SCORE_THRESHOLD = 0.1  # delta_1
    _C.MODEL.CPR.REFINE.RELATIVE_SCORE_THRESHOLD = 0.5  # delta_2
    _C.MODEL.CPR.REFINE.CLASSIFY_FILTER = True  # constraint II
    _C.MODEL.CPR.REFINE.NEAREST_FILTER = True  # constraint III
    _C.MODEL.CPR.REFINE.RESTRICT_TO_IMAGE = True
    _C.MODEL.CPR.REFINE.ALWAYS_INCLUDE_ANNOTATED = True  # paper Alg. 2; False = reference code
    _C.MODEL.CPR.REFINE.REFINE_TH = 0.1
    return cfg
