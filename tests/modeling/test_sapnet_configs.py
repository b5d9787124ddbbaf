"""The paper settings of the SAPNet / SOLOv2 LazyConfigs (values read from the built objects)."""
import os

import pytest
from detectron2.config import LazyConfig, instantiate

import pointdet  # noqa: F401
from pointdet.modeling.sapnet import SAPNet

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "SAPNet")


def _load(name):
    return LazyConfig.load(os.path.join(CONFIGS, name))


def test_coco_r50_1x_paper_values():
    cfg = _load("sapnet_R_50_FPN_1x_coco.py")
    cfg.train.init_checkpoint = ""
    m = instantiate(cfg.model)
    assert isinstance(m, SAPNet)
    assert m.num_grids == [40, 36, 24, 16, 12] and m.strides == [8, 8, 16, 32, 32]
    assert m.scale_ranges == [(1, 96), (48, 192), (96, 384), (192, 768), (384, 2048)]
    assert (m.pos_scale, m.dice_weight, m.focal_weight) == (0.2, 3.0, 1.0)
    assert (m.nms_pre, m.score_thresh, m.mask_thresh, m.filter_thresh, m.nms_sigma, m.max_per_image) == (
        500, 0.1, 0.5, 0.05, 2.0, 100)
    assert m.ins_head.cate_pred.in_channels == 512 and len(m.ins_head.cate_tower) == 4
    assert m.mil_head.fc1.out_features == 1024 and m.mil_head.psm_cls.out_features == 81
    assert m.mil_head.prm_cls.out_features == 80
    assert (m.pdg_exponent, m.psm_weight, m.prm_alpha, m.mps_weight) == (0.015, 0.25, 0.25, 0.25)
    assert (m.neg_iou_thresh, m.part_neg_iou_thresh, m.num_random_negatives) == (0.3, 0.5, 500)
    assert m.bms == dict(t_min1=0.6, t_min2=0.3, contain_slack=0.0) and m.bms_topk == 3
    assert cfg.optimizer.lr == 0.015 and cfg.optimizer.weight_decay == 1e-4
    assert cfg.dataloader.train.total_batch_size == 32
    assert cfg.train.max_iter == 118287 * 12 // 32
    sched = instantiate(cfg.lr_multiplier)
    assert sched(0.5) == 1.0 and sched(9 / 12) == pytest.approx(0.1) and sched(11.5 / 12) == pytest.approx(0.01)


def test_reference_and_3x_variants():
    ref = instantiate(_load("sapnet_R_50_FPN_1x_coco_reference.py").model)
    assert (ref.pdg_mode, ref.pdg_distance_power, ref.neg_normalizer, ref.bms_in_psm, ref.mps_mode) == (
        "reference", 0.5, "bags", True, "reference")
    assert ref.pdg_exponent == pytest.approx(1 / 64)
    cfg = _load("sapnet_R_101_FPN_3x_ms_coco.py")
    assert cfg.model.mps_weight == 0.0 and cfg.model.backbone.bottom_up.stages.depth == 101
    assert cfg.train.max_iter == 118287 * 36 // 32


def test_table4_ablations_switch_one_component_each():
    m = {k: _load(f"sapnet_R_50_FPN_1x_coco_table4_{k}.py").model for k in ("mil1", "pdg", "mil2", "pnpg", "bms")}
    assert (m["mil1"].use_prm, m["mil1"].pdg_exponent) == (False, 0.0)
    assert (m["pdg"].use_prm, m["pdg"].pdg_exponent) == (False, 0.015)
    assert m["mil2"].ppg_num_enlarge == 0 and m["mil2"].num_random_negatives == 0 and m["mil2"].bms_topk == 0
    assert m["pnpg"].ppg_num_enlarge == 15 and m["pnpg"].bms_topk == 0
    assert m["bms"].bms_topk == 3 and all(x.mps_weight == 0.0 for x in m.values())
    assert isinstance(instantiate(m["mil2"]), SAPNet)
