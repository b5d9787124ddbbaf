"""Detectron2's FCOS (Tian et al., "FCOS: A Simple and Strong Anchor-free Object Detector",
TPAMI 2020, arXiv:2006.09214) on the yacs route.

Detectron2 builds its FCOS (``detectron2.modeling.meta_arch.fcos``) from LazyConfigs only: the
class is neither ``@configurable`` nor registered. :class:`FCOS` here is that class unchanged
(same modules, same state-dict keys, same forward) plus a ``from_config`` reading
``MODEL.FCOS.*``, registered as ``MODEL.META_ARCHITECTURE = "FCOS"``, so that a checkpoint of a
LazyConfig FCOS loads into ``DefaultPredictor``. The defaults of :func:`add_fcos_config` are
the values of Detectron2's model-zoo ``common/models/fcos.py``.
"""
from detectron2.config import CfgNode as CN
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, build_backbone
from detectron2.modeling.meta_arch.fcos import FCOS as _D2FCOS
from detectron2.modeling.meta_arch.fcos import FCOSHead

__all__ = ["FCOS", "add_fcos_config"]


def add_fcos_config(cfg):
    """Add ``cfg.MODEL.FCOS.*`` (in place; returns cfg). Defaults: Detectron2's model zoo FCOS.

    NUM_CLASSES, IN_FEATURES (FPN levels, P3-P7), NUM_CONVS (per tower, 4), HEAD_NORM ("GN"),
    PRIOR_PROB (0.01), FOCAL_LOSS_ALPHA / _GAMMA (0.25 / 2), CENTER_SAMPLING_RADIUS (1.5, in
    strides), SCORE_THRESH_TEST (0.2, on sqrt(cls * centerness)), TOPK_CANDIDATES_TEST (1000
    per level), NMS_THRESH_TEST (0.6). Detections per image: ``TEST.DETECTIONS_PER_IMAGE``.
    """
    cfg.MODEL.FCOS = CN()
    cfg.MODEL.FCOS.NUM_CLASSES = 80
    cfg.MODEL.FCOS.IN_FEATURES = ["p3", "p4", "p5", "p6", "p7"]
    cfg.MODEL.FCOS.NUM_CONVS = 4
    cfg.MODEL.FCOS.HEAD_NORM = "GN"
    cfg.MODEL.FCOS.PRIOR_PROB = 0.01
    cfg.MODEL.FCOS.FOCAL_LOSS_ALPHA = 0.25
    cfg.MODEL.FCOS.FOCAL_LOSS_GAMMA = 2.0
    cfg.MODEL.FCOS.CENTER_SAMPLING_RADIUS = 1.5
    cfg.MODEL.FCOS.SCORE_THRESH_TEST = 0.2
    cfg.MODEL.FCOS.TOPK_CANDIDATES_TEST = 1000
    cfg.MODEL.FCOS.NMS_THRESH_TEST = 0.6
    return cfg


@META_ARCH_REGISTRY.register()
class FCOS(_D2FCOS):
    """Detectron2's :class:`~detectron2.modeling.meta_arch.fcos.FCOS`, constructible from a yacs
    config (see the module docstring). Keyword arguments are Detectron2's."""

    @configurable
    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    @classmethod
    def from_config(cls, cfg):
        f = cfg.MODEL.FCOS
        backbone = build_backbone(cfg)
        feature_shapes = [backbone.output_shape()[k] for k in f.IN_FEATURES]
        head = FCOSHead(
            input_shape=feature_shapes,
            conv_dims=[feature_shapes[0].channels] * f.NUM_CONVS,
            num_classes=f.NUM_CLASSES,
            norm=f.HEAD_NORM,
            prior_prob=f.PRIOR_PROB,
        )
        return {
            "backbone": backbone,
            "head": head,
            "head_in_features": list(f.IN_FEATURES),
            "num_classes": f.NUM_CLASSES,
            "center_sampling_radius": f.CENTER_SAMPLING_RADIUS,
            "focal_loss_alpha": f.FOCAL_LOSS_ALPHA,
            "focal_loss_gamma": f.FOCAL_LOSS_GAMMA,
            "test_score_thresh": f.SCORE_THRESH_TEST,
            "test_topk_candidates": f.TOPK_CANDIDATES_TEST,
            "test_nms_thresh": f.NMS_THRESH_TEST,
            "max_detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
        }
