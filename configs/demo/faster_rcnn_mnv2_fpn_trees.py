"""Demo: Faster R-CNN with an ImageNet MobileNetV2-FPN on the embedded aerial-tree tiles.

The second demo detector, same data and SHORT schedule as ``retinanet_mnv2_fpn_trees.py``
(300 iterations of 4 tiles, SGD lr 0.01, per-parameter gradient-norm clipping at 1, 100
warm-up iterations): a demo, not a
result. Trained on ``pointdet_trees_train``, evaluated on ``pointdet_trees_val`` (COCO box AP,
maxDets 300).

Model: Detectron2 GeneralizedRCNN with the CPU-budget changes: FPN P3-P7 of 128 channels
(no stride-4 level), RPN anchors 16-256 px (one size per level), 1000/500 proposals, 128 RoIs
per image, RoIs pooled from P3-P5, a 2-FC box head of 512, up to 300 detections per tile.

    python tools/train_net.py --config-file configs/demo/faster_rcnn_mnv2_fpn_trees.py
"""
from detectron2.layers import ShapeSpec

from ..common.models.faster_rcnn_mnv2_fpn import model, set_fpn_channels
from ..common.models.mobilenetv2_fpn import mobilenetv2_fpn_p3p7
from .retinanet_mnv2_fpn_trees import dataloader, lr_multiplier, optimizer, train  # noqa: F401  (the same recipe)

optimizer.lr = 0.01  # the lr these demos were measured with (the RetinaNet demo's is 0.0025)

# CPU budget: FPN P3-P7 (stride 8 up, as the RetinaNet demo) instead of P2-P6; the stride-4
# level made a training step about 3x slower than the RetinaNet demo's.
model.backbone = mobilenetv2_fpn_p3p7(out_channels=128)
set_fpn_channels(model, 128)
model.proposal_generator.in_features = ["p3", "p4", "p5", "p6", "p7"]
model.proposal_generator.anchor_generator.sizes = [[16], [32], [64], [128], [256]]
model.proposal_generator.anchor_generator.strides = [8, 16, 32, 64, 128]
model.proposal_generator.pre_nms_topk = (1000, 1000)
model.proposal_generator.post_nms_topk = (500, 500)
model.roi_heads.num_classes = 1
model.roi_heads.batch_size_per_image = 128
model.roi_heads.box_in_features = ["p3", "p4", "p5"]
model.roi_heads.box_pooler.scales = (1.0 / 8, 1.0 / 16, 1.0 / 32)
model.roi_heads.box_head.fc_dims = [512, 512]
model.roi_heads.box_predictor.input_shape = ShapeSpec(channels=512)
model.roi_heads.box_predictor.test_topk_per_image = 300

train.output_dir = "./output/demo/faster_rcnn_mnv2_fpn_trees"
