"""CenterNet-Res18 on Keep1-COCO2017-Train (``coco_2017_train_keep1_s0``): "SIOD (base)", Table 1.
Use ``coco_2017_train_keep1_first`` for the reference's deterministic Keep1 (or its released file).

    python tools/train_net.py --config-file configs/SIOD/centernet_R_18_coco_siod_base.py --num-gpus 4
"""
from ..common.data.siod import COCO_KEEP1
from .centernet_R_18_coco_fsod import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

dataloader.train.dataset.names = COCO_KEEP1
train.output_dir = "./output/SIOD/centernet_R_18_coco_siod_base"
