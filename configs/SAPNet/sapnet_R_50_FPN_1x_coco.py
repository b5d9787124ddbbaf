"""SAPNet R-50 FPN 1x on COCO 2017 (paper Table 1: 31.2 mask AP; projects/SAPNet/README.md).

Quasi-centre points (``tools/make_weak_annotations.py quasi-center-points --seed 0``) with
M = 6 SAM proposals per point (``tools/sam_proposals.py --source sam`` with a SAM checkpoint)
in ``PROPOSALS``. Model ``common/models/solov2_R_50_FPN.py`` + the SAPNet branch with the
paper's defaults; schedule of the reference: SGD lr 0.015, momentum 0.9, weight decay 1e-4,
max-norm 35, 500 warm-up iterations from 0.001, x0.1 at epochs 8 and 11 of 12, 32 images
per batch (8 GPUs x 4), resize (1333, 800) + flip. Evaluated with COCO bbox + segm on val2017.
"""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.data import build_detection_train_loader

from pointdet.data.dataset_mapper import PointDatasetMapper
from pointdet.sam.datasets import dataset_with_proposals

from ..common.models.sapnet_mnv2_fpn import sapnet
from .solov2_R_50_FPN_1x_coco import BATCH, dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

POINTS = "coco_2017_train_quasi_center_points_s0"
PROPOSALS = "output/SAPNet/proposals/instances_train2017_quasi_center_points_s0_sam.json"

model = sapnet(model)
dataloader.train = L(build_detection_train_loader)(
    dataset=L(dataset_with_proposals)(name=POINTS, proposal_file=PROPOSALS),
    mapper=L(PointDatasetMapper)(
        is_train=True,
        augmentations=[
            L(T.ResizeShortestEdge)(short_edge_length=800, max_size=1333),
            L(T.RandomFlip)(horizontal=True),
        ],
        image_format="BGR",
        supervision="points",
        object_proposals=True,
        object_proposal_masks=True,
    ),
    total_batch_size=BATCH,
    num_workers=4,
)
train.output_dir = "./output/SAPNet/sapnet_R_50_FPN_1x_coco"
train.ddp = dict(broadcast_buffers=False, find_unused_parameters=True, fp16_compression=False)
