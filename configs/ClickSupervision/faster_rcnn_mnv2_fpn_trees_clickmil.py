"""Deep MIL (click supervision, Sec. 2 "deep MIL"): a stock Detectron2 Faster R-CNN trained on the
final click-MIL windows of the tree demo, evaluated with COCO box AP on ``pointdet_trees_val``.

Same model, schedule and evaluation as ``configs/demo/faster_rcnn_mnv2_fpn_trees.py`` (trained
on the true boxes: the upper bound to compare with); only the training boxes differ. The box
file is a config value (default: the two-click run of projects/ClickSupervision/README.md),
registered on the fly as ``pointdet_trees_train_clickmil``::

  python tools/click_mil.py ... --output output/clickmil/two_clicks/boxes.json
  python tools/train_net.py --config-file configs/ClickSupervision/faster_rcnn_mnv2_fpn_trees_clickmil.py \
      [dataloader.train.dataset.json_file=output/clickmil/one_click/boxes.json] train.output_dir=...

The paper's deep MIL re-trains with Fast R-CNN for two more re-localization rounds; here the
detector is trained once on the final windows (no further re-localization).
"""
import os

from detectron2.config import LazyCall as L

from pointdet.data.demo import demo_root
from pointdet.engine.clickmil import load_clickmil_boxes

from ..demo.faster_rcnn_mnv2_fpn_trees import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

CLICKMIL_BOXES = "output/clickmil/two_clicks/boxes.json"

dataloader.train.dataset = L(load_clickmil_boxes)(
    json_file=CLICKMIL_BOXES,
    image_root=os.path.join(demo_root(), "trees", "images"),
    dataset_name="pointdet_trees_train_clickmil",
)
train.output_dir = "./output/clickmil/faster_rcnn_mnv2_fpn_trees_clickmil"
