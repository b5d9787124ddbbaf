"""SIOD demo ablation (Table 3 "+SPLG"): CenterNet MobileNetV2 on Keep1 trees with SPLG only."""
from ..common.dminer import splg_only
from .centernet_mnv2_trees_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.dminer = splg_only()
train.output_dir = "./output/SIOD/centernet_mnv2_trees_siod_splg"
