from detectron2.config import get_cfg

import pointdet


def test_add_pointdet_config_adds_keys_without_touching_global_defaults():
    cfg = pointdet.add_pointdet_config(get_cfg())
    for key in ("MOBILENETV2", "FCOS", "CPR", "P2PNET"):
        assert key in cfg.MODEL, key
    assert "POINT_EVAL" in cfg.TEST
    assert "POINT_SUPERVISION" in cfg.INPUT
    # Detectron2's global default config is left alone
    assert "CPR" not in get_cfg().MODEL and "FCOS" not in get_cfg().MODEL
    # idempotent on a fresh cfg, and the result can be frozen and dumped
    cfg.freeze()
    assert "CPR" in cfg.dump()
