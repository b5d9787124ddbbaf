"""The training schemes of Co-mining's experiments (Co-mining Tables 1, 2 and 5) as edits of
one Co-mining config, so that every baseline differs from Co-mining only in what it names:

* ``original``: the stock detector and Detectron2's DatasetMapper (no second view);
* ``augmented``: the stock detector's training on the augmented view only;
* ``joint``: the Siamese network without co-generation (annotations supervise both views);
* ``cogen``: co-generation without the Siamese branch (one detector on the original view,
  supervised by the annotations plus its own pseudo boxes; Table 2, row 2);
* ``comining``: both (the method).

See ``pointdet.modeling.comining.siamese`` for the switches and ``projects/CoMining/README.md``.
"""
from detectron2.data import DatasetMapper
from detectron2.modeling.meta_arch import RetinaNet
from pointdet.data.dataset_mapper import TwoViewDatasetMapper
from pointdet.modeling.comining import CoMiningFCOS, CoMiningRetinaNet
from pointdet.modeling.meta_arch import FCOS

SCHEMES = ("original", "augmented", "joint", "cogen", "comining")

_FLAGS = {
    "augmented": dict(siamese=False, co_generation=False, single_view="augmented"),
    "joint": dict(siamese=True, co_generation=False),
    "cogen": dict(siamese=False, co_generation=True, single_view="original"),
    "comining": dict(siamese=True, co_generation=True),
}
_STOCK = {CoMiningRetinaNet: RetinaNet, CoMiningFCOS: FCOS}
_COMINING_KEYS = (
    "siamese", "co_generation", "single_view", "pseudo_score_thresh", "pseudo_nms_thresh",
    "pseudo_duplicate_iou_thresh", "pseudo_topk_candidates", "pseudo_max_per_image", "normalizer_momentum",
)  # fmt: skip
_VIEW_KEYS = ("brightness", "contrast", "saturation", "hue", "jitter_prob", "blur_prob", "blur_sigma",
              "blur_kernel_fraction", "seed")  # fmt: skip


# theta1 of co-generation is the detector's own test NMS threshold (Detectron2: RetinaNet 0.5, FCOS 0.6)
_THETA1 = {CoMiningRetinaNet: 0.5, CoMiningFCOS: 0.6}


def as_comining(model, target):
    """Make a RetinaNet / FCOS ``model`` config the Co-mining detector ``target``
    (CoMiningRetinaNet or CoMiningFCOS) with the co-generation values of the paper and the
    reference code (in place; returns ``model``): tau 0.6, theta1 = the detector's test NMS
    threshold, theta2 0.4, top-1,000 candidates per level, at most 100 pseudo boxes per image,
    and each branch's loss normaliser with Detectron2's momentum 0.9."""
    if target not in _THETA1:
        raise ValueError(f"as_comining expects CoMiningRetinaNet or CoMiningFCOS, got {target}")
    model._target_ = target
    model.pseudo_score_thresh = 0.6  # tau
    model.pseudo_nms_thresh = _THETA1[target]  # theta1
    model.pseudo_duplicate_iou_thresh = 0.4  # theta2
    model.pseudo_topk_candidates = 1000
    model.pseudo_max_per_image = 100
    model.normalizer_momentum = 0.9
    return model


def two_view(dataloader):
    """Make ``dataloader.train.mapper`` (a DatasetMapper config) a TwoViewDatasetMapper with
    the paper's colour jitter (in place; returns ``dataloader``)."""
    dataloader.train.mapper._target_ = TwoViewDatasetMapper
    return dataloader


def apply_scheme(model, dataloader, scheme):
    """Edit a Co-mining ``model`` / ``dataloader`` config pair into ``scheme`` (in place)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown Co-mining scheme {scheme!r}; expected one of {SCHEMES}")
    if model._target_ not in _STOCK:
        raise ValueError(f"apply_scheme expects a CoMiningRetinaNet / CoMiningFCOS config, got {model._target_}")
    if scheme == "original":
        model._target_ = _STOCK[model._target_]
        for k in _COMINING_KEYS:
            model.pop(k, None)
        dataloader.train.mapper._target_ = DatasetMapper
        for k in _VIEW_KEYS:
            dataloader.train.mapper.pop(k, None)
        return model, dataloader
    model.update(_FLAGS[scheme])
    return model, dataloader
