"""Multi-class P2PNet on the nuclei demo, trained on CPR-refined points (the coarse config otherwise).

The default refined file is the one the refinement hook of ``cprnet_mnv2_fpn_nuclei.py`` writes
into that run's folder::

  python tools/train_net.py --config-file configs/CPR/cprnet_mnv2_fpn_nuclei.py
  python tools/train_net.py --config-file configs/CPR/p2pnet_mnv2_fpn_nuclei_refined.py \\
      [dataloader.train.dataset.json_file=<refined point file>]
"""
import os

from detectron2.config import LazyCall as L

from pointdet.data.datasets import load_point_coco_json
from pointdet.data.demo import demo_root

from .p2pnet_mnv2_fpn_nuclei_coarse import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset = L(load_point_coco_json)(
    json_file="output/cpr_nuclei/cprnet_mnv2_fpn_nuclei/nuclei_train_coarse_points_s0_cpr_refined.json",
    image_root=os.path.join(demo_root(), "nuclei", "images"),
    dataset_name="pointdet_nuclei_train_refined",
)
train.output_dir = "./output/cpr_nuclei/p2pnet_mnv2_fpn_nuclei_refined"
