"""CPRNet on COCO read at P2 (stride 4), Table 4b; R = 20 (the paper's best P2 radius)."""
from .cprnet_R_50_FPN_1x_coco import dataloader, hooks, lr_multiplier, model, optimizer, train  # noqa: F401

model.backbone.bottom_up.out_features = ["res2", "res3", "res4", "res5"]
model.backbone.in_features = ["res2", "res3", "res4", "res5"]
model.in_feature = "p2"
model.bag_radius = 20
train.output_dir = "./output/CPR/cprnet_R_50_FPN_1x_coco_p2"
