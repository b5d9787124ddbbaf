"""SAPNet R-50 FPN 1x on COCO, ablation: single MIL (PSM only; Table 1 'MIL-SOLOv2', Table 4 row 1: 26.8)."""
from .sapnet_R_50_FPN_1x_coco import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.use_prm = False
model.pdg_exponent = 0.0
model.mps_weight = 0.0
train.output_dir = "./output/SAPNet/sapnet_R_50_FPN_1x_coco_table4_mil1"
