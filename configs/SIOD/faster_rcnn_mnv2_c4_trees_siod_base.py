"""SIOD demo, Faster R-CNN C4 (MobileNetV2), Keep1 trees (``pointdet_trees_train_keep1_s0``),
no DMiner: "SIOD (base)".

    python tools/train_net.py --num-threads 1 --config-file configs/SIOD/faster_rcnn_mnv2_c4_trees_siod_base.py
"""
from ..common.data.siod import TREES_KEEP1
from .faster_rcnn_mnv2_c4_trees_fsod import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

dataloader.train.dataset.names = TREES_KEEP1
train.output_dir = "./output/SIOD/faster_rcnn_mnv2_c4_trees_siod_base"
