"""SIOD demo, CenterNet MobileNetV2 with DMiner (SPLG + PGCL, joint recipe, the paper's values:
T_sim 0.6, eta 1.0, m 128, tau 0.07, lambda 0.1) on the Keep1 trees. Only ``model.dminer``
differs from ``centernet_mnv2_trees_siod_base.py``.

    python tools/train_net.py --num-threads 1 --config-file configs/SIOD/centernet_mnv2_trees_siod_dminer.py
"""
from ..common.dminer import dminer
from .centernet_mnv2_trees_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.dminer = dminer()
train.output_dir = "./output/SIOD/centernet_mnv2_trees_siod_dminer"
