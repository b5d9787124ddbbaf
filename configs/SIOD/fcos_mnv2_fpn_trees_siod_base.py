"""SIOD demo, FCOS (MobileNetV2-FPN, slim head), Keep1 trees (``pointdet_trees_train_keep1_s0``),
no DMiner: "SIOD (base)".

    python tools/train_net.py --num-threads 1 --config-file configs/SIOD/fcos_mnv2_fpn_trees_siod_base.py
"""
from ..common.data.siod import TREES_KEEP1
from .fcos_mnv2_fpn_trees_fsod import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

dataloader.train.dataset.names = TREES_KEEP1
train.output_dir = "./output/SIOD/fcos_mnv2_fpn_trees_siod_base"
