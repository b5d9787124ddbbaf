"""SAPNet R-50 FPN 1x on COCO, ablation: + BMS (Table 4 row 5: 30.8); adding MPS gives sapnet_R_50_FPN_1x_coco.py (31.2)."""
from .sapnet_R_50_FPN_1x_coco import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.mps_weight = 0.0
train.output_dir = "./output/SAPNet/sapnet_R_50_FPN_1x_coco_table4_bms"
