"""Two-stage DMiner recipe, stage 1 (reference ``run/gcl_resdcn18_train.sh``): CenterNet-Res18 with
PGCL and the loss mask (top-m cells add no negative focal term), 140 epochs, lr 5e-4.
Stage 2: ``centernet_R_18_coco_siod_twostage_splg.py`` from this run's final checkpoint.

    python tools/train_net.py --config-file configs/SIOD/centernet_R_18_coco_siod_twostage_pgcl.py --num-gpus 4
"""
from ..common.dminer import pgcl_only
from .centernet_R_18_coco_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.dminer = pgcl_only(loss_mask=True)
train.output_dir = "./output/SIOD/centernet_R_18_coco_siod_twostage_pgcl"
