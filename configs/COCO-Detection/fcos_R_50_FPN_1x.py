"""FCOS R50-FPN on COCO 2017 with full boxes, 1x schedule: Detectron2's model-zoo
``COCO-Detection/fcos_R_50_FPN_1x.py`` on pointdet's configs (the fully supervised FCOS row of
SIOD, Li et al. CVPR 2022, Table 1).

SGD lr 0.01, batch 16, 90k iterations with x0.1 at 60k and 80k, 1,000 linear warm-up
iterations; multi-scale training (short side 640-800), MSRA ImageNet R-50. Needs COCO under
``$DETECTRON2_DATASETS/coco`` and Detectron2's R-50 weights (downloaded by its checkpointer, or
a local path in ``train.init_checkpoint``).

    python tools/train_net.py --config-file configs/COCO-Detection/fcos_R_50_FPN_1x.py --num-gpus 8
"""
from ..common.data.coco import dataloader
from ..common.models.fcos_R_50_FPN import model  # noqa: F401
from ..common.models.resnet_fpn import R50_IMAGENET_CHECKPOINT
from ..common.optim import SGD as optimizer
from ..common.schedules import multistep_with_warmup
from ..common.train import train

dataloader.train.mapper.use_instance_mask = False
optimizer.lr = 0.01

train.init_checkpoint = R50_IMAGENET_CHECKPOINT
train.max_iter = 90000
train.output_dir = "./output/COCO-Detection/fcos_R_50_FPN_1x"
lr_multiplier = multistep_with_warmup(train.max_iter, steps=(2 / 3, 8 / 9), warmup_iters=1000, warmup_factor=0.001)

# written for 8 GPUs: fewer processes rescale batch, lr and iterations (pointdet.engine.defaults.scale_to_world_size)
train.reference_world_size = 8
