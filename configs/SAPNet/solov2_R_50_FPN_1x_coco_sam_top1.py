"""Baseline "SAM-top1 -> SOLOv2" R-50 FPN 1x on COCO (paper Table 1 / 3: 24.6 mask AP): each
point's top-scoring SAM proposal is its box and mask label; otherwise
``solov2_R_50_FPN_1x_coco.py``. Needs the proposals of ``sapnet_R_50_FPN_1x_coco.py``."""
from detectron2.config import LazyCall as L

from pointdet.sam.datasets import top1_proposal_dataset

from .sapnet_R_50_FPN_1x_coco import POINTS, PROPOSALS
from .solov2_R_50_FPN_1x_coco import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

dataloader.train.dataset = L(top1_proposal_dataset)(name=POINTS, proposal_file=PROPOSALS)
dataloader.train.mapper.use_instance_mask = True
dataloader.train.mapper.instance_mask_format = "bitmask"  # RLE proposals
train.output_dir = "./output/SAPNet/solov2_R_50_FPN_1x_coco_sam_top1"
