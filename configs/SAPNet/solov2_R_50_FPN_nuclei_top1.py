"""The SAM-top1 -> SOLOv2 nuclei baseline with the paper's model: ``solov2_R_50_FPN_1x_coco.py``'s
R-50 FPN SOLOv2 (one class), the tiles resized to 800 px, BGR input. It is the SOLOv2 side of the
step benchmark at the paper's model size (projects/SAPNet/README.md, "Step time"); training needs
the ImageNet R-50 weights at ``train.init_checkpoint`` (a user path; nothing is downloaded).

    python tools/benchmark_train_step.py --num-threads 1 --steps 2 \\
        --config-file configs/SAPNet/solov2_R_50_FPN_nuclei_top1.py \\
        --config-file configs/SAPNet/sapnet_R_50_FPN_nuclei.py
"""
from ..common.data.sapnet_nuclei import at_paper_scale, dataloader_top1
from ..common.models.solov2_R_50_FPN import R50_IMAGENET_CHECKPOINT
from .solov2_R_50_FPN_1x_coco import model
from .solov2_mnv2_fpn_nuclei import lr_multiplier, optimizer, train  # noqa: F401

dataloader = at_paper_scale(dataloader_top1)
model.num_classes = 1
model.max_per_image = 300
train.init_checkpoint = R50_IMAGENET_CHECKPOINT
train.output_dir = "./output/SAPNet/solov2_R_50_FPN_nuclei_top1"
