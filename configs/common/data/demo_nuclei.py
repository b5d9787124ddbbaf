"""Dataloaders for the embedded nuclei demo (stardist; one class, "nucleus", RLE masks).

``pointdet_nuclei_train`` (3 tiles of 256x256) / ``pointdet_nuclei_val`` (the 4th tile).
Nuclei are 5-20 px wide, so the tiles are upsampled x2 to 512 for FPN detectors.

* ``dataloader``: boxes and bitmask instance masks (Detectron2's DatasetMapper);
* ``dataloader_points``: one coarse point per nucleus
  (``pointdet_nuclei_train_coarse_points_s0``), PointDatasetMapper.

Evaluation: COCOeval bbox (and segm when the model predicts masks) on ``pointdet_nuclei_val``
with maxDets 300 (a 256 tile holds ~30 nuclei, the whole image 125; COCO's default is 100).
Microscopy has no preferred orientation: horizontal and vertical flips.
"""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L

from .loaders import make_dataloader

SIZE = 512

train_augmentations = [
    L(T.ResizeShortestEdge)(short_edge_length=SIZE, max_size=1024),
    L(T.RandomFlip)(horizontal=True, vertical=False),
    L(T.RandomFlip)(horizontal=False, vertical=True),
]
test_augmentations = [L(T.ResizeShortestEdge)(short_edge_length=SIZE, max_size=1024)]

_common = dict(
    test_names="pointdet_nuclei_val",
    train_augmentations=train_augmentations,
    test_augmentations=test_augmentations,
    image_format="RGB",
    total_batch_size=2,
    num_workers=2,
    max_dets_per_image=300,
)

dataloader = make_dataloader(
    "pointdet_nuclei_train",
    supervision="boxes",
    use_instance_mask=True,
    instance_mask_format="bitmask",  # the demo files hold RLE masks
    **_common,
)
dataloader_points = make_dataloader(
    "pointdet_nuclei_train_coarse_points_s0", supervision="points", **_common
)
