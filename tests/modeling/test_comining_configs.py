"""The Co-mining experiment configs (``configs/CoMining/``): one base per detector, the five
schemes as edits of it, the paper's COCO settings, and every sparse level through
``sparse_level_overrides`` (registered training set and tau of that level)."""
import os

import pytest
from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog, DatasetMapper
from detectron2.modeling.meta_arch import RetinaNet

import pointdet  # noqa: F401
from configs.common.comining_schemes import SCHEMES, apply_scheme, as_comining
from pointdet.data.dataset_mapper import TwoViewDatasetMapper
from pointdet.modeling.comining import (
    PAPER_SCORE_THRESH,
    PAPER_SCORE_THRESH_FCOS,
    SPARSE_LEVELS,
    CoMiningFCOS,
    CoMiningRetinaNet,
    sparse_level_overrides,
    sparse_train_name,
)
from pointdet.modeling.meta_arch import FCOS

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "configs", "CoMining")
FLAGS = {
    "augmented": (False, False, "augmented"),
    "joint": (True, False, None),
    "cogen": (False, True, "original"),
    "comining": (True, True, None),
}


def test_sparse_settings():
    assert SPARSE_LEVELS == ("full", "easy", "hard", "extreme", "50miss")
    assert PAPER_SCORE_THRESH == {"full": 0.6, "easy": 0.6, "hard": 0.6, "extreme": 0.5, "50miss": 0.6}
    assert sparse_train_name("coco_2017_train", "full") == "coco_2017_train"
    assert sparse_train_name("coco_2017_train", "extreme", 2) == "coco_2017_train_sparse_extreme_s2"
    assert sparse_level_overrides("extreme") == [
        "dataloader.train.dataset.names=coco_2017_train_sparse_extreme_s0", "model.pseudo_score_thresh=0.5"]
    assert sparse_level_overrides("easy", co_mining=False) == ["dataloader.train.dataset.names=coco_2017_train_sparse_easy_s0"]
    assert PAPER_SCORE_THRESH_FCOS == dict(PAPER_SCORE_THRESH, easy=0.5)
    assert sparse_level_overrides("easy", detector="fcos")[1] == "model.pseudo_score_thresh=0.5"
    with pytest.raises(ValueError, match="sparse level"):
        sparse_train_name("coco_2017_train", "medium")


