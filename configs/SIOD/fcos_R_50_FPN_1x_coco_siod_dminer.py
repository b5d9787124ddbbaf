"""FCOS R50-FPN + DMiner (DMiner on P3-P5, m = 96, 64, 32; paper values) on Keep1 COCO:
"SIOD (DMiner)", SIOD Table 1.

    python tools/train_net.py --config-file configs/SIOD/fcos_R_50_FPN_1x_coco_siod_dminer.py --num-gpus 8
"""
from ..common.dminer import with_dminer_fcos
from .fcos_R_50_FPN_1x_coco_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

with_dminer_fcos(model)
train.output_dir = "./output/SIOD/fcos_R_50_FPN_1x_coco_siod_dminer"
