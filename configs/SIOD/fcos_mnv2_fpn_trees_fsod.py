"""SIOD demo, FCOS (MobileNetV2-FPN, slim head), aerial trees, FULL boxes (FSOD, the upper bound): the demo recipe of
``configs/demo/fcos_mnv2_fpn_trees.py`` (300 iterations, a demo of the pipeline, not a result) scored
with score-aware AP (AP@S, AP@S_0..9; maxDets 300). The base of every ``fcos_mnv2_fpn_trees_*`` config.

    python tools/train_net.py --num-threads 1 --config-file configs/SIOD/fcos_mnv2_fpn_trees_fsod.py
"""
from ..common.data.siod import score_aware_evaluator
from ..demo.fcos_mnv2_fpn_trees import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

dataloader.evaluator = score_aware_evaluator(max_dets=300)
train.output_dir = "./output/SIOD/fcos_mnv2_fpn_trees_fsod"
