"""Demo: FCOS with an ImageNet MobileNetV2-FPN on the embedded aerial-tree tiles.

Same data and SHORT schedule as ``retinanet_mnv2_fpn_trees.py`` (300 iterations of 4 tiles,
SGD lr 0.01, per-parameter gradient-norm clipping at 1, 100 warm-up iterations): a demo of the
pipeline, not a result. Trained on ``pointdet_trees_train``, evaluated on
``pointdet_trees_val`` (COCO box AP, maxDets 300).

Model: Detectron2's FCOS (model-zoo ``common/models/fcos.py``) with the CPU-budget slim head
(FPN and 2 GN head convs of 128 channels instead of 4 x 256), one class, up to 300 detections
per tile. FCOS has no anchors to adapt: tree crowns of ~10-60 px fall in P3's regression range
(0-64 px). Needs ``python tools/prepare_demo_data.py`` (data + ImageNet weights).

    python tools/train_net.py --num-threads 1 --config-file configs/demo/fcos_mnv2_fpn_trees.py
"""
from ..common.models.fcos_mnv2_fpn import model
from ..common.models.retinanet_mnv2_fpn import slim_head
from .retinanet_mnv2_fpn_trees import dataloader, lr_multiplier, optimizer, train  # noqa: F401  (the same recipe)

optimizer.lr = 0.01  # the lr these demos were measured with (the RetinaNet demo's is 0.0025)

slim_head(model, channels=128, num_convs=2)
model.num_classes = 1
model.max_detections_per_image = 300

train.output_dir = "./output/demo/fcos_mnv2_fpn_trees"
