"""DMiner (SIOD, Li et al. CVPR 2022) as LazyConfig pieces, with the paper's defaults.

* ``dminer(...)``: :class:`pointdet.modeling.dminer.DMiner` (SPLG T_sim 0.6 with v >= T_sim,
  eta 1.0; PGCL m 128, tau 0.07, lambda 0.1, the reference's normalisation; no loss mask).
  ``splg_only()`` / ``pgcl_only()`` are the Table 3 ablations; the two-stage recipe is
  ``pgcl_only(loss_mask=True)`` then ``splg_only()`` fine-tuned (projects/SIOD/README.md).
* ``with_dminer_fcos(model)``: turns an FCOS config into :class:`FCOSDMiner` (P3-P5, m = 96/64/32).
* ``with_dminer_rpn(model)``: turns a C4 Faster R-CNN config's RPN into :class:`DMinerRPN` (the
  class-wise branch beside the RPN, pseudo labels pooled with kernels 1/3/5/7/9 per anchor size).
  Training only: the checkpoint loads into the stock model.
"""
from detectron2.config import LazyCall as L

from pointdet.modeling.dminer import DMiner, DMinerBranch, DMinerRPN, FCOSDMiner


def dminer(**overrides):
    """LazyCall of :class:`DMiner` with the paper's defaults (keyword arguments override)."""
    kw = dict(
        use_splg=True,
        use_pgcl=True,
        sim_threshold=0.6,
        strict_threshold=False,
        scale=1.0,
        top_m=128,
        tau=0.07,
        pgcl_weight=0.1,
        pgcl_normalization="reference",
        loss_mask=False,
    )
    kw.update(overrides)
    return L(DMiner)(**kw)


def splg_only(**overrides):
    return dminer(use_pgcl=False, **overrides)


def pgcl_only(**overrides):
    return dminer(use_splg=False, **overrides)


def with_dminer_fcos(model, miner=None, top_m=(96, 64, 32), pseudo_beta=4.0):
    """In place: FCOS -> FCOSDMiner (same state-dict keys). Returns ``model``."""
    model._target_ = FCOSDMiner
    model.dminer = dminer() if miner is None else miner
    model.dminer_top_m = list(top_m)
    model.pseudo_beta = pseudo_beta
    model.min_overlap = 0.7
    return model


def with_dminer_rpn(model, miner=None, kernel_sizes=(1, 3, 5, 7, 9), branch_dims=256, pseudo_ignore_threshold=None):
    """In place: the RPN of a C4 ``GeneralizedRCNN`` config -> DMinerRPN; the branch's classes follow
    ``model.roi_heads.num_classes``. Returns ``model``."""
    pg = model.proposal_generator
    pg._target_ = DMinerRPN
    pg.branch = L(DMinerBranch)(in_channels="${..head.in_channels}", num_classes="${...roi_heads.num_classes}",
                                conv_dims=branch_dims)
    pg.dminer = dminer() if miner is None else miner
    pg.num_classes = "${..roi_heads.num_classes}"
    pg.pool_kernel_sizes = list(kernel_sizes)
    pg.pseudo_ignore_threshold = pseudo_ignore_threshold
    pg.min_overlap = 0.7
    pg.branch_loss_weight = 1.0
    return model
