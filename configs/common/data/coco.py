"""COCO 2017 dataloaders for users who have COCO under ``$DETECTRON2_DATASETS/coco``.

Detectron2's standard recipe (BGR, multi-scale short edge 640-800, max 1333, horizontal
flip, batch 16), evaluated on ``coco_2017_val``; used by the fully supervised baselines in
``configs/COCO-Detection/`` and meant for the methods' COCO experiments:

* ``dataloader``: ``coco_2017_train``, boxes + masks;
* ``dataloader_coarse_points``: ``coco_2017_train_coarse_points_s0`` (CPR / SAPNet);
* ``dataloader_clicks``: ``coco_2017_train_clicks1_s0`` (click supervision);
* ``dataloader_keep1``: ``coco_2017_train_keep1_s0`` (SIOD / DMiner), boxes;
* ``dataloader_sparse_hard``: ``coco_2017_train_sparse_hard_s0`` (Co-mining), boxes.

Other seeds / levels: change ``dataloader.train.dataset.names``
(e.g. ``coco_2017_train_sparse_extreme_s1``); the derived files are made by
``tools/make_weak_annotations.py`` from ``instances_train2017.json``.
"""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L

from .loaders import make_dataloader

train_augmentations = [
    L(T.ResizeShortestEdge)(
        short_edge_length=(640, 672, 704, 736, 768, 800), sample_style="choice", max_size=1333
    ),
    L(T.RandomFlip)(horizontal=True),
]
test_augmentations = [L(T.ResizeShortestEdge)(short_edge_length=800, max_size=1333)]

_common = dict(
    test_names="coco_2017_val",
    train_augmentations=train_augmentations,
    test_augmentations=test_augmentations,
    image_format="BGR",
    total_batch_size=16,
    num_workers=4,
)

dataloader = make_dataloader("coco_2017_train", use_instance_mask=True, **_common)
dataloader_coarse_points = make_dataloader(
    "coco_2017_train_coarse_points_s0", supervision="points", **_common
)
dataloader_clicks = make_dataloader("coco_2017_train_clicks1_s0", supervision="clicks", **_common)
dataloader_keep1 = make_dataloader("coco_2017_train_keep1_s0", **_common)
dataloader_sparse_hard = make_dataloader("coco_2017_train_sparse_hard_s0", **_common)
