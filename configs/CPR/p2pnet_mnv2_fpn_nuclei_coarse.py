"""Multi-class P2PNet on the nuclei demo, trained on coarse points; point mAP on ``pointdet_nuclei_val``.

Same model and schedule shape as ``p2pnet_mnv2_fpn_trees_coarse.py`` but 150 iterations (3
training tiles); data from ``configs/common/data/demo_nuclei.py`` (tiles upsampled x2 to 512 px). ::

  python tools/train_net.py --config-file configs/CPR/p2pnet_mnv2_fpn_nuclei_coarse.py
"""
from .p2pnet_mnv2_fpn_trees_coarse import dataloader, lr_multiplier, model, optimizer, train
from ..common.data.demo_nuclei import dataloader_points

dataloader.train = dataloader_points.train
dataloader.test = dataloader_points.test
train.output_dir = "./output/cpr_nuclei/p2pnet_mnv2_fpn_nuclei_coarse"
train.max_iter = 150
train.eval_period = 150
train.checkpointer.period = 150
