"""Multi-class P2PNet with R-101 on COCO (CPR paper Table 4e, the localizer of the "R101 / R101" row).

``p2pnet_R_50_FPN_1x_coco400_coarse.py`` with a ResNet-101 backbone and Detectron2's MSRA R-101
ImageNet weights; train it on the file refined by ``cprnet_R_101_FPN_1x_coco.py`` (or by the R-50
CPRNet, the "R50 / R101" row) by setting ``dataloader.train.dataset.names``.
"""
from .p2pnet_R_50_FPN_1x_coco400_coarse import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.backbone.bottom_up.stages.depth = 101
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"
train.output_dir = "./output/cpr/p2pnet_R_101_FPN_1x_coco400_coarse"
