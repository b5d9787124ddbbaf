"""Table 4c refinement ablation of CPR on COCO: delta_2 = 0.

Refinement-time only: use the weights trained with cprnet_R_50_FPN_1x_coco.py, e.g.
  python tools/refine_points.py --config-file configs/CPR/cprnet_R_50_FPN_1x_coco_refine_delta2_0.py --weights W.pth ...
"""
from .cprnet_R_50_FPN_1x_coco import dataloader, hooks, lr_multiplier, model, optimizer, train  # noqa: F401

model.refinement.relative_score_threshold = 0.0
train.output_dir = "./output/CPR/cprnet_R_50_FPN_1x_coco_refine_delta2_0"
