"""Dataloaders for the embedded aerial-tree demo (deepforest YELL tiles; one class, "tree").

``pointdet_trees_train`` / ``pointdet_trees_val`` are spatially disjoint 384x384 tiles of the
same YELL images; ``pointdet_trees_test`` (OSBS/SOAP, 400x400) is another forest site, out of
domain (use ``dataloader.test.dataset.names = "pointdet_trees_test"``).

* ``dataloader``: full boxes (Detectron2's DatasetMapper);
* ``dataloader_points``: one coarse point per tree (``pointdet_trees_train_coarse_points_s0``,
  made by ``tools/make_weak_annotations.py coarse-points --seed 0``), PointDatasetMapper;
* ``dataloader_clicks``: one centre click per tree (``..._clicks1_s0``).

All evaluate boxes on ``pointdet_trees_val`` with COCOeval, maxDets raised to 300 because a
tile holds up to ~100 crowns. Images are fed in RGB (torchvision-pretrained backbones).
Augmentation: a fixed-size resize (tiles are already 384) and horizontal + vertical flips,
both meaningful for nadir aerial images.
"""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L

from .loaders import make_dataloader

TILE = 384  # multiple of 128, the padding of a P3-P7 FPN

train_augmentations = [
    L(T.ResizeShortestEdge)(short_edge_length=TILE, max_size=640),
    L(T.RandomFlip)(horizontal=True, vertical=False),
    L(T.RandomFlip)(horizontal=False, vertical=True),
]
test_augmentations = [L(T.ResizeShortestEdge)(short_edge_length=TILE, max_size=640)]

_common = dict(
    test_names="pointdet_trees_val",
    train_augmentations=train_augmentations,
    test_augmentations=test_augmentations,
    image_format="RGB",
    total_batch_size=4,
    num_workers=2,
    max_dets_per_image=300,
)

dataloader = make_dataloader("pointdet_trees_train", supervision="boxes", **_common)
dataloader_points = make_dataloader(
    "pointdet_trees_train_coarse_points_s0", supervision="points", **_common
)
dataloader_clicks = make_dataloader("pointdet_trees_train_clicks1_s0", supervision="clicks", **_common)
