"""SIOD demo, Faster R-CNN C4 (MobileNetV2), aerial trees, FULL boxes (FSOD, the upper bound): the demo recipe of
``configs/demo/faster_rcnn_mnv2_c4_trees.py`` (300 iterations, a demo of the pipeline, not a result) scored
with score-aware AP (AP@S, AP@S_0..9; maxDets 300). The base of every ``faster_rcnn_mnv2_c4_trees_*`` config.

    python tools/train_net.py --num-threads 1 --config-file configs/SIOD/faster_rcnn_mnv2_c4_trees_fsod.py
"""
from ..common.data.siod import score_aware_evaluator
from ..demo.faster_rcnn_mnv2_c4_trees import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

dataloader.evaluator = score_aware_evaluator(max_dets=300)
train.output_dir = "./output/SIOD/faster_rcnn_mnv2_c4_trees_fsod"
