"""Table 2 loss ablation "pos+ann+neg" of CPRNet on COCO (the base file with switched losses)."""
from .cprnet_R_50_FPN_1x_coco import dataloader, hooks, lr_multiplier, model, optimizer, train  # noqa: F401

model.use_mil_loss = False
model.use_all_positive_loss = True
train.output_dir = "./output/CPR/cprnet_R_50_FPN_1x_coco_pos_ann_neg"
