"""Demo baseline "single MIL" (SAPNet Table 1 "MIL-SOLOv2", Table 4 row 1) on the nuclei: the PSM
alone chooses the proposal (no PDG, PNPG, PRM, BMS or MPS); otherwise ``sapnet_mnv2_fpn_nuclei.py``."""
from .sapnet_mnv2_fpn_nuclei import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.use_prm = False
model.pdg_exponent = 0.0
model.mps_weight = 0.0
train.output_dir = "./output/SAPNet/sapnet_mnv2_fpn_nuclei_single_mil"
