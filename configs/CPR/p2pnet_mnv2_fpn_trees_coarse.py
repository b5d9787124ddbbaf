"""Multi-class P2PNet on the tree demo, trained on coarse points (CPR Table 1 row 2 analogue).

Train: ``pointdet_trees_train_coarse_points_s0`` (one Rectified-Gaussian coarse point per crown,
``python tools/make_weak_annotations.py coarse-points --seed 0 --input
datasets/pointdet_demo/trees/annotations/trees_train.json``). Evaluation: point mAP
(PointAPEvaluator: tau 0.5/1/2 relative to the full GT boxes of ``pointdet_trees_val``, maxDets
300, COCO area ranges); the headline is mAP at tau = 1.

Paper settings kept: P3 head, top-5 Hungarian assignment, losses, Adam lr 1e-4, gradient
clipping 35, warm-up factor 1/3, x0.1 at 8/12 and 11/12 of training. Changed for the CPU budget
of 2 CPU cores: MobileNetV2 instead of R-50, an FPN and head of 128 channels
with 2 convs per tower, 1,000 iterations of 4 tiles (384 px). Dense tiles hold up to ~100
crowns: 300 points per image, and point NMS with 16-px pseudo boxes (the reference's setting
for small dense objects, SeaPerson) at IoU 0.01 so that neighbouring crowns (~15 px apart and
more) are not suppressed.

  python tools/train_net.py --config-file configs/CPR/p2pnet_mnv2_fpn_trees_coarse.py
"""


from ..common.data.demo_trees import dataloader_points as dataloader
from ..common.models.p2pnet_mnv2_fpn import model
from ..common.evaluation import point_ap_evaluator
from ..common.optim import Adam, clip_gradients
from ..common.schedules import multistep_with_warmup
from ..common.train import train

model.num_classes = 1
model.backbone.out_channels = 128
model.head.conv_dims = 128
model.head.num_convs = 2
model.max_detections_per_image = 300
model.test_nms_box_size = 16
model.test_nms_thresh = 0.01

dataloader.evaluator = point_ap_evaluator(max_dets=300)

optimizer = clip_gradients(
    Adam,
    clip_value=35.0,
    clip_type="norm",
)

train.max_iter = 1000
lr_multiplier = multistep_with_warmup(
    train.max_iter, steps=(8 / 12, 11 / 12), warmup_iters=100, warmup_factor=1.0 / 3
)
train.output_dir = "./output/cpr/p2pnet_mnv2_fpn_trees_coarse"
train.eval_period = 500
train.checkpointer.period = 500
train.checkpointer.max_to_keep = 2
train.ddp.find_unused_parameters = True  # the FPN's p4/p5 output convs are not used by the head
