"""SIOD demo ablation (Table 3 "+PGCL"): CenterNet MobileNetV2 on Keep1 trees with PGCL only."""
from ..common.dminer import pgcl_only
from .centernet_mnv2_trees_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.dminer = pgcl_only()
train.output_dir = "./output/SIOD/centernet_mnv2_trees_siod_pgcl"
