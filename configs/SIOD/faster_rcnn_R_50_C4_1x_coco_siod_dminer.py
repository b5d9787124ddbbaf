"""Faster R-CNN R50-C4 + DMiner (the class-wise DMiner branch beside the RPN, training only;
paper values) on Keep1 COCO: "SIOD (DMiner)", SIOD Table 1.

    python tools/train_net.py --config-file configs/SIOD/faster_rcnn_R_50_C4_1x_coco_siod_dminer.py --num-gpus 8
"""
from ..common.dminer import with_dminer_rpn
from .faster_rcnn_R_50_C4_1x_coco_siod_base import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

with_dminer_rpn(model)
train.output_dir = "./output/SIOD/faster_rcnn_R_50_C4_1x_coco_siod_dminer"
