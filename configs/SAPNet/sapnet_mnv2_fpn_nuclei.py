"""Demo: SAPNet on the nuclei tiles from coarse points and classical prompted-mask proposals.

The SOLOv2 branch is ``solov2_mnv2_fpn_nuclei.py``'s (slim heads, one class, 300 masks); the
MIL head is narrowed to FC-256 and part negatives start at 16x16 px (the nuclei are 10-40 px
at 512 px; the paper's 64x64 threshold would never fire). Same schedule as the SOLOv2 demo;
results over 2 seeds in projects/SAPNet/README.md. First make the proposals::

    python tools/sam_proposals.py --source classical \\
        --annotations datasets/pointdet_demo/nuclei/annotations/nuclei_train_coarse_points_s0.json \\
        --image-root datasets/pointdet_demo/nuclei/images \\
        --output output/SAPNet/proposals/nuclei_train_coarse_points_s0_classical.json
    python tools/train_net.py --num-threads 1 --config-file configs/SAPNet/sapnet_mnv2_fpn_nuclei.py
"""
from ..common.models.sapnet_mnv2_fpn import sapnet
from ..common.data.sapnet_nuclei import dataloader_sapnet as dataloader  # noqa: F401
from .solov2_mnv2_fpn_nuclei import lr_multiplier, model, optimizer, train  # noqa: F401

model = sapnet(model, fc_dim=256)
model.part_neg_min_area = 16 * 16
train.output_dir = "./output/SAPNet/sapnet_mnv2_fpn_nuclei"
train.ddp = dict(find_unused_parameters=True)  # the PSM's background column is unused without negatives
