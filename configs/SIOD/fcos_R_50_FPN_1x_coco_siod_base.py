"""FCOS R50-FPN, 1x, on Keep1 COCO (``coco_2017_train_keep1_s0``): "SIOD (base)", SIOD Table 1. The
recipe of ``configs/COCO-Detection/fcos_R_50_FPN_1x.py`` (its FSOD row), scored with score-aware AP.

    python tools/train_net.py --config-file configs/SIOD/fcos_R_50_FPN_1x_coco_siod_base.py --num-gpus 8
"""
from detectron2.config import LazyConfig

from ..common.data.siod import COCO_KEEP1, score_aware_evaluator

_fsod = LazyConfig.load_rel("../COCO-Detection/fcos_R_50_FPN_1x.py")
dataloader, lr_multiplier, model, optimizer, train = (
    _fsod.dataloader, _fsod.lr_multiplier, _fsod.model, _fsod.optimizer, _fsod.train
)
del _fsod

dataloader.train.dataset.names = COCO_KEEP1
dataloader.evaluator = score_aware_evaluator(max_dets=100)
train.output_dir = "./output/SIOD/fcos_R_50_FPN_1x_coco_siod_base"
