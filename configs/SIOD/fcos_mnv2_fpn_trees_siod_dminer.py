"""SIOD demo, FCOS (MobileNetV2-FPN, slim head) with DMiner on Keep1 trees: DMiner on P3-P5 (m =
96, 64, 32), pseudo labels as soft negatives of FCOS's focal loss. Paper values (T_sim 0.6, eta
1.0, tau 0.07, lambda 0.1); only the model differs from ``fcos_mnv2_fpn_trees_siod_base.py``.

    python tools/train_net.py --num-threads 1 --config-file configs/SIOD/fcos_mnv2_fpn_trees_siod_dminer.py
"""
from ..common.dminer import with_dminer_fcos
from .fcos_mnv2_fpn_trees_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

with_dminer_fcos(model)
train.output_dir = "./output/SIOD/fcos_mnv2_fpn_trees_siod_dminer"
