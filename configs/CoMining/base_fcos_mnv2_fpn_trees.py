"""Co-mining demo: FCOS (ImageNet MobileNetV2-FPN, slim GN head) on the aerial-tree tiles, hard
sparse set; the recipe of ``configs/demo/fcos_mnv2_fpn_trees.py`` (a SHORT CPU schedule) with
:class:`CoMiningFCOS` (tau 0.6 on the class probability, theta1 0.6 = FCOS's test NMS, theta2
0.4). Data as ``base_retinanet_mnv2_fpn_trees.py``.
"""
from pointdet.modeling.comining import CoMiningFCOS

from ..demo.fcos_mnv2_fpn_trees import model
from .base_retinanet_mnv2_fpn_trees import dataloader, hooks, lr_multiplier, optimizer, train  # noqa: F401

model._target_ = CoMiningFCOS
model.pseudo_score_thresh = 0.6  # tau
model.pseudo_nms_thresh = 0.6  # theta1
model.pseudo_duplicate_iou_thresh = 0.4  # theta2
model.pseudo_topk_candidates = 1000
model.pseudo_max_per_image = 100
model.normalizer_momentum = 0.9

train.output_dir = "./output/CoMining/fcos_mnv2_fpn_trees_hard"
