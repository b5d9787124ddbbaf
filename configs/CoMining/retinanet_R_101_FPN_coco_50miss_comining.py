"""Co-mining Table 6: RetinaNet R101-FPN on COCO-50miss (``coco_2017_train_sparse_50miss_s0``,
50% of the annotations of every category erased), scheme ``comining``; tau 0.6 (reference
``retinanet.res101.comining.score.06.miss50p``).

    python tools/train_net.py --num-gpus 8 --config-file configs/CoMining/retinanet_R_101_FPN_coco_50miss_comining.py
"""
from pointdet.modeling.comining import PAPER_SCORE_THRESH, sparse_train_name

from .base_retinanet_R_50_FPN_coco import dataloader, lr_multiplier, model, optimizer, train
from ..common.comining_schemes import apply_scheme

model.backbone.bottom_up.stages.depth = 101
model.pseudo_score_thresh = PAPER_SCORE_THRESH["50miss"]
dataloader.train.dataset.names = sparse_train_name("coco_2017_train", "50miss", 0)
apply_scheme(model, dataloader, "comining")
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"
train.output_dir = "./output/CoMining/retinanet_R_101_FPN_coco_50miss_comining"
