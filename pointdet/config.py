"""Config helpers: yacs keys for pointdet models (the ``DefaultPredictor`` route) and
Detectron2's model-zoo LazyConfigs for the configs under ``configs/``.

LazyConfig files under ``configs/`` are the primary way to run experiments; their detectors
are derived from Detectron2's model-zoo LazyConfig pieces (:func:`get_model_zoo_config`).
:func:`add_pointdet_config` adds the keys that the registered components' ``from_config`` read,
so that yacs configs and ``DefaultPredictor`` work too. Each component keeps its own keys beside
its code; this function calls them all. It changes the given ``cfg`` only, never Detectron2's
global defaults.
"""
import os

__all__ = ["add_pointdet_config", "get_model_zoo_config"]


def add_pointdet_config(cfg):
    """Add every pointdet key (with the papers' defaults) to a Detectron2 ``CfgNode`` in place.

    Adds ``MODEL.MOBILENETV2.*``, ``MODEL.FCOS.*``, ``MODEL.COMINING.*``, ``MODEL.CPR.*``, ``MODEL.P2PNET.*``,
    ``MODEL.CLICKMIL.*``, ``MODEL.CENTERNET.*``, ``MODEL.DMINER.*``, ``MODEL.SOLOV2.*``, ``MODEL.SAPNET.*``,
    ``INPUT.POINT_*`` / ``INPUT.PSEUDO_BOX_SIZE`` / ``INPUT.COLOR_JITTER.*`` and the evaluator
    keys ``TEST.POINT_EVAL.*`` and the score-aware AP keys. Returns ``cfg``.
    """
    from .data.dataset_mapper import add_point_data_config
    from .evaluation.point_ap import add_point_eval_config
    from .evaluation.score_aware import add_score_aware_config
    from .modeling.backbone.mobilenetv2 import add_mobilenetv2_config
    from .modeling.centernet.config import add_centernet_config
    from .modeling.clickmil.appearance import add_clickmil_config
    from .modeling.comining import add_comining_config
    from .modeling.cpr.config import add_cprnet_config
    from .modeling.meta_arch.fcos import add_fcos_config
    from .modeling.p2pnet.config import add_p2pnet_config
    from .modeling.sapnet.config import add_sapnet_config
    from .modeling.solov2.config import add_solov2_config

    for add in (
        add_mobilenetv2_config,
        add_fcos_config,
        add_comining_config,
        add_cprnet_config,
        add_p2pnet_config,
        add_centernet_config,
        add_solov2_config,
        add_sapnet_config,
        add_point_data_config,
        add_point_eval_config,
        add_score_aware_config,
        add_clickmil_config,
    ):
        add(cfg)
    return cfg


def get_model_zoo_config(config_path: str):
    """Detectron2's model-zoo LazyConfig, as ``detectron2.model_zoo.get_config(config_path)``
    returns it, e.g. ``get_model_zoo_config("common/models/retinanet.py").model``.

    The file is read from the installed detectron2 package (``detectron2/model_zoo/configs/``)
    directly, because ``detectron2.model_zoo`` imports ``pkg_resources``, which setuptools
    no longer ships from version 81 on.

    Args:
        config_path: a ``.py`` path relative to the zoo's ``configs`` folder.
    """
    import detectron2
    from detectron2.config import LazyConfig

    root = os.path.join(os.path.dirname(detectron2.__file__), "model_zoo", "configs")
    path = os.path.join(root, config_path)
    if not config_path.endswith(".py") or not os.path.isfile(path):
        raise FileNotFoundError(f"{config_path!r} is not a LazyConfig of Detectron2's model zoo (looked for {path})")
    return LazyConfig.load(path)
