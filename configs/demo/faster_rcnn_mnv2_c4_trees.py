"""Demo: Faster R-CNN C4 with ImageNet MobileNetV2 on the embedded aerial-tree tiles.

Same data and SHORT schedule as ``retinanet_mnv2_fpn_trees.py`` (300 iterations of 4 tiles,
SGD lr 0.01, per-parameter gradient-norm clipping at 1, 100 warm-up iterations): a demo of the
pipeline, not a result. Trained on ``pointdet_trees_train``, evaluated on
``pointdet_trees_val`` (COCO box AP, maxDets 300).

Model: ``common/models/faster_rcnn_mnv2_c4.py`` (MobileNetV2 res4 trunk, RPN on stride 16,
MobileNetV2 res5 as the per-RoI head) with the CPU-budget changes: anchors 16-256 px for tree
crowns of ~10-60 px (5 sizes x 3 ratios on the one stride-16 map, as the zoo's C4), 2000/1000
pre-NMS and 500/300 post-NMS proposals, 32 RoIs per image (the per-RoI res5 is the costly part
of a C4 model: a training step costs about 1.5x the RetinaNet demo's), one class, up to 300
detections per tile. Needs ``python tools/prepare_demo_data.py`` (data + ImageNet weights).

    python tools/train_net.py --num-threads 1 --config-file configs/demo/faster_rcnn_mnv2_c4_trees.py
"""
from ..common.models.faster_rcnn_mnv2_c4 import model
from .retinanet_mnv2_fpn_trees import dataloader, lr_multiplier, optimizer, train  # noqa: F401  (the same recipe)

optimizer.lr = 0.01  # the lr these demos were measured with (the RetinaNet demo's is 0.0025)

model.proposal_generator.anchor_generator.sizes = [[16, 32, 64, 128, 256]]
model.proposal_generator.pre_nms_topk = (2000, 1000)
model.proposal_generator.post_nms_topk = (500, 300)
model.roi_heads.num_classes = 1
model.roi_heads.batch_size_per_image = 32
model.roi_heads.box_predictor.test_topk_per_image = 300

train.output_dir = "./output/demo/faster_rcnn_mnv2_c4_trees"
