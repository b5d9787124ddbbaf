"""Every paper default of the CPR / P2PNet configs and yacs keys, against the paper's value.

One row per (config, key): the value the CPR paper (Yu et al., "Object Localization under
Single Coarse Point Supervision", CVPR 2022) gives, with its section; where the paper is
silent, the reference implementation's value, marked "reference" (projects/CPR/README.md lists
every place where pointdet differs from either). Loss weights are the paper's Eq. 3 weights
(1 / alpha_ann 0.5 / alpha_neg 3) times the reference's global 0.25.
"""
import inspect
import os

import pytest

from detectron2.config import LazyConfig, get_cfg

from pointdet.modeling.cpr import CPRNet, CPRRefinementParams, add_cprnet_config
from pointdet.modeling.p2pnet import P2PNet, add_p2pnet_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SOURCES = {
    "cprnet_common": "configs/common/models/cprnet_mnv2_fpn.py",
    "cprnet_R50": "configs/CPR/cprnet_R_50_FPN_1x_coco.py",
    "p2pnet_common": "configs/common/models/p2pnet_mnv2_fpn.py",
    "p2pnet_R50": "configs/CPR/p2pnet_R_50_FPN_1x_coco400_coarse.py",
    "p2pnet_R101": "configs/CPR/p2pnet_R_101_FPN_1x_coco400_coarse.py",
}

