"""Table 2 loss ablation "ann+neg" of CPRNet on COCO (the base file with switched losses)."""
from .cprnet_R_50_FPN_1x_coco import dataloader, hooks, lr_multiplier, model, optimizer, train  # noqa: F401

model.use_mil_loss = False
train.output_dir = "./output/CPR/cprnet_R_50_FPN_1x_coco_ann_neg"
