"""CPRNet on COCO 2017 train coarse points (CPR paper setting, Sec. 4.1; projects/CPR/README.md).

R-50 + FPN (GN) read at P3 (stride 8), bag radius R = 8, u0 = 8, loss weights 0.25 / 0.125 /
0.75, "coco400" resize (short side 400, long side <= 667) for training and refinement, SGD lr
0.0025 decayed x0.1 at epochs 8 and 11 of 12 (1x; 90k iterations at 16 images per batch). The
reference used torchvision R-50 weights; Detectron2's MSRA R-50 (BGR, std 1) is used here.

Needs COCO under $DETECTRON2_DATASETS/coco and the coarse file
coco/annotations/instances_train2017_coarse_points_s0.json (tools/make_weak_annotations.py).
After training, RefinePointsHook writes <output_dir>/instances_train2017_coarse_points_s0_cpr_refined.json;
tools/refine_points.py does the same from a checkpoint.
"""
from detectron2.config import LazyCall as L
from detectron2.data import build_detection_test_loader, build_detection_train_loader, get_detection_dataset_dicts
from detectron2.data import transforms as T

from pointdet.data.dataset_mapper import PointDatasetMapper
from pointdet.engine.refinement import RefinePointsHook

from ..common.models.cprnet_mnv2_fpn import model  # the paper's defaults; backbone swapped below
from ..common.models.resnet_fpn import BGR_PIXEL_MEAN, BGR_PIXEL_STD, resnet_fpn_gn_p3
from ..common.optim import SGD as optimizer
from ..common.optim import clip_gradients
from ..common.schedules import multistep_with_warmup
from ..common.train import train

DATASET = "coco_2017_train_coarse_points_s0"

model.backbone = resnet_fpn_gn_p3(depth=50)
model.pixel_mean = BGR_PIXEL_MEAN
model.pixel_std = BGR_PIXEL_STD
model.input_format = "BGR"

_resize = L(T.ResizeShortestEdge)(short_edge_length=400, max_size=667)  # "coco400"

dataloader = dict(
    train=L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(names=DATASET, filter_empty=False),
        mapper=L(PointDatasetMapper)(
            is_train=True,
            augmentations=[_resize, L(T.RandomFlip)(horizontal=True)],
            image_format="BGR",
            supervision="points",
        ),
        total_batch_size=16,
        num_workers=4,
    ),
    # refinement runs over the *training* file (the reference's "val" = train json)
    test=L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names="${...train.dataset.names}", filter_empty=False),
        mapper=L(PointDatasetMapper)(
            is_train=False, augmentations=[_resize], image_format="BGR", supervision="points",
            keep_points_in_inference=True,
        ),
        num_workers=4,
    ),
)

optimizer = clip_gradients(optimizer, clip_value=10.0, clip_type="norm")  # "value" fails on the unused p4/p5 convs (no grad)
optimizer.lr = 0.0025
optimizer.weight_decay = 1e-4

train.max_iter = 90000
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
train.output_dir = "./output/CPR/cprnet_R_50_FPN_1x_coco"
train.eval_period = 10**9  # CPRNet has no evaluation: its product is the refined file
train.checkpointer = dict(period=10000, max_to_keep=3)
train.ddp = dict(broadcast_buffers=False, find_unused_parameters=True, fp16_compression=False)  # p4/p5 unused

lr_multiplier = multistep_with_warmup(train.max_iter, steps=(8 / 12, 11 / 12), warmup_iters=500)

# extra hooks, to be registered by tools/train_net.py (cfg.hooks); writes the refined point file
# of the training dataset into the run's folder, with the test mapper's resize
hooks = dict(
    refine_points=L(RefinePointsHook)(
        dataset_name="${...dataloader.train.dataset.names}",
        output_dir="${...train.output_dir}",
        augmentations="${...dataloader.test.mapper.augmentations}",
        image_format="${...dataloader.test.mapper.image_format}",
    )
)

# written for 8 GPUs: fewer processes rescale batch, lr and iterations (pointdet.engine.defaults.scale_to_world_size)
train.reference_world_size = 8
