"""SIOD demo, Faster R-CNN C4 (MobileNetV2) with DMiner on Keep1 trees: the class-wise DMiner
branch beside the RPN (training only), pseudo labels pooled with kernels 1/3/5/7/9 for the demo's
anchor sizes 16..256 relax the RPN objectness loss. Paper values (T_sim 0.6, eta 1.0, tau 0.07,
lambda 0.1); only the model differs from ``faster_rcnn_mnv2_c4_trees_siod_base.py``.

    python tools/train_net.py --num-threads 1 --config-file configs/SIOD/faster_rcnn_mnv2_c4_trees_siod_dminer.py
"""
from ..common.dminer import with_dminer_rpn
from .faster_rcnn_mnv2_c4_trees_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

with_dminer_rpn(model)
train.output_dir = "./output/SIOD/faster_rcnn_mnv2_c4_trees_siod_dminer"