@pytest.mark.parametrize("det,cls,stock,nms", [("retinanet", CoMiningRetinaNet, RetinaNet, 0.5), ("fcos", CoMiningFCOS, FCOS, 0.6)])
@pytest.mark.parametrize("where", ["R_50_FPN_coco", "mnv2_fpn_trees"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_scheme_files_differ_from_the_base_only_by_the_scheme(det, cls, stock, nms, where, scheme):
    cfg = LazyConfig.load(os.path.join(CONFIGS, f"{det}_{where}_{scheme}.py"))
    base = LazyConfig.load(os.path.join(CONFIGS, f"base_{det}_{where}.py"))
    if where == "mnv2_fpn_trees":  # every scheme: the paper's lr (0.01 at 16 images) scaled to 4 tiles
        assert cfg.dataloader.train.total_batch_size == 4 and cfg.optimizer.lr == pytest.approx(0.0025)
    apply_scheme(base.model, base.dataloader, scheme)
    assert LazyConfig.to_py(cfg.model) == LazyConfig.to_py(base.model)
    assert LazyConfig.to_py(cfg.dataloader) == LazyConfig.to_py(base.dataloader)
    if scheme == "original":
        assert cfg.model._target_ is stock and "pseudo_score_thresh" not in cfg.model
        assert cfg.dataloader.train.mapper._target_ is DatasetMapper
        return
    assert cfg.model._target_ is cls and cfg.dataloader.train.mapper._target_ is TwoViewDatasetMapper
    siamese, cogen, view = FLAGS[scheme]
    assert (cfg.model.siamese, cfg.model.co_generation) == (siamese, cogen)
    if view:
        assert cfg.model.single_view == view
    assert (cfg.model.pseudo_score_thresh, cfg.model.pseudo_nms_thresh, cfg.model.pseudo_duplicate_iou_thresh,
            cfg.model.pseudo_topk_candidates, cfg.model.pseudo_max_per_image) == (0.6, nms, 0.4, 1000, 100)  # fmt: skip
    assert cfg.dataloader.train.dataset.names.endswith("_sparse_hard_s0")


@pytest.mark.parametrize("det", ["retinanet", "fcos"])
def test_paper_coco_settings(det):
    cfg = LazyConfig.load(os.path.join(CONFIGS, f"{det}_R_50_FPN_coco_comining.py"))
    assert cfg.optimizer.lr == 0.01 and cfg.optimizer.momentum == 0.9 and cfg.optimizer.weight_decay == 1e-4
    assert cfg.train.max_iter == 90000 and cfg.train.reference_world_size == 8
    assert cfg.dataloader.train.total_batch_size == 16
    assert cfg.train.init_checkpoint == "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
    sched = instantiate(cfg.lr_multiplier)
    assert sched(0.0) == pytest.approx(0.001) and sched(500 / 90000) == pytest.approx(0.001 + 0.999 * 0.5)
    assert sched(59999 / 90000) == 1.0 and sched(60001 / 90000) == pytest.approx(0.1)
    assert sched(80001 / 90000) == pytest.approx(0.01)
    assert cfg.model.backbone.bottom_up.freeze_at == 2
    augs = cfg.dataloader.train.mapper.augmentations
    assert augs[0].short_edge_length == 800 and augs[0].max_size == 1333 and augs[1].horizontal
    if det == "retinanet":
        assert cfg.model.smooth_l1_beta == 0.1
    r101 = LazyConfig.load(os.path.join(CONFIGS, "retinanet_R_101_FPN_coco_50miss_comining.py"))
    assert r101.model.backbone.bottom_up.stages.depth == 101
    assert r101.dataloader.train.dataset.names == "coco_2017_train_sparse_50miss_s0"
    assert r101.train.init_checkpoint.endswith("R-101.pkl")


@pytest.mark.parametrize("det", ["retinanet", "fcos"])
@pytest.mark.parametrize("level", SPARSE_LEVELS)
def test_every_level_and_scheme_builds(det, level):
    for scheme in SCHEMES:
        cfg = LazyConfig.load(os.path.join(CONFIGS, f"{det}_R_50_FPN_coco_{scheme}.py"))
        cfg = LazyConfig.apply_overrides(
            cfg, sparse_level_overrides(level, co_mining=scheme in ("cogen", "comining"), detector=det))
        assert cfg.dataloader.train.dataset.names in DatasetCatalog.list()
        if scheme in ("cogen", "comining"):
            table = PAPER_SCORE_THRESH if det == "retinanet" else PAPER_SCORE_THRESH_FCOS
            assert cfg.model.pseudo_score_thresh == table[level]
        if scheme == "comining":  # the training mapper builds (the models build in tests/test_configs.py)
            assert isinstance(instantiate(cfg.dataloader.train.mapper), TwoViewDatasetMapper)


@pytest.mark.parametrize("target,theta1", [(CoMiningRetinaNet, 0.5), (CoMiningFCOS, 0.6)])
def test_as_comining_sets_the_paper_values_with_the_detectors_nms(target, theta1):
    """tau 0.6, theta2 0.4, 1,000 candidates per level, 100 pseudo boxes per image, and theta1 =
    the detector's own test NMS threshold (RetinaNet 0.5, FCOS 0.6), as every Co-mining base uses."""
    model = LazyConfig.load(os.path.join(CONFIGS, "base_retinanet_mnv2_fpn_trees.py")).model
    as_comining(model, target)
    assert model._target_ is target
    got = {k: model[k] for k in ("pseudo_score_thresh", "pseudo_nms_thresh", "pseudo_duplicate_iou_thresh",
                                 "pseudo_topk_candidates", "pseudo_max_per_image", "normalizer_momentum")}  # fmt: skip
    assert got == {"pseudo_score_thresh": 0.6, "pseudo_nms_thresh": theta1, "pseudo_duplicate_iou_thresh": 0.4,
                   "pseudo_topk_candidates": 1000, "pseudo_max_per_image": 100, "normalizer_momentum": 0.9}  # fmt: skip
    with pytest.raises(ValueError, match="CoMiningRetinaNet or CoMiningFCOS"):
        as_comining(model, RetinaNet)
