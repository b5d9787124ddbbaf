"""yacs config keys for pointdet models (the ``DefaultPredictor`` route).

LazyConfig files under ``configs/`` are the primary way to run experiments; this module adds
the keys that the registered components' ``from_config`` read, so that yacs configs and
``DefaultPredictor`` work too. Each component keeps its own keys beside its code; this
function calls them all. It changes the given ``cfg`` only, never Detectron2's global defaults.
"""

__all__ = ["add_pointdet_config"]


def add_pointdet_config(cfg):
    """Add every pointdet key (with the papers' defaults) to a Detectron2 ``CfgNode`` in place.

    Adds ``MODEL.MOBILENETV2.*``, ``MODEL.CPR.*``, ``MODEL.P2PNET.*``, ``INPUT.POINT_*`` /
    ``INPUT.PSEUDO_BOX_SIZE`` / ``INPUT.COLOR_JITTER.*`` and the evaluator keys
    ``TEST.POINT_EVAL.*`` and the score-aware AP keys. Returns ``cfg``.
    """
    from .data.dataset_mapper import add_point_data_config
    from .evaluation.point_ap import add_point_eval_config
    from .evaluation.score_aware import add_score_aware_config
    from .modeling.backbone.mobilenetv2 import add_mobilenetv2_config
    from .modeling.cpr.config import add_cprnet_config
    from .modeling.p2pnet.config import add_p2pnet_config

    for add in (
        add_mobilenetv2_config,
        add_cprnet_config,
        add_p2pnet_config,
        add_point_data_config,
        add_point_eval_config,
        add_score_aware_config,
    ):
        add(cfg)
    return cfg
