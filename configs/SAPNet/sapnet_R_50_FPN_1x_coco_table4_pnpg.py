"""SAPNet R-50 FPN 1x on COCO, ablation: + PNPG (Table 4 row 4: 29.7)."""
from .sapnet_R_50_FPN_1x_coco import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.bms_topk = 0
model.mps_weight = 0.0
train.output_dir = "./output/SAPNet/sapnet_R_50_FPN_1x_coco_table4_pnpg"
