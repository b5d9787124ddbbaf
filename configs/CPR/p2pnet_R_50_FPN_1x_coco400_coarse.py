"""Multi-class P2PNet on COCO coarse points: the CPR paper's setting (Table 1 row 2, 38.48 mAP1.0).

R-50-FPN (GN in the FPN), P3 (stride 8) head with 4 convs, "coco400" resize (short side 400,
long side <= 667) for train and test, Adam lr 1e-4, gradient clipping 35, linear warm-up 500
iterations (factor 1/3), 12 epochs with x0.1 at epochs 8 and 11, batch 64 (8 GPUs x 8).
Evaluated with point mAP (tau 0.5/1/2, maxDets 100, COCO area ranges) on val2017.

Needs COCO under $DETECTRON2_DATASETS/coco and the coarse-point file
(``python tools/make_weak_annotations.py coarse-points --input
datasets/coco/annotations/instances_train2017.json``); ImageNet R-50 weights from Detectron2's
model zoo. For the CPR-refined file, set ``dataloader.train.dataset.names`` to the refined
dataset (see p2pnet_mnv2_fpn_trees_refined.py for registering a file on the fly).
Differences: Detectron2's gradient clipping is per parameter (mmcv clips the global norm);
the ImageNet weights are Detectron2's MSRA (caffe-style) R-50 instead of torchvision's.
"""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.data import build_detection_test_loader, build_detection_train_loader, get_detection_dataset_dicts
from omegaconf import OmegaConf

from pointdet.data.dataset_mapper import PointDatasetMapper

from ..common.models.p2pnet_mnv2_fpn import model
from ..common.models.resnet_fpn import BGR_PIXEL_MEAN, BGR_PIXEL_STD, resnet_fpn_gn_p3
from ..common.evaluation import point_ap_evaluator
from ..common.optim import Adam, clip_gradients
from ..common.schedules import multistep_with_warmup
from ..common.train import train

model.backbone = resnet_fpn_gn_p3(depth=50)  # paper defaults from the common model
model.pixel_mean = BGR_PIXEL_MEAN
model.pixel_std = BGR_PIXEL_STD
model.input_format = "BGR"

# ---- data: coco400
dataloader = OmegaConf.create()
dataloader.train = L(build_detection_train_loader)(
    dataset=L(get_detection_dataset_dicts)(names="coco_2017_train_coarse_points_s0", filter_empty=True),
    mapper=L(PointDatasetMapper)(
        is_train=True,
        augmentations=[
            L(T.ResizeShortestEdge)(short_edge_length=400, max_size=667, sample_style="choice"),
            L(T.RandomFlip)(horizontal=True),
        ],
        image_format="BGR",
        supervision="points",
    ),
    total_batch_size=64,
    num_workers=4,
)
dataloader.test = L(build_detection_test_loader)(
    dataset=L(get_detection_dataset_dicts)(names="coco_2017_val", filter_empty=False),
    mapper=L(PointDatasetMapper)(
        is_train=False,
        augmentations=[L(T.ResizeShortestEdge)(short_edge_length=400, max_size=667)],
        image_format="${...train.mapper.image_format}",
    ),
    num_workers=4,
)
dataloader.evaluator = point_ap_evaluator(max_dets=100)

# ---- optimisation: Adam 1e-4, clip 35, 12 epochs of 118k images at batch 64
optimizer = clip_gradients(
    Adam,
    clip_value=35.0,
    clip_type="norm",
)
_ITERS_PER_EPOCH = 118287 // 64
train.max_iter = 12 * _ITERS_PER_EPOCH
lr_multiplier = multistep_with_warmup(
    train.max_iter, steps=(8 / 12, 11 / 12), warmup_iters=500, warmup_factor=1.0 / 3
)
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
train.output_dir = "./output/cpr/p2pnet_R_50_FPN_1x_coco400_coarse"
train.eval_period = 4 * _ITERS_PER_EPOCH
train.checkpointer.period = _ITERS_PER_EPOCH
train.ddp.find_unused_parameters = True  # FPN output convs of p4/p5 are not used by the head

# written for 8 GPUs: fewer processes rescale batch, lr and iterations (pointdet.engine.defaults.scale_to_world_size)
train.reference_world_size = 8
