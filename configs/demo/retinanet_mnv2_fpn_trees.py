"""Demo: RetinaNet with an ImageNet MobileNetV2-FPN on the embedded aerial-tree tiles.

A SHORT schedule for a CPU demo, not a result: 300 iterations of 4 tiles (384x384), SGD lr
0.0025 (the RetinaNet paper's 0.01 at 16 images, scaled linearly to 4) with gradient clipping
(L2 norm of each parameter's gradient at most 1) and 100 warm-up iterations, x0.1 at 2/3 and
8/9 of training; trained on ``pointdet_trees_train``, evaluated (COCO box AP, maxDets 300) on
the spatially disjoint ``pointdet_trees_val``. Expect a weak detector: about 1,000-2,000
iterations are needed for a convincing one (``train.max_iter=2000``; the LR schedule
follows ``train.max_iter`` only if you also rebuild it, e.g. in a config that imports this
one). Out-of-domain test: ``dataloader.test.dataset.names=pointdet_trees_test``.

Model: Detectron2 RetinaNet, slim head (FPN and 2 head convs of 128 channels instead of 4 x
256: the head is most of the forward time on a CPU), anchors 16-256 px for tree crowns of ~10-60 px,
one class. Needs ``python tools/prepare_demo_data.py`` (data + ImageNet weights).

Measured (2-core machine shared with two other trainings, ``--num-threads 1``, real
MobileNetV2): 300 iterations in 15 min 38 s (3.1 s/iteration), val AP 1.7 / AP50 7.5. With
the earlier lr 0.01 (four times the linearly scaled rate) the same config gave AP 0.6 / AP50
2.8: with that lr this RetinaNet's output hardly depends on the image (on the hard sparse set
the best score per validation tile varied by 0.002 across tiles; see
``projects/CoMining/README.md``, "Demo"). With clipping by value at 10 instead of the norm
clipping, lr 0.01 diverged (classification loss ~1e16) between iterations 100 and 160 in two of
three runs. The FCOS and Faster R-CNN demo configs import this recipe but keep lr 0.01, at
which they were measured. Not measured on an idle machine. On a busy machine pass
``--num-threads 1``: with PyTorch's default 2 threads a step took 14 s instead of 2 s under
the same load.

    python tools/train_net.py --num-threads 1 --config-file configs/demo/retinanet_mnv2_fpn_trees.py
"""
from ..common.data.demo_trees import dataloader
from ..common.models.retinanet_mnv2_fpn import model, slim_head
from ..common.optim import SGD as optimizer
from ..common.optim import clip_gradients
from ..common.schedules import multistep_with_warmup
from ..common.train import train

slim_head(model, channels=128, num_convs=2)
model.num_classes = 1
model.anchor_generator.sizes = [[x, x * 2 ** (1.0 / 3), x * 2 ** (2.0 / 3)] for x in [16, 32, 64, 128, 256]]
model.max_detections_per_image = 300

dataloader.train.total_batch_size = 4

optimizer = clip_gradients(optimizer, clip_value=1.0, clip_type="norm")
optimizer.lr = 0.01 * 4 / 16  # the paper's lr at 16 images per batch, linear scaling to 4

train.max_iter = 300
train.eval_period = 300
train.log_period = 20
train.checkpointer = dict(period=100, max_to_keep=3)
train.output_dir = "./output/demo/retinanet_mnv2_fpn_trees"

lr_multiplier = multistep_with_warmup(300, steps=(0.67, 0.89), warmup_iters=100, warmup_factor=0.001)
