"""SAPNet R-50 FPN 1x on COCO, ablation: + the PRM on the SAM bag alone, no PNPG, no BMS (Table 4 row 3: 27.7)."""
from .sapnet_R_50_FPN_1x_coco import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.ppg_num_enlarge = 0
model.ppg_num_adaptive = 0
model.num_random_negatives = 0
model.part_neg_min_area = float("inf")
model.bms_topk = 0
model.mps_weight = 0.0
train.output_dir = "./output/SAPNet/sapnet_R_50_FPN_1x_coco_table4_mil2"
