"""SAPNet R-101 FPN 3x multi-scale on COCO (paper Table 1: 34.6 mask AP): short side 640-800 in
steps of 32, 36 epochs, no MPS (Supp. Sec. 8). The decay epochs of the 3x schedule are not
stated; 27 and 33 of 36 (the usual 3x) are our assumption (projects/SAPNet/README.md)."""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L

from ..common.schedules import multistep_with_warmup
from .sapnet_R_50_FPN_1x_coco import BATCH, dataloader, model, optimizer, train  # noqa: F401
from .solov2_R_50_FPN_1x_coco import COCO_TRAIN_IMAGES

model.backbone.bottom_up.stages.depth = 101
model.mps_weight = 0.0
dataloader.train.mapper.augmentations = [
    L(T.ResizeShortestEdge)(short_edge_length=(640, 672, 704, 736, 768, 800), sample_style="choice", max_size=1333),
    L(T.RandomFlip)(horizontal=True),
]
train.max_iter = COCO_TRAIN_IMAGES * 36 // BATCH
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"
train.output_dir = "./output/SAPNet/sapnet_R_101_FPN_3x_ms_coco"
lr_multiplier = multistep_with_warmup(train.max_iter, steps=(27 / 36, 33 / 36), warmup_iters=500, warmup_factor=0.001)
