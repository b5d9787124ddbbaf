"""Nuclei demo data for the SAPNet configs: coarse points + prompted-mask proposals.

The proposals are made by ``tools/sam_proposals.py`` (classical flood-fill source on the demo,
since no SAM weights can be obtained here; with a SAM checkpoint, ``--source sam``) into
``PROPOSALS``; projects/SAPNet/README.md has the commands. Evaluation: COCO bbox + segm on
``pointdet_nuclei_val`` (maxDets 300).
"""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.data import build_detection_train_loader

from pointdet.data.dataset_mapper import PointDatasetMapper
from pointdet.evaluation.score_aware_evaluator import ScoreAwareCOCOEvaluator
from pointdet.sam.datasets import dataset_with_proposals, top1_proposal_dataset

from .demo_nuclei import dataloader, train_augmentations

POINTS = "pointdet_nuclei_train_coarse_points_s0"
PROPOSALS = "output/SAPNet/proposals/nuclei_train_coarse_points_s0_classical.json"

dataloader.evaluator.tasks = ("bbox", "segm")
dataloader.evaluator._target_ = ScoreAwareCOCOEvaluator  # COCO AP + score-aware AP (bbox, segm)

# SAPNet: points with their M proposals (boxes and masks)
dataloader_sapnet = dataloader.copy()
dataloader_sapnet.train = L(build_detection_train_loader)(
    dataset=L(dataset_with_proposals)(name=POINTS, proposal_file=PROPOSALS),
    mapper=L(PointDatasetMapper)(
        is_train=True,
        augmentations=train_augmentations,
        image_format="RGB",
        supervision="points",
        object_proposals=True,
        object_proposal_masks=True,
    ),
    total_batch_size=2,
    num_workers=2,
)

# SAM-top1 baseline: the top proposal of each point as a box + mask label (Table 1 / 3)
dataloader_top1 = dataloader.copy()
dataloader_top1.train = dataloader.train.copy()
dataloader_top1.train.dataset = L(top1_proposal_dataset)(name=POINTS, proposal_file=PROPOSALS)


def at_paper_scale(dl):
    """``dl`` (a copy of one of the loaders above) with BGR input, the format of the R-50
    ImageNet weights, and the tiles resized to the paper's 800 px short edge (flips kept)."""
    dl = dl.copy()
    for node, train in ((dl.train, True), (dl.test, False)):
        node.mapper.image_format = "BGR"
        resize = L(T.ResizeShortestEdge)(short_edge_length=800, max_size=1333)
        node.mapper.augmentations = [resize] + (list(train_augmentations[1:]) if train else [])
    return dl
