"""Table 4c refinement ablation of CPR on COCO: the reference code's rule (a_j in B+ only if it passes the constraints).

Refinement-time only: use the weights trained with cprnet_R_50_FPN_1x_coco.py, e.g.
  python tools/refine_points.py --config-file configs/CPR/cprnet_R_50_FPN_1x_coco_refine_reference.py --weights W.pth ...
"""
from .cprnet_R_50_FPN_1x_coco import dataloader, hooks, lr_multiplier, model, optimizer, train  # noqa: F401

model.refinement.always_include_annotated = False
train.output_dir = "./output/CPR/cprnet_R_50_FPN_1x_coco_refine_reference"
