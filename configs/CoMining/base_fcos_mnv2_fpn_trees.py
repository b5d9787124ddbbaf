"""Co-mining demo: FCOS (ImageNet MobileNetV2-FPN, slim GN head) on the aerial-tree tiles, hard
sparse set; the recipe of ``configs/demo/fcos_mnv2_fpn_trees.py`` (a SHORT CPU schedule) with
:class:`CoMiningFCOS` (tau 0.6 on the class probability, theta1 0.6 = FCOS's test NMS, theta2
0.4). Data and recipe (lr 0.0025) as ``base_retinanet_mnv2_fpn_trees.py``.
"""
from pointdet.modeling.comining import CoMiningFCOS

from ..common.comining_schemes import as_comining
from ..demo.fcos_mnv2_fpn_trees import model
from .base_retinanet_mnv2_fpn_trees import dataloader, hooks, lr_multiplier, optimizer, train  # noqa: F401

as_comining(model, CoMiningFCOS)  # tau, theta1, theta2 and the caps of co-generation

train.output_dir = "./output/CoMining/fcos_mnv2_fpn_trees_hard"
