"""Co-mining with RetinaNet R50-FPN on COCO 2017, the paper's setting (Co-mining Sec.
"Experimental Settings"; reference ``retinanet.res50.comining.score.06.hard``), on the hard set.

Detectron2's model-zoo RetinaNet (FrozenBN R-50, stem and res2 frozen, MSRA ImageNet weights,
BGR, smooth-L1 beta 0.1) as :class:`CoMiningRetinaNet`: tau 0.6, theta1 0.5 (RetinaNet's test
NMS), theta2 0.4, top 1,000 per level, at most 100 pseudo boxes per image and view, each
branch with its own EMA loss normaliser. Data: ``coco_2017_train_sparse_hard_s0`` (made by
``tools/make_weak_annotations.py sparse --level hard --seed 0``), single-scale 800 (max 1333)
plus horizontal flip, colour-jittered second view (0.8, 0.8, 0.8, 0.2, p 0.8). SGD lr 0.01,
batch 16 over 8 processes (rescaled to the processes you run, ``train.reference_world_size``),
90k iterations, x0.1 at 60k and 80k, 1,000 warm-up iterations (factor 0.001).

Other sets: ``pointdet.modeling.comining.sparse_level_overrides(level)`` gives the overrides
(training set and tau: 0.5 for extreme), listed in ``projects/CoMining/README.md``. The scheme
files ``retinanet_R_50_FPN_coco_{original,augmented,joint,cogen,comining}.py`` import this one.
"""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L

from pointdet.config import get_model_zoo_config
from pointdet.modeling.comining import CoMiningRetinaNet, sparse_train_name

from ..common.data.coco import dataloader_sparse_hard as dataloader
from ..common.models.resnet_fpn import R50_IMAGENET_CHECKPOINT
from ..common.optim import SGD as optimizer
from ..common.schedules import multistep_with_warmup
from ..common.train import train
from ..common.comining_schemes import as_comining, two_view

model = get_model_zoo_config("common/models/retinanet.py").model
as_comining(model, CoMiningRetinaNet)  # tau, theta1, theta2 and the caps of co-generation
model.backbone.bottom_up.freeze_at = 2
model.smooth_l1_beta = 0.1

dataloader.train.dataset.names = sparse_train_name("coco_2017_train", "hard", 0)
dataloader.train.mapper.augmentations = [
    L(T.ResizeShortestEdge)(short_edge_length=800, max_size=1333),
    L(T.RandomFlip)(horizontal=True),
]
dataloader.train.mapper.use_instance_mask = False
two_view(dataloader)

optimizer.lr = 0.01
train.init_checkpoint = R50_IMAGENET_CHECKPOINT
train.max_iter = 90000
train.reference_world_size = 8
train.output_dir = "./output/CoMining/retinanet_R_50_FPN_coco_hard"
lr_multiplier = multistep_with_warmup(train.max_iter, steps=(2 / 3, 8 / 9), warmup_iters=1000, warmup_factor=0.001)
