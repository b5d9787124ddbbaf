"""Co-mining demo, scheme ``joint`` (see ``configs/common/comining_schemes.py``): fcos MobileNetV2-FPN on the
tree tiles, hard sparse set (other sets: ``projects/CoMining/README.md``).

    python tools/train_net.py --num-threads 1 --config-file configs/CoMining/fcos_mnv2_fpn_trees_joint.py
"""
from .base_fcos_mnv2_fpn_trees import dataloader, hooks, lr_multiplier, model, optimizer, train  # noqa: F401
from ..common.comining_schemes import apply_scheme

apply_scheme(model, dataloader, "joint")
train.output_dir = "./output/CoMining/fcos_mnv2_fpn_trees_hard_joint"
