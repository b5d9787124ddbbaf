"""CenterNet-Res18 + SPLG only on Keep1 COCO (Table 3 "+SPLG")."""
from ..common.dminer import splg_only
from .centernet_R_18_coco_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.dminer = splg_only()
train.output_dir = "./output/SIOD/centernet_R_18_coco_siod_splg"
