"""CPRNet on the nuclei demo's coarse points, then point refinement.

Nuclei are compact blobs on a dark background, so CPR's class score separates an object's
centre from its surroundings after a short schedule (the dense tree canopy needs 1,200
iterations; see projects/CPR/README.md). Same model and schedule shape as
``cprnet_mnv2_fpn_trees.py`` except: train on ``pointdet_nuclei_train_coarse_points_s0``
(3 tiles, upsampled x2 to 512 px), bag radius R = 2 cells (16 px; nuclei are 10-40 px wide
at that scale), 200 iterations (the tiles are few and the blobs easy). The refinement hook
follows the training dataset and run folder (see ``cprnet_mnv2_fpn_trees.py``) and writes
``output/cpr_nuclei/cprnet_mnv2_fpn_nuclei/nuclei_train_coarse_points_s0_cpr_refined.json``::

  python tools/make_weak_annotations.py coarse-points --seed 0 \\
      --input datasets/pointdet_demo/nuclei/annotations/nuclei_train.json
  python tools/train_net.py --config-file configs/CPR/cprnet_mnv2_fpn_nuclei.py
"""
from .cprnet_mnv2_fpn_trees import dataloader, hooks, lr_multiplier, model, optimizer, train  # noqa: F401
from ..common.data.demo_nuclei import dataloader_points, test_augmentations

dataloader.train = dataloader_points.train
dataloader.train.dataset.filter_empty = False
dataloader.test.mapper.augmentations = test_augmentations  # also the refinement hook's
model.bag_radius = 2
train.max_iter = 200  # the trees' schedule shape (warm-up 1/3, x0.1 at 8/12 and 11/12), shorter
train.checkpointer.period = 200
train.output_dir = "./output/cpr_nuclei/cprnet_mnv2_fpn_nuclei"
