"""Detectron2 FCOS R50-FPN, the model of the zoo's ``COCO-Detection/fcos_R_50_FPN_1x.py``
(the FCOS setting of SIOD, Li et al. CVPR 2022, Table 1): ``common/models/fcos.py`` with the
stem and res2 frozen, MSRA ImageNet R-50, BGR input. Experiments set
``train.init_checkpoint = R50_IMAGENET_CHECKPOINT`` (``resnet_fpn.py``).
"""
from pointdet.config import get_model_zoo_config

model = get_model_zoo_config("common/models/fcos.py").model
model.backbone.bottom_up.freeze_at = 2
