"""Co-mining demo, scheme ``comining`` (see ``configs/common/comining_schemes.py``): retinanet MobileNetV2-FPN on the
tree tiles, hard sparse set (other sets: ``projects/CoMining/README.md``).

    python tools/train_net.py --num-threads 1 --config-file configs/CoMining/retinanet_mnv2_fpn_trees_comining.py
"""
from .base_retinanet_mnv2_fpn_trees import dataloader, hooks, lr_multiplier, model, optimizer, train  # noqa: F401
from ..common.comining_schemes import apply_scheme

apply_scheme(model, dataloader, "comining")
train.output_dir = "./output/CoMining/retinanet_mnv2_fpn_trees_hard_comining"
