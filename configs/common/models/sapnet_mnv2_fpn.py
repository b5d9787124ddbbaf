"""SAPNet (Wei et al., CVPR 2024) on the MobileNetV2-FPN SOLOv2 of ``solov2_mnv2_fpn.py``.

``sapnet(solov2_model)`` turns a SOLOv2 LazyConfig into SAPNet with the paper's defaults:
RoIAlign 7x7 over P2-P6, MIL head of two shared FC-1024; PDG d = 0.015 on the selection score;
lambda = 0.25 (PSM), alpha = 0.25 (PRM positive) / 0.75 (negative, times beta); NPG 500 random
boxes with T_neg1 0.3, part negatives T_neg2 0.5 for objects > 64x64 px; PPG 15 + 5 boxes
(v = 0.005); BMS T_min1 0.6 / T_min2 0.3 over the top-3 by score; MPS gamma = 0.25. The
reference code's variants are options (projects/SAPNet/README.md, "Differences").
"""
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec

from pointdet.modeling.sapnet import SAPNet, SAPNetMILHead

from .solov2_mnv2_fpn import model as _solov2


def sapnet(solov2_model, fc_dim=1024):
    """A copy of ``solov2_model`` (a ``L(SOLOv2)`` node) as ``L(SAPNet)`` with the paper's defaults."""
    m = solov2_model.copy() if hasattr(solov2_model, "copy") else solov2_model
    m._target_ = SAPNet
    m.mil_head = L(SAPNetMILHead)(
        input_shape=L(ShapeSpec)(channels="${...backbone.out_channels}", height=7, width=7),
        num_classes="${..num_classes}",
        fc_dim=fc_dim,
    )
    m.roi_in_features = ["p2", "p3", "p4", "p5", "p6"]
    m.pooler_resolution = 7
    m.pdg_mode = "paper"
    m.pdg_exponent = 0.015
    m.pdg_distance_power = 1.0
    m.psm_weight = 0.25
    m.prm_alpha = 0.25
    m.prm_focal_gamma = 2.0
    m.neg_normalizer = "negatives"
    m.num_random_negatives = 500
    m.neg_iou_thresh = 0.3
    m.part_neg_iou_thresh = 0.5
    m.part_neg_min_area = 64 * 64
    m.ppg_num_enlarge = 15
    m.ppg_enlarge_step = 0.01
    m.ppg_num_adaptive = 5
    m.ppg_adaptive_step = 0.005
    m.bms_t_min1 = 0.6
    m.bms_t_min2 = 0.3
    m.bms_topk = 3
    m.bms_contain_slack = 0.0
    m.bms_in_psm = False
    m.mps_weight = 0.25
    m.mps_mode = "paper"
    m.use_prm = True  # False: the single-MIL baseline
    return m


def reference_variant(model):
    """The reference code's choices where it differs from the paper (projects/SAPNet/README.md)."""
    model.pdg_mode = "reference"
    model.pdg_exponent = 0.25 * 0.0625
    model.pdg_distance_power = 0.5
    model.neg_normalizer = "bags"
    model.bms_contain_slack = 2.0
    model.bms_in_psm = True
    model.mps_mode = "reference"
    return model


model = sapnet(_solov2)
