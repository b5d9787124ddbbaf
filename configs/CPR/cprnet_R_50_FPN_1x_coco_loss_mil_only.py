"""Table 2 loss ablation "MIL" of CPRNet on COCO (the base file with switched losses)."""
from .cprnet_R_50_FPN_1x_coco import dataloader, hooks, lr_multiplier, model, optimizer, train  # noqa: F401

model.use_annotation_loss = False
model.use_negative_loss = False
train.output_dir = "./output/CPR/cprnet_R_50_FPN_1x_coco_mil_only"
