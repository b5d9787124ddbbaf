"""Multi-class P2PNet on the tree demo, trained on CPR-refined points (CPR Table 1 row 4 analogue).

Same model, schedule and evaluation as ``p2pnet_mnv2_fpn_trees_coarse.py``; only the training
points differ. The refined file is a config value (default: the file the refinement hook of
``cprnet_mnv2_fpn_trees.py`` writes into that run's folder), registered on the fly under the
dataset name ``pointdet_trees_train_refined`` (images from the demo's tree image folder)::

  python tools/train_net.py --config-file configs/CPR/cprnet_mnv2_fpn_trees.py   # its hook writes the file
  python tools/train_net.py --config-file configs/CPR/p2pnet_mnv2_fpn_trees_refined.py \
      [dataloader.train.dataset.json_file=<another refined point file>]

``p2pnet_mnv2_fpn_trees_self_refined.py`` is the same with the self-refinement baseline's file.
"""
import os

from detectron2.config import LazyCall as L

from pointdet.data.datasets import load_point_coco_json
from pointdet.data.demo import demo_root

from .p2pnet_mnv2_fpn_trees_coarse import dataloader, lr_multiplier, model, optimizer, train

REFINED_POINTS = "output/cpr/cprnet_mnv2_fpn_trees/trees_train_coarse_points_s0_cpr_refined.json"

dataloader.train.dataset = L(load_point_coco_json)(
    json_file=REFINED_POINTS,
    image_root=os.path.join(demo_root(), "trees", "images"),
    dataset_name="pointdet_trees_train_refined",
)
train.output_dir = "./output/cpr/p2pnet_mnv2_fpn_trees_refined"
