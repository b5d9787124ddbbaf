"""Multi-class P2PNet on the tree demo, trained on self-refined points (CPR Table 1 row 3 analogue).

Self-refinement (paper Sec. 4.2): a localizer trained on the coarse points predicts on the
training images, and the score-weighted mean of its predictions around each annotated point
becomes the new point (tools/self_refine_points.py)::

  python tools/train_net.py --config-file configs/CPR/p2pnet_mnv2_fpn_trees_coarse.py \
      --eval-only train.init_checkpoint=output/cpr/p2pnet_mnv2_fpn_trees_coarse/model_final.pth \
      dataloader.test.dataset.names=pointdet_trees_train \
      train.output_dir=output/cpr/p2pnet_trees_coarse_on_train
  python tools/self_refine_points.py \
      --points datasets/pointdet_demo/trees/annotations/trees_train_coarse_points_s0.json \
      --predictions output/cpr/p2pnet_trees_coarse_on_train/point_results.json \
      --output output/cpr/trees_train_self_refined_points.json
  python tools/train_net.py --config-file configs/CPR/p2pnet_mnv2_fpn_trees_self_refined.py

(The pseudo-box detectors retinanet_pseudobox_* / faster_rcnn_pseudobox_* are the paper's
"pseudo box strategy" localizers and can produce the predictions instead.)
"""
from .p2pnet_mnv2_fpn_trees_refined import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset.json_file = "output/cpr/trees_train_self_refined_points.json"
dataloader.train.dataset.dataset_name = "pointdet_trees_train_self_refined"
train.output_dir = "./output/cpr/p2pnet_mnv2_fpn_trees_self_refined"
