"""SIOD demo ablation: FCOS (MobileNetV2-FPN, slim head) on Keep1 trees with PGCL only (Table 3 "+PGCL")."""
from ..common.dminer import with_dminer_fcos, pgcl_only
from .fcos_mnv2_fpn_trees_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

with_dminer_fcos(model, miner=pgcl_only())
train.output_dir = "./output/SIOD/fcos_mnv2_fpn_trees_siod_pgcl"
