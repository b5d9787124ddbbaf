"""yacs keys of DMiner (``cfg.MODEL.DMINER``), with the paper's defaults (SIOD, Li et al. CVPR 2022)."""
from detectron2.config import CfgNode as CN

__all__ = ["add_dminer_config", "dminer_from_config"]


def add_dminer_config(cfg):
    """Add ``cfg.MODEL.DMINER`` in place (never Detectron2's global defaults); returns ``cfg``."""
    _C = cfg
    _C.MODEL.DMINER = CN()
    _C.MODEL.DMINER.ENABLED = False  # False: the plain detector (FSOD / SIOD base)
    _C.MODEL.DMINER.USE_SPLG = True
    _C.MODEL.DMINER.USE_PGCL = True
    _C.MODEL.DMINER.SIM_THRESHOLD = 0.6  # T_sim (Eq. 4)
    _C.MODEL.DMINER.STRICT_THRESHOLD = False  # False: v >= T_sim (reference); True: v > T_sim (paper)
    _C.MODEL.DMINER.SCALE = 1.0  # eta (Eq. 4)
    _C.MODEL.DMINER.TOP_M = 128  # m (Sec. 3.3)
    _C.MODEL.DMINER.TAU = 0.07  # tau (Eq. 6)
    _C.MODEL.DMINER.PGCL_WEIGHT = 0.1  # lambda_pgcl (Eq. 2)
    _C.MODEL.DMINER.PGCL_NORMALIZATION = "reference"  # or "paper" (Eq. 6 as printed)
    _C.MODEL.DMINER.LOSS_MASK = False  # reference option: top-m cells add no negative focal term
    # Faster R-CNN C4: the class-wise branch beside the RPN (MODEL.PROPOSAL_GENERATOR.NAME = "DMinerRPN")
    _C.MODEL.DMINER.RPN_BRANCH_DIMS = 256
    _C.MODEL.DMINER.RPN_POOL_KERNEL_SIZES = [1, 3, 5, 7, 9]  # one per anchor size (32..512)
    _C.MODEL.DMINER.RPN_PSEUDO_IGNORE_THRESHOLD = 0.6  # background anchors with pooled pseudo >= it are ignored
    _C.MODEL.DMINER.RPN_BRANCH_LOSS_WEIGHT = 1.0
    # FCOS (MODEL.META_ARCHITECTURE = "FCOSDMiner"): m per level for P3, P4, P5
    _C.MODEL.DMINER.FCOS_TOP_M = [96, 64, 32]
    _C.MODEL.DMINER.FCOS_PSEUDO_BETA = 4.0  # soft negatives weighted by (1 - pseudo)^beta
    return cfg


def dminer_from_config(cfg):
    """The :class:`DMiner` of ``cfg.MODEL.DMINER``, or None when it is not enabled."""
    from .dminer import DMiner

    d = cfg.MODEL.DMINER
    if not d.ENABLED:
        return None
    return DMiner(
        use_splg=d.USE_SPLG,
        use_pgcl=d.USE_PGCL,
        sim_threshold=d.SIM_THRESHOLD,
        strict_threshold=d.STRICT_THRESHOLD,
        scale=d.SCALE,
        top_m=d.TOP_M,
        tau=d.TAU,
        pgcl_weight=d.PGCL_WEIGHT,
        pgcl_normalization=d.PGCL_NORMALIZATION,
        loss_mask=d.LOSS_MASK,
    )
