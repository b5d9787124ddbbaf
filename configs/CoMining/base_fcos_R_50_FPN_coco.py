"""Co-mining with FCOS R50-FPN on COCO 2017 (Co-mining Table 5; reference
``fcos.res50.comining.score.05.easy`` for the detector settings), on the hard set.

Detectron2's FCOS R50-FPN (``configs/common/models/fcos_R_50_FPN.py``: GN head, centre
sampling 1.5, GIoU, test NMS 0.6) as :class:`CoMiningFCOS`: tau 0.6 on the raw class
probability (the paper's value for the hard set; the reference's only FCOS config, easy, used
0.5), candidates ranked by sqrt(class x centerness), theta1 0.6 (FCOS's test NMS), theta2 0.4.
Data, solver and schedule as ``base_retinanet_R_50_FPN_coco.py``.
"""
from pointdet.modeling.comining import CoMiningFCOS

from ..common.comining_schemes import as_comining
from ..common.models.fcos_R_50_FPN import model
from .base_retinanet_R_50_FPN_coco import dataloader, lr_multiplier, optimizer, train  # noqa: F401

as_comining(model, CoMiningFCOS)  # tau, theta1, theta2 and the caps of co-generation

train.output_dir = "./output/CoMining/fcos_R_50_FPN_coco_hard"
