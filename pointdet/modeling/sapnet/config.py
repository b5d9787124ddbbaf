"""yacs keys of SAPNet (``cfg.MODEL.SAPNET``), with the paper's defaults (SOLOv2 keys: ``MODEL.SOLOV2``)."""
from detectron2.config import CfgNode as CN

__all__ = ["add_sapnet_config"]


def add_sapnet_config(cfg):
    """Add ``cfg.MODEL.SAPNET`` to a Detectron2 ``CfgNode`` in place (never the global defaults)."""
    _C = cfg
    _C.MODEL.SAPNET = CN()
    _C.MODEL.SAPNET.ROI_IN_FEATURES = ["p2", "p3", "p4", "p5", "p6"]
    _C.MODEL.SAPNET.POOLER_RESOLUTION = 7
    _C.MODEL.SAPNET.FC_DIM = 1024
    _C.MODEL.SAPNET.PDG_MODE = "paper"  # "paper" (Eq. 3, on the selection score) or "reference" (logits)
    _C.MODEL.SAPNET.PDG_EXPONENT = 0.015  # d (Supp. Sec. 8); reference 1/64
    _C.MODEL.SAPNET.PDG_DISTANCE_POWER = 1.0  # Euclidean; reference 0.5
    _C.MODEL.SAPNET.PSM_WEIGHT = 0.25  # lambda (Eq. 9)
    _C.MODEL.SAPNET.PRM_ALPHA = 0.25  # alpha (Eq. 8): alpha on L_pos, 1 - alpha on L_neg
    _C.MODEL.SAPNET.PRM_FOCAL_GAMMA = 2.0
    _C.MODEL.SAPNET.NEG_NORMALIZER = "negatives"  # |U| (Eq. 7); "bags": the reference
    _C.MODEL.SAPNET.NUM_RANDOM_NEGATIVES = 500
    _C.MODEL.SAPNET.NEG_IOU_THRESH = 0.3  # T_neg1 (Table 8)
    _C.MODEL.SAPNET.PART_NEG_IOU_THRESH = 0.5  # T_neg2 (Table 8)
    _C.MODEL.SAPNET.PART_NEG_MIN_AREA = 4096.0
    _C.MODEL.SAPNET.PPG_NUM_ENLARGE = 15
    _C.MODEL.SAPNET.PPG_ENLARGE_STEP = 0.01
    _C.MODEL.SAPNET.PPG_NUM_ADAPTIVE = 5
    _C.MODEL.SAPNET.PPG_ADAPTIVE_STEP = 0.005  # v (Eq. 4)
    _C.MODEL.SAPNET.BMS_T_MIN1 = 0.6  # Table 5
    _C.MODEL.SAPNET.BMS_T_MIN2 = 0.3
    _C.MODEL.SAPNET.BMS_TOPK = 3  # Supp. Sec. 8
    _C.MODEL.SAPNET.BMS_CONTAIN_SLACK = 0.0  # reference: 2 px
    _C.MODEL.SAPNET.BMS_IN_PSM = False  # reference: BMS also after the PSM selection
    _C.MODEL.SAPNET.MPS_WEIGHT = 0.25  # gamma (Eq. 11); 0 switches MPS off
    _C.MODEL.SAPNET.MPS_MODE = "paper"  # or "reference" (ranks 1/3/5)
    _C.MODEL.SAPNET.USE_PRM = True  # False: the single-MIL baseline
    return cfg
