"""SIOD demo ablation: Faster R-CNN C4 (MobileNetV2) on Keep1 trees with SPLG only (Table 3 "+SPLG")."""
from ..common.dminer import with_dminer_rpn, splg_only
from .faster_rcnn_mnv2_c4_trees_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

with_dminer_rpn(model, miner=splg_only())
train.output_dir = "./output/SIOD/faster_rcnn_mnv2_c4_trees_siod_splg"
