"""CPRNet with R-101 on COCO (Table 4e)."""
from .cprnet_R_50_FPN_1x_coco import dataloader, hooks, lr_multiplier, model, optimizer, train  # noqa: F401

model.backbone.bottom_up.stages.depth = 101
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"
train.output_dir = "./output/CPR/cprnet_R_101_FPN_1x_coco"
