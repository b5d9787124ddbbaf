"""SAPNet with the paper's model on the nuclei: ``sapnet_R_50_FPN_1x_coco.py``'s R-50 FPN SOLOv2
with the SAPNet branch at the paper's defaults (FC-1024 MIL head), one class, part negatives from
16x16 px as in ``sapnet_mnv2_fpn_nuclei.py``, the tiles resized to 800 px, BGR input. The SAPNet
side of the step benchmark at the paper's model size against ``solov2_R_50_FPN_nuclei_top1.py``
(projects/SAPNet/README.md, "Step time"); training needs the ImageNet R-50 weights at
``train.init_checkpoint``.
"""
from ..common.data.sapnet_nuclei import at_paper_scale, dataloader_sapnet
from .sapnet_R_50_FPN_1x_coco import model
from .solov2_R_50_FPN_nuclei_top1 import lr_multiplier, optimizer, train  # noqa: F401

dataloader = at_paper_scale(dataloader_sapnet)
model.num_classes = 1
model.max_per_image = 300
model.part_neg_min_area = 16 * 16
train.output_dir = "./output/SAPNet/sapnet_R_50_FPN_nuclei"
train.ddp = dict(find_unused_parameters=True)  # the PSM's background column is unused without negatives