# (config, key, paper value, where the value comes from)
CPRNET_MODEL_ROWS = [
    ("model.in_feature", "p3", "Sec. 4.3 'Feature Map Level': P3 for COCO"),
    ("model.bag_radius", 8, "Sec. 4.3 'Sampling Scope', Table 4a: R = 8 on P3"),
    ("model.circle_density", 8, "Sec. 3.1 'Point Bag Construction': u_0 = 8"),
    ("model.head.num_convs", 4, "Sec. 3.2 'CPRNet': four 3x3 convs with ReLU"),
    ("model.mil_loss_weight", 0.25, "Sec. 3.2 Eq. 3: L_MIL weight 1 (x reference 0.25)"),
    ("model.annotation_loss_weight", 0.125, "Sec. 3.2 Eq. 3: alpha_ann = 0.5 (x 0.25)"),
    ("model.negative_loss_weight", 0.75, "Sec. 3.2 Eq. 3: alpha_neg = 3 (x 0.25)"),
    ("model.focal_gamma", 2.0, "Sec. 3.2 Eq. 4 and 10: gamma = 2"),
    ("model.use_mil_loss", True, "Sec. 3.2, Table 2: MIL + ann + neg"),
    ("model.use_annotation_loss", True, "Sec. 3.2, Table 2: MIL + ann + neg"),
    ("model.use_negative_loss", True, "Sec. 3.2, Table 2: MIL + ann + neg"),
    ("model.use_all_positive_loss", False, "Table 2: the 'pos' loss is an ablation"),
    ("model.refine_bag_radius", None, "reference: the refinement bags use the training R"),
    ("model.refinement.score_threshold", 0.1, "Sec. 3.3 constraint I: delta_1 = 0.1"),
    ("model.refinement.relative_score_threshold", 0.5, "Sec. 3.3 constraint I: delta_2 = 0.5"),
    ("model.refinement.use_classify_filter", True, "Sec. 3.3 constraint II, Table 4c"),
    ("model.refinement.use_nearest_filter", True, "Sec. 3.3 constraint III, Table 4c"),
    ("model.refinement.always_include_annotated", True, "Alg. 2 line 5: B_j^+ starts with a_j"),
    ("model.refinement.refine_th", 0.1, "reference: refine_th 0.1"),
]
CPRNET_R50_ROWS = [
    ("model.backbone.bottom_up.stages.depth", 50, "Sec. 3.2 'CPRNet': FPN on ResNet; Table 4e R-50"),
    ("optimizer._target_.optimizer", "torch.optim.sgd.SGD", "Sec. 4.1 'Implementation Details': SGD"),
    ("optimizer.lr", 0.0025, "Sec. 4.1 'Implementation Details': learning rate 0.0025"),
    ("lr_multiplier.scheduler.values", [1.0, 0.1, 0.01], "Sec. 4.1: decays by 0.1 (twice)"),
    ("lr_multiplier.scheduler.milestones", [60000, 82500], "Sec. 4.1: at the 8th and 11th of 12 epochs"),
    ("dataloader.train.mapper.augmentations.0.short_edge_length", 400, "reference 'coco400'"),
    ("dataloader.train.mapper.augmentations.0.max_size", 667, "reference 'coco400'"),
]
P2PNET_MODEL_ROWS = [
    ("model.in_feature", "p3", "reference COCO P2PNet: P3"),
    ("model.head.num_convs", 4, "reference COCO P2PNet: 4 convs per tower"),
    ("model.focal_loss_alpha", 0.25, "Sec. 4.2 (ii): focal loss [21], alpha 0.25"),
    ("model.focal_loss_gamma", 2.0, "Sec. 4.2 (ii): focal loss [21], gamma 2"),
    ("model.cls_loss_weight", 1.0, "reference: focal loss weight 1"),
    ("model.smooth_l1_beta", 1.0 / 9.0, "Sec. 4.2 (iii): smooth-L1 (reference beta 1/9)"),
    ("model.reg_loss_weight", 0.5, "Sec. 4.2 (iii): smooth-L1 (reference weight 0.5)"),
    ("model.match_topk", 5, "Sec. 4.2 (iv): top-k positives per GT (reference k = 5)"),
    ("model.match_cls_weight", 2.0, "Sec. 4.2 (iv): Hungarian cost (reference 2.0 focal)"),
    ("model.match_dist_weight", 0.1, "Sec. 4.2 (iv): Hungarian cost (reference 0.1 L1 px)"),
    ("model.test_topk_candidates", 1000, "reference: nms_pre 1000 (COCO)"),
    ("model.test_score_thresh", 0.05, "reference: score_thr 0.05"),
    ("model.test_nms_box_size", 32, "Sec. 4.2 (iv): point NMS (reference 32-px pseudo boxes)"),
    ("model.test_nms_thresh", 0.01, "Sec. 4.2 (iv): point NMS (reference IoU 0.01, COCO)"),
    ("model.max_detections_per_image", 100, "reference: max_per_img 100 (COCO)"),
]
P2PNET_R50_ROWS = [
    ("model.backbone.bottom_up.stages.depth", 50, "Sec. 4.2 (i): ResNet-50 instead of VGG16"),
    ("optimizer._target_.optimizer", "torch.optim.adam.Adam", "reference: Adam"),
    ("optimizer.lr", 1e-4, "reference: lr 1e-4"),
    ("optimizer._target_.clip_value", 35.0, "reference: grad_clip max_norm 35"),
    ("lr_multiplier.warmup_factor", 1.0 / 3, "reference: linear warm-up, ratio 1/3"),
    ("lr_multiplier.scheduler.values", [1.0, 0.1, 0.01], "reference 1x: x0.1 twice"),
    ("dataloader.train.total_batch_size", 64, "reference: 8 images x 8 GPUs"),
    ("dataloader.evaluator.max_dets", [100], "reference COCO location evaluation: maxDets 100"),
    ("dataloader.evaluator.taus", [0.5, 1.0, 2.0], "Sec. 4.1 / Eq. 12: tau 0.5, 1, 2"),
]
ROWS = (
    [("cprnet_common",) + r for r in CPRNET_MODEL_ROWS]
    + [("cprnet_R50",) + r for r in CPRNET_MODEL_ROWS if r[0] != "model.in_feature"]
    + [("cprnet_R50",) + r for r in CPRNET_R50_ROWS]
    + [("p2pnet_common",) + r for r in P2PNET_MODEL_ROWS]
    + [("p2pnet_R50",) + r for r in P2PNET_MODEL_ROWS + P2PNET_R50_ROWS]
    + [("p2pnet_R101", "model.backbone.bottom_up.stages.depth", 101, "Table 4e: R-101 localizer")]
)

