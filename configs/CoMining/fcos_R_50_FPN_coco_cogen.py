"""Co-mining Table 5, scheme ``cogen``:
co-generation without the Siamese branch (Table 2, row 2); fcos R50-FPN, COCO hard set
(other sets: ``projects/CoMining/README.md``).

    python tools/train_net.py --num-gpus 8 --config-file configs/CoMining/fcos_R_50_FPN_coco_cogen.py
"""
from .base_fcos_R_50_FPN_coco import dataloader, lr_multiplier, model, optimizer, train
from ..common.comining_schemes import apply_scheme

apply_scheme(model, dataloader, "cogen")
train.output_dir = "./output/CoMining/fcos_R_50_FPN_coco_hard_cogen"
