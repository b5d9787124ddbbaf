"""Demo: fully supervised SOLOv2 on the nuclei tiles (GT masks), the upper bound of the SAPNet
demo comparison (projects/SAPNet/README.md).

Model ``common/models/solov2_mnv2_fpn.py`` with slim heads (2 convs of 64 channels, mask
features 32 -> 64), one class, up to 300 masks per tile. Data: ``pointdet_nuclei_train``
(boxes + bitmask masks, 512 px), evaluated on ``pointdet_nuclei_val`` (COCO bbox + segm,
maxDets 300). A short CPU schedule (300 iterations of 2 tiles); its result is in projects/SAPNet/README.md.

    python tools/train_net.py --num-threads 1 --config-file configs/SAPNet/solov2_mnv2_fpn_nuclei.py
"""
from pointdet.evaluation.score_aware_evaluator import ScoreAwareCOCOEvaluator

from ..common.data.demo_nuclei import dataloader
from ..common.models.solov2_mnv2_fpn import model, slim
from ..common.optim import SGD as optimizer
from ..common.optim import clip_gradients
from ..common.schedules import multistep_with_warmup
from ..common.train import train

slim(model)
model.num_classes = 1
model.max_per_image = 300
dataloader.evaluator.tasks = ("bbox", "segm")
dataloader.evaluator._target_ = ScoreAwareCOCOEvaluator  # COCO AP + score-aware AP (bbox, segm)

optimizer = clip_gradients(optimizer, clip_value=35.0, clip_type="norm")  # reference: max-norm 35
optimizer.lr = 0.01

train.max_iter = 300
train.eval_period = 300
train.log_period = 20
train.checkpointer = dict(period=100, max_to_keep=3)
train.output_dir = "./output/SAPNet/solov2_mnv2_fpn_nuclei"

lr_multiplier = multistep_with_warmup(300, steps=(8 / 12, 11 / 12), warmup_iters=50, warmup_factor=0.001)