YACS_ROWS = [
    ("MODEL.CPR.IN_FEATURE", "p3", "Sec. 4.3: P3 for COCO"),
    ("MODEL.CPR.BAG_RADIUS", 8, "Table 4a: R = 8 on P3"),
    ("MODEL.CPR.CIRCLE_DENSITY", 8, "Sec. 3.1: u_0 = 8"),
    ("MODEL.CPR.HEAD.NUM_CONVS", 4, "Sec. 3.2: four 3x3 convs"),
    ("MODEL.CPR.LOSS.MIL_WEIGHT", 0.25, "Sec. 3.2 Eq. 3 (x 0.25)"),
    ("MODEL.CPR.LOSS.ANNOTATION_WEIGHT", 0.125, "Sec. 3.2 Eq. 3: alpha_ann = 0.5 (x 0.25)"),
    ("MODEL.CPR.LOSS.NEGATIVE_WEIGHT", 0.75, "Sec. 3.2 Eq. 3: alpha_neg = 3 (x 0.25)"),
    ("MODEL.CPR.LOSS.FOCAL_GAMMA", 2.0, "Sec. 3.2 Eq. 4, 10: gamma = 2"),
    ("MODEL.CPR.LOSS.USE_ALL_POSITIVE", False, "Table 2: ablation only"),
    ("MODEL.CPR.REFINE.BAG_RADIUS", None, "reference: the training R"),
    ("MODEL.CPR.REFINE.SCORE_THRESHOLD", 0.1, "Sec. 3.3: delta_1 = 0.1"),
    ("MODEL.CPR.REFINE.RELATIVE_SCORE_THRESHOLD", 0.5, "Sec. 3.3: delta_2 = 0.5"),
    ("MODEL.CPR.REFINE.CLASSIFY_FILTER", True, "Sec. 3.3 constraint II"),
    ("MODEL.CPR.REFINE.NEAREST_FILTER", True, "Sec. 3.3 constraint III"),
    ("MODEL.CPR.REFINE.ALWAYS_INCLUDE_ANNOTATED", True, "Alg. 2 line 5"),
    ("MODEL.CPR.REFINE.REFINE_TH", 0.1, "reference: refine_th 0.1"),
    ("MODEL.P2PNET.IN_FEATURE", "p3", "reference COCO: P3"),
    ("MODEL.P2PNET.NUM_CONVS", 4, "reference COCO: 4 convs"),
    ("MODEL.P2PNET.FOCAL_LOSS_ALPHA", 0.25, "Sec. 4.2 (ii): focal loss"),
    ("MODEL.P2PNET.FOCAL_LOSS_GAMMA", 2.0, "Sec. 4.2 (ii): focal loss"),
    ("MODEL.P2PNET.SMOOTH_L1_BETA", 1.0 / 9.0, "Sec. 4.2 (iii): smooth-L1"),
    ("MODEL.P2PNET.REG_LOSS_WEIGHT", 0.5, "Sec. 4.2 (iii): smooth-L1 weight (reference)"),
    ("MODEL.P2PNET.MATCH_TOPK", 5, "Sec. 4.2 (iv): top-k (reference k = 5)"),
    ("MODEL.P2PNET.MATCH_CLS_WEIGHT", 2.0, "Sec. 4.2 (iv): reference cost"),
    ("MODEL.P2PNET.MATCH_DIST_WEIGHT", 0.1, "Sec. 4.2 (iv): reference cost"),
    ("MODEL.P2PNET.TOPK_CANDIDATES_TEST", 1000, "reference nms_pre"),
    ("MODEL.P2PNET.SCORE_THRESH_TEST", 0.05, "reference score_thr"),
    ("MODEL.P2PNET.NMS_BOX_SIZE_TEST", 32, "Sec. 4.2 (iv): point NMS (reference)"),
    ("MODEL.P2PNET.NMS_THRESH_TEST", 0.01, "Sec. 4.2 (iv): point NMS (reference)"),
    ("TEST.DETECTIONS_PER_IMAGE", 100, "reference max_per_img 100"),
]

# defaults of the Python classes themselves (a model built without a config)
CLASS_ROWS = [
    (CPRNet, "bag_radius", 8, "Table 4a"),
    (CPRNet, "circle_density", 8, "Sec. 3.1"),
    (CPRNet, "in_feature", "p3", "Sec. 4.3"),
    (CPRNet, "mil_loss_weight", 0.25, "Eq. 3"),
    (CPRNet, "annotation_loss_weight", 0.125, "Eq. 3"),
    (CPRNet, "negative_loss_weight", 0.75, "Eq. 3"),
    (CPRNet, "focal_gamma", 2.0, "Eq. 4"),
    (CPRRefinementParams, "score_threshold", 0.1, "Sec. 3.3 delta_1"),
    (CPRRefinementParams, "relative_score_threshold", 0.5, "Sec. 3.3 delta_2"),
    (CPRRefinementParams, "use_classify_filter", True, "Sec. 3.3 II"),
    (CPRRefinementParams, "use_nearest_filter", True, "Sec. 3.3 III"),
    (CPRRefinementParams, "always_include_annotated", True, "Alg. 2 line 5"),
    (P2PNet, "match_topk", 5, "Sec. 4.2 (iv)"),
    (P2PNet, "focal_loss_alpha", 0.25, "Sec. 4.2 (ii)"),
    (P2PNet, "smooth_l1_beta", 1.0 / 9.0, "Sec. 4.2 (iii)"),
    (P2PNet, "test_topk_candidates", 1000, "reference"),
    (P2PNet, "test_nms_thresh", 0.01, "reference"),
]

