"""SAPNet R-50 FPN 1x on COCO, ablation: + PDG (Table 4 row 2: 27.5)."""
from .sapnet_R_50_FPN_1x_coco import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.use_prm = False
model.mps_weight = 0.0
train.output_dir = "./output/SAPNet/sapnet_R_50_FPN_1x_coco_table4_pdg"
