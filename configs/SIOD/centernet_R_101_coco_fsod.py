"""CenterNet-Res101 on COCO 2017 with full boxes (SIOD Table 1, FSOD row): as
``centernet_R_18_coco_fsod.py`` with ResNet-101, batch 96 and Adam lr 3.75e-4 (the reference's
8-GPU recipe), 140 epochs. The base of every ``centernet_R_101_coco_*`` config.

    python tools/train_net.py --config-file configs/SIOD/centernet_R_101_coco_fsod.py --num-gpus 8
"""
from ..common.models.centernet import centernet_resnet
from .centernet_R_18_coco_fsod import dataloader, optimizer, train  # noqa: F401
from ..common.schedules import multistep_with_warmup

model = centernet_resnet(101)
dataloader.train.total_batch_size = 96
optimizer.lr = 3.75e-4

ITERS_PER_EPOCH = 118287 // 96
train.max_iter = 140 * ITERS_PER_EPOCH
train.eval_period = 10 * ITERS_PER_EPOCH
train.checkpointer = dict(period=10 * ITERS_PER_EPOCH, max_to_keep=3)
train.output_dir = "./output/SIOD/centernet_R_101_coco_fsod"
lr_multiplier = multistep_with_warmup(train.max_iter, steps=(90 / 140, 120 / 140), warmup_iters=0, warmup_factor=1.0)
