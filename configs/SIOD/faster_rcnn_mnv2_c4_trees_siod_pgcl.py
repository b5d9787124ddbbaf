"""SIOD demo ablation: Faster R-CNN C4 (MobileNetV2) on Keep1 trees with PGCL only (Table 3 "+PGCL")."""
from ..common.dminer import with_dminer_rpn, pgcl_only
from .faster_rcnn_mnv2_c4_trees_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

with_dminer_rpn(model, miner=pgcl_only())
train.output_dir = "./output/SIOD/faster_rcnn_mnv2_c4_trees_siod_pgcl"