_LOADED = {}


def _lazy(name):
    if name not in _LOADED:
        _LOADED[name] = LazyConfig.load(os.path.join(ROOT, SOURCES[name]))
    return _LOADED[name]


def _get(node, dotted):
    for part in dotted.split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    return node


def _same(value, expected):
    if hasattr(value, "__len__") and not isinstance(value, str):
        value = list(value)
    if isinstance(expected, float):
        return value == pytest.approx(expected, rel=1e-12)
    if isinstance(expected, list):
        return [float(v) if isinstance(e, float) else v for v, e in zip(value, expected)] == pytest.approx(expected)
    return value == expected and type(value) is type(expected)


@pytest.mark.parametrize("config,key,value,source", ROWS, ids=[f"{r[0]}:{r[1]}" for r in ROWS])
def test_lazyconfig_paper_default(config, key, value, source):
    got = _get(_lazy(config), key)
    assert _same(got, value), f"{SOURCES[config]}: {key} = {got!r}, paper/reference {value!r} ({source})"


@pytest.mark.parametrize("key,value,source", YACS_ROWS, ids=[r[0] for r in YACS_ROWS])
def test_yacs_paper_default(key, value, source):
    cfg = add_p2pnet_config(add_cprnet_config(get_cfg()))
    got = _get(cfg, key)
    assert _same(got, value), f"yacs {key} = {got!r}, paper/reference {value!r} ({source})"


@pytest.mark.parametrize("cls,name,value,source", CLASS_ROWS, ids=[f"{r[0].__name__}.{r[1]}" for r in CLASS_ROWS])
def test_class_paper_default(cls, name, value, source):
    if cls is CPRRefinementParams:
        got = getattr(CPRRefinementParams(), name)
    else:
        got = inspect.signature(cls.__init__).parameters[name].default
    assert _same(got, value), f"{cls.__name__}({name}=...) default {got!r}, paper/reference {value!r} ({source})"


def test_built_cprnet_carries_the_rules():
    """yacs -> CPRNet: the refinement rules arrive as one object with the paper's values."""
    cfg = add_cprnet_config(get_cfg())
    assert CPRRefinementParams.from_config(cfg) == CPRRefinementParams()
    cfg.MODEL.CPR.REFINE.SCORE_THRESHOLD = 0.0  # Table 4c delta_1 = 0 row
    assert CPRRefinementParams.from_config(cfg) == CPRRefinementParams(score_threshold=0.0)


TABLE_4C = [
    ("cprnet_R_50_FPN_1x_coco_refine_delta1_0.py", "score_threshold", 0.0),
    ("cprnet_R_50_FPN_1x_coco_refine_delta2_0.py", "relative_score_threshold", 0.0),
    ("cprnet_R_50_FPN_1x_coco_refine_no_classify.py", "use_classify_filter", False),
    ("cprnet_R_50_FPN_1x_coco_refine_no_nearest.py", "use_nearest_filter", False),
    ("cprnet_R_50_FPN_1x_coco_refine_reference.py", "always_include_annotated", False),
]


@pytest.mark.parametrize("name,rule,value", TABLE_4C, ids=[r[0] for r in TABLE_4C])
def test_table_4c_configs_flip_one_rule(name, rule, value):
    """Each Table 4c ablation config differs from the base in exactly its refinement rule."""
    from detectron2.config import instantiate

    base = dict(instantiate(_lazy("cprnet_R50").model.refinement).as_dict())
    cfg = LazyConfig.load(os.path.join(ROOT, "configs/CPR", name))
    got = instantiate(cfg.model.refinement).as_dict()
    assert {k for k in got if got[k] != base[k]} == {rule} and got[rule] == value
