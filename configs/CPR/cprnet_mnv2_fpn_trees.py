"""CPRNet on the tree demo's coarse points, then point refinement (CPR Alg. 1 on the demo).

Train: ``pointdet_trees_train_coarse_points_s0`` (one Rectified-Gaussian coarse point per crown,
``python tools/make_weak_annotations.py coarse-points --seed 0 --input
datasets/pointdet_demo/trees/annotations/trees_train.json``). CPRNet has no evaluation: its
product is the refined point file, written after training by ``RefinePointsHook`` (when
``tools/train_net.py`` registers ``cfg.hooks``) into the run's folder as
``<train.output_dir>/<training file stem>_cpr_refined.json`` (here
``output/cpr/cprnet_mnv2_fpn_trees/trees_train_coarse_points_s0_cpr_refined.json``, the file
``p2pnet_mnv2_fpn_trees_refined.py`` trains on). The hook follows the config: the training
dataset (``dataloader.train.dataset.names``, one name), the run folder (``train.output_dir``)
and the test-time resize (``dataloader.test.mapper``, also used by ``tools/refine_points.py``)
are interpolated, so training on your own data with overrides refines your file into your run's
folder. From a checkpoint::

  python tools/train_net.py --config-file configs/CPR/cprnet_mnv2_fpn_trees.py
  python tools/refine_points.py --config-file configs/CPR/cprnet_mnv2_fpn_trees.py \
      --weights output/cpr/cprnet_mnv2_fpn_trees/model_final.pth \
      --input datasets/pointdet_demo/trees/annotations/trees_train_coarse_points_s0.json \
      --image-root datasets/pointdet_demo/trees/images \
      --output output/cpr/cprnet_mnv2_fpn_trees/trees_train_coarse_points_s0_cpr_refined.json \
      --vis-dir output/cpr/cprnet_vis

Paper settings kept: P3, u0 = 8, loss weights 0.25 / 0.125 / 0.75, SGD lr 0.0025, refinement
rules, one bag radius for training and refinement. Changed for the demo: MobileNetV2 instead of
R-50, FPN and head of 128 channels with 2 convs (CPU budget), gradient clipping, 1,200
iterations of 4 tiles (384 px; 80 epochs of the 60 tiles) with a linear warm-up over the first
third, and bag radius R = 2 cells (16 px): crowns are small (median 37 px) and the small ones
sit close to their neighbours, so a larger bag spreads the class score past them. The measured
effect of R and of the schedule is in projects/CPR/README.md.
"""

from detectron2.config import LazyCall as L
from detectron2.data import build_detection_test_loader, get_detection_dataset_dicts

from pointdet.data.dataset_mapper import PointDatasetMapper
from pointdet.engine.refinement import RefinePointsHook

from ..common.data.demo_trees import dataloader_points as dataloader
from ..common.data.demo_trees import test_augmentations
from ..common.models.cprnet_mnv2_fpn import model
from ..common.optim import SGD as optimizer
from ..common.optim import clip_gradients
from ..common.schedules import multistep_with_warmup
from ..common.train import train

model.num_classes = 1
model.backbone.out_channels = 128
model.head.conv_dims = 128
model.head.num_convs = 2
model.bag_radius = 2  # 16 px; also the refinement's radius (model.refine_bag_radius=None)

dataloader.train.dataset.filter_empty = False  # images without crowns are negatives
# refinement runs over the *training* file with the test-time resize; no evaluator
dataloader.test = L(build_detection_test_loader)(
    dataset=L(get_detection_dataset_dicts)(names="${...train.dataset.names}", filter_empty=False),
    mapper=L(PointDatasetMapper)(
        is_train=False,
        augmentations=test_augmentations,
        image_format="RGB",
        supervision="points",
        keep_points_in_inference=True,
    ),
    num_workers=2,
)
dataloader.pop("evaluator")

optimizer = clip_gradients(optimizer, clip_value=10.0, clip_type="norm")  # "value" fails on the unused p4/p5 convs (no grad)
optimizer.lr = 0.0025  # the paper's value; 0.01 diverged in one of two runs

train.max_iter = 1200
# scale-free: warm-up over the first third, x0.1 at 8/12 and 11/12 of any train.max_iter
lr_multiplier = multistep_with_warmup(train.max_iter, steps=(8 / 12, 11 / 12), warmup_iters=400)
train.output_dir = "./output/cpr/cprnet_mnv2_fpn_trees"
train.eval_period = 10**9  # nothing to evaluate
train.checkpointer.period = 300
train.checkpointer.max_to_keep = 2
train.ddp.find_unused_parameters = True  # the FPN's p4/p5 output convs are not used

# the training file, the run's folder and the test-time resize, followed by interpolation
hooks = dict(
    refine_points=L(RefinePointsHook)(
        dataset_name="${...dataloader.train.dataset.names}",
        output_dir="${...train.output_dir}",
        augmentations="${...dataloader.test.mapper.augmentations}",
        image_format="${...dataloader.test.mapper.image_format}",
    )
)
