"""SIOD demo, CenterNet MobileNetV2, Keep1 trees (one crown per tile:
``pointdet_trees_train_keep1_s0``),
no DMiner: "SIOD (base)". Everything else as ``centernet_mnv2_trees_fsod.py``.

    python tools/make_weak_annotations.py keep1 --input datasets/pointdet_demo/trees/annotations/trees_train.json --seed 0
    python tools/train_net.py --num-threads 1 --config-file configs/SIOD/centernet_mnv2_trees_siod_base.py
"""
from ..common.data.siod import TREES_KEEP1
from .centernet_mnv2_trees_fsod import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

dataloader.train.dataset.names = TREES_KEEP1
train.output_dir = "./output/SIOD/centernet_mnv2_trees_siod_base"
