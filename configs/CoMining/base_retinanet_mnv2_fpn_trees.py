"""Co-mining demo: RetinaNet (ImageNet MobileNetV2-FPN, slim head) on the aerial-tree tiles with
the hard sparse set (half of each tile's crowns erased: ``pointdet_trees_train_sparse_hard_s0``,
made by ``tools/make_weak_annotations.py sparse --level hard --seed 0``), evaluated on the fully
annotated ``pointdet_trees_val``.

The recipe of ``configs/demo/retinanet_mnv2_fpn_trees.py`` (300 iterations of 4 tiles, SGD lr
0.0025 = the paper's 0.01 at 16 images scaled linearly to 4, gradient-norm clipping, 100 warm-up
iterations): a SHORT CPU schedule, not a result. With lr 0.01 this RetinaNet collapsed: by
iteration 500 its best boxes were the same on every tile, along the tile borders (see
``projects/CoMining/README.md``, "Demo").
The model is :class:`CoMiningRetinaNet` with the paper's values (tau 0.6, theta1 0.5, theta2
0.4, top 1,000 per level, at most 100 pseudo boxes per tile and view); the second view is the
colour jitter of :class:`TwoViewDatasetMapper`. ``hooks.mined_quality`` logs the mined boxes'
count and precision / recall against the erased crowns every 100 iterations (first 16 tiles)
and after training (all tiles), then writes pictures, ``mined_boxes.json`` and
``mined_quality.json`` into ``<output_dir>/mined``. The scheme files
``retinanet_mnv2_fpn_trees_{original,augmented,joint,cogen,comining}.py`` import this one.
"""
from detectron2.config import LazyCall as L

from pointdet.engine.comining import MinedBoxQualityHook
from pointdet.modeling.comining import CoMiningRetinaNet, sparse_train_name

from ..demo.retinanet_mnv2_fpn_trees import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401
from ..common.comining_schemes import as_comining, two_view

as_comining(model, CoMiningRetinaNet)  # tau, theta1, theta2 and the caps of co-generation

dataloader.train.dataset.names = sparse_train_name("pointdet_trees_train", "hard", 0)
two_view(dataloader)
train.output_dir = "./output/CoMining/retinanet_mnv2_fpn_trees_hard"

hooks = dict(
    mined_quality=L(MinedBoxQualityHook)(
        dataset_name="${dataloader.train.dataset.names}",
        period=100,
        output_dir="${train.output_dir}/mined",
        max_images=16,
        augmentations="${dataloader.test.mapper.augmentations}",
        image_format="${dataloader.train.mapper.image_format}",
    )
)
