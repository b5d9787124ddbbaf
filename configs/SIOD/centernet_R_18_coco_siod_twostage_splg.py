"""Two-stage DMiner recipe, stage 2 (reference ``run/dminer_resdcn18_train.sh``): SPLG only,
fine-tuned from stage 1's final weights with lr 5e-5 for a fresh 140-epoch schedule (x0.1 at
epochs 90 and 120; the reference restarts at epoch 0).

    python tools/train_net.py --config-file configs/SIOD/centernet_R_18_coco_siod_twostage_splg.py --num-gpus 4 \
        train.init_checkpoint=./output/SIOD/centernet_R_18_coco_siod_twostage_pgcl/model_final.pth
"""
from ..common.dminer import splg_only
from .centernet_R_18_coco_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.dminer = splg_only()
optimizer.lr = 5e-5
train.init_checkpoint = "./output/SIOD/centernet_R_18_coco_siod_twostage_pgcl/model_final.pth"
train.output_dir = "./output/SIOD/centernet_R_18_coco_siod_twostage_splg"
