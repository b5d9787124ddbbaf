"""SAPNet R-50 FPN 1x on COCO with the reference code's choices where they differ from the paper
(PDG with square-root distances on the PSM logits, d = 1/64; negatives normalised by the number
of bags; BMS with 2 px containment slack and also after the PSM; MPS ranks 1/3/5). See
projects/SAPNet/README.md, "Differences from the paper"."""
from ..common.models.sapnet_mnv2_fpn import reference_variant
from .sapnet_R_50_FPN_1x_coco import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

reference_variant(model)
train.output_dir = "./output/SAPNet/sapnet_R_50_FPN_1x_coco_reference"
