"""CenterNet-Res18 on COCO 2017 with full boxes (FSOD row of SIOD, Li et al. CVPR 2022, Table 1),
the reference recipe: 512 x 512 crops (random scale 0.6-1.3, flip), batch 114, Adam lr 5e-4
(no weight decay), 140 epochs (x0.1 at epochs 90 and 120) = 145k iterations of 114 images on
COCO's 118k training images; test at the original resolution (padded to 32), top 100, no NMS;
score-aware AP on ``coco_2017_val``. The base of every ``centernet_R_18_coco_*`` config.

ImageNet weights: torchvision's ResNet-18 converted with Detectron2's
``tools/convert-torchvision-to-d2.py`` (set ``train.init_checkpoint``); DCNv2 neck via torchvision.

    python tools/train_net.py --config-file configs/SIOD/centernet_R_18_coco_fsod.py --num-gpus 4
"""
from ..common.data.coco import dataloader
from ..common.data.siod import (
    centernet_coco_test_augmentations,
    centernet_coco_train_augmentations,
    score_aware_evaluator,
)
from ..common.models.centernet import centernet_resnet
from ..common.optim import Adam as optimizer
from ..common.schedules import multistep_with_warmup
from ..common.train import train

model = centernet_resnet(18)

dataloader.train.mapper.use_instance_mask = False
dataloader.train.mapper.augmentations = centernet_coco_train_augmentations
dataloader.test.mapper.augmentations = centernet_coco_test_augmentations
dataloader.train.total_batch_size = 114
dataloader.evaluator = score_aware_evaluator(max_dets=100)

optimizer.lr = 5e-4
optimizer.weight_decay = 0.0

ITERS_PER_EPOCH = 118287 // 114
train.max_iter = 140 * ITERS_PER_EPOCH
train.eval_period = 10 * ITERS_PER_EPOCH
train.checkpointer = dict(period=10 * ITERS_PER_EPOCH, max_to_keep=3)
train.seed = 317
train.output_dir = "./output/SIOD/centernet_R_18_coco_fsod"
lr_multiplier = multistep_with_warmup(train.max_iter, steps=(90 / 140, 120 / 140), warmup_iters=0, warmup_factor=1.0)
