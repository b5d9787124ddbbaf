"""Pseudo-box baseline (CPR Sec. 4.2, Table 3 "Faster R-CNN"): stock Detectron2 Faster R-CNN
(FPN) trained on fixed-size 16-px boxes centred on the coarse points of the tree demo; its box
centres are the predicted points, scored with point mAP on ``pointdet_trees_val``.

Pseudo boxes: ``PointDatasetMapper(pseudo_box_size=16)`` (see
retinanet_pseudobox_mnv2_fpn_trees.py). RPN anchors are one size per level starting at 16 px
on P2 (Detectron2's default starts at 32, where a 16-px box reaches IoU 0.25 < 0.3). CPU
budget: 128-channel FPN, SGD lr 0.01 with clipping 10 and 100 warm-up iterations, 1,000
iterations of 4 tiles, 300 detections per tile.

  python tools/train_net.py --config-file configs/CPR/faster_rcnn_pseudobox_mnv2_fpn_trees.py
"""


from ..common.data.demo_trees import dataloader_points as dataloader
from ..common.models.faster_rcnn_mnv2_fpn import model, set_fpn_channels
from ..common.evaluation import point_ap_evaluator
from ..common.optim import SGD, clip_gradients
from ..common.schedules import multistep_with_warmup
from ..common.train import train

PSEUDO_BOX_SIZE = 16

dataloader.train.mapper.pseudo_box_size = PSEUDO_BOX_SIZE
dataloader.evaluator = point_ap_evaluator(max_dets=300)

model.roi_heads.num_classes = 1
set_fpn_channels(model, 128)
model.proposal_generator.anchor_generator.sizes = [[16], [32], [64], [128], [256]]
model.roi_heads.box_predictor.test_topk_per_image = 300

optimizer = clip_gradients(SGD, clip_value=10.0)
optimizer.lr = 0.01

train.max_iter = 1000
lr_multiplier = multistep_with_warmup(train.max_iter, steps=(8 / 12, 11 / 12), warmup_iters=100)
train.output_dir = "./output/cpr/faster_rcnn_pseudobox_mnv2_fpn_trees"
train.eval_period = 500
train.checkpointer.period = 500
train.checkpointer.max_to_keep = 2
