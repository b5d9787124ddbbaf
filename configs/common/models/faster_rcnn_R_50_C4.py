"""Detectron2 Faster R-CNN R50-C4, the model of the zoo's ``COCO-Detection/faster_rcnn_R_50_C4_1x``
(the Faster R-CNN setting of SIOD, Li et al. CVPR 2022, Table 1): ``common/models/mask_rcnn_c4.py``
without its mask branch, the stem and res2 frozen (the yacs ``MODEL.BACKBONE.FREEZE_AT = 2``),
MSRA ImageNet R-50, BGR input. Experiments set ``train.init_checkpoint = R50_IMAGENET_CHECKPOINT``
(``resnet_fpn.py``).
"""
from pointdet.config import get_model_zoo_config

model = get_model_zoo_config("common/models/mask_rcnn_c4.py").model
del model.roi_heads.mask_head  # Faster R-CNN: boxes only
model.backbone.freeze_at = 2
