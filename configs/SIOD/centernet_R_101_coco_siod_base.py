"""CenterNet-Res101 on Keep1 COCO: "SIOD (base)", SIOD Table 1."""
from ..common.data.siod import COCO_KEEP1
from .centernet_R_101_coco_fsod import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

dataloader.train.dataset.names = COCO_KEEP1
train.output_dir = "./output/SIOD/centernet_R_101_coco_siod_base"
