"""Co-mining Tables 1-4, scheme ``joint``:
the Siamese network without co-generation; retinanet R50-FPN, COCO hard set
(other sets: ``projects/CoMining/README.md``).

    python tools/train_net.py --num-gpus 8 --config-file configs/CoMining/retinanet_R_50_FPN_coco_joint.py
"""
from .base_retinanet_R_50_FPN_coco import dataloader, lr_multiplier, model, optimizer, train
from ..common.comining_schemes import apply_scheme

apply_scheme(model, dataloader, "joint")
train.output_dir = "./output/CoMining/retinanet_R_50_FPN_coco_hard_joint"
