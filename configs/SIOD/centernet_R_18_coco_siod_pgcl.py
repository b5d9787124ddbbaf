"""CenterNet-Res18 + PGCL only on Keep1 COCO (Table 3 "+PGCL")."""
from ..common.dminer import pgcl_only
from .centernet_R_18_coco_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.dminer = pgcl_only()
train.output_dir = "./output/SIOD/centernet_R_18_coco_siod_pgcl"
