"""CenterNet-Res18 + DMiner (SPLG + PGCL, joint recipe ``run/all_resdcn18_train.sh``) on Keep1 COCO:
"SIOD (DMiner)", Table 1 and Table 3 "both".

    python tools/train_net.py --config-file configs/SIOD/centernet_R_18_coco_siod_dminer.py --num-gpus 4
"""
from ..common.dminer import dminer
from .centernet_R_18_coco_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.dminer = dminer()
train.output_dir = "./output/SIOD/centernet_R_18_coco_siod_dminer"
