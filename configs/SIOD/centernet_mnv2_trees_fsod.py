"""SIOD demo, CenterNet on ImageNet MobileNetV2 (plain-conv neck), aerial trees, FULL boxes (FSOD,
the upper bound). The base of every ``centernet_mnv2_trees_*`` config.

SHORT CPU schedule, not a result: 300 iterations of 4 tiles (384 x 384), Adam lr 5e-4 (the
reference's rate) with 100 warm-up iterations and x0.1 at 2/3 and 8/9, gradient-norm clipping
at 1; neck 128/64/64 channels. Score-aware AP (AP@S, AP@S_0..9) on ``pointdet_trees_val``,
maxDets 300. See projects/SIOD/README.md.

    python tools/train_net.py --num-threads 1 --config-file configs/SIOD/centernet_mnv2_trees_fsod.py
"""
from ..common.data.demo_trees import dataloader
from ..common.data.siod import score_aware_evaluator
from ..common.models.centernet import centernet_mnv2
from ..common.optim import Adam as optimizer
from ..common.optim import clip_gradients
from ..common.schedules import multistep_with_warmup
from ..common.train import train

model = centernet_mnv2(neck_conv="plain", neck_channels=(128, 64, 64), head_conv=64)
model.num_classes = 1
model.test_topk = 300

dataloader.evaluator = score_aware_evaluator(max_dets=300)

optimizer = clip_gradients(optimizer, clip_value=1.0, clip_type="norm")
optimizer.lr = 5e-4
optimizer.weight_decay = 0.0  # the reference's Adam has none

train.max_iter = 300
train.eval_period = 300
train.checkpointer = dict(period=100, max_to_keep=3)
train.output_dir = "./output/SIOD/centernet_mnv2_trees_fsod"
lr_multiplier = multistep_with_warmup(300, steps=(0.67, 0.89), warmup_iters=100, warmup_factor=0.001)
