"""CenterNet-Res101 + DMiner (joint recipe) on Keep1 COCO: "SIOD (DMiner)", SIOD Table 1 / 3."""
from ..common.dminer import dminer
from .centernet_R_101_coco_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.dminer = dminer()
train.output_dir = "./output/SIOD/centernet_R_101_coco_siod_dminer"
