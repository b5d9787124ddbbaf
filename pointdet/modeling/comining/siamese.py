"""Co-mining's Siamese training of a dense detector (Co-mining, Wang et al. AAAI 2021, Fig. 2,
Algorithm 1, Eq. 1-2) for Detectron2's RetinaNet and FCOS.

:class:`CoMiningRetinaNet` / :class:`CoMiningFCOS` are the stock detectors plus a training
forward: the original image and its augmented view (``image_jittered`` from
:class:`~pointdet.data.dataset_mapper.TwoViewDatasetMapper`) go through the same backbone and
head (shared weights); each branch's detached dense predictions are turned into pseudo boxes by
:func:`~pointdet.modeling.comining.co_generation.co_generate`, which are merged with the
annotations to supervise the *other* branch (Eq. 1); the loss is the plain sum of both
branches' losses (Eq. 2).

They add no parameter and no buffer: a checkpoint has the stock state-dict keys and loads
into plain RetinaNet / FCOS and ``DefaultPredictor``; inference is the stock forward.

Loss normaliser: Detectron2 divides each loss by an EMA of the foreground count
(``loss_normalizer``, momentum 0.9, init 100 RetinaNet / 300 FCOS). One EMA updated by both
branches would mix two different counts per step; each branch here keeps its own
(``loss_normalizer_original`` / ``loss_normalizer_augmented``). ``normalizer_momentum = 0``
divides by the batch's own count, as the reference code.

The baselines of the paper (Tables 1, 2, 4, 5) are switches, not other models:

=====================  =========  =============  ===============
scheme                 siamese    co_generation  single_view
=====================  =========  =============  ===============
original               stock detector and mapper (no second view)
augmented              False      False          "augmented"
joint                  True       False          --
co-generation only     False      True           "original"
Co-mining              True       True           --
=====================  =========  =============  ===============
"""
import contextlib
from typing import Dict, List, Optional

import torch
from torch import Tensor

from detectron2.config import CfgNode as CN
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, RetinaNet
from detectron2.structures import Instances
from detectron2.utils.events import get_event_storage

from ..meta_arch.fcos import FCOS
from .co_generation import co_generate, merge_with_annotations

__all__ = ["CoMiningMixin", "CoMiningRetinaNet", "CoMiningFCOS", "add_comining_config", "VIEWS"]

VIEWS = ("original", "augmented")
_AUG_KEY = "image_jittered"


def add_comining_config(cfg):
    """Add ``cfg.MODEL.COMINING.*`` (in place; returns cfg), read by the registered
    ``CoMiningRetinaNet`` / ``CoMiningFCOS``. Defaults: the paper / reference code.

    * ``SIAMESE`` (True), ``CO_GENERATION`` (True), ``SINGLE_VIEW`` ("original"): the scheme
      (see the module docstring).
    * ``SCORE_THRESH``: tau, 0.6 (0.5 for the extreme set).
    * ``NMS_THRESH``: theta1; < 0 = the detector's own test NMS threshold
      (``MODEL.RETINANET.NMS_THRESH_TEST`` 0.5 / ``MODEL.FCOS.NMS_THRESH_TEST`` 0.6), the
      reference's value.
    * ``DUPLICATE_IOU_THRESH``: theta2, 0.4. ``TOPK_CANDIDATES``: 1000 per level.
      ``MAX_PER_IMAGE``: 100. ``NORMALIZER_MOMENTUM``: 0.9 (Detectron2's EMA; 0 = reference).
    """
    cfg.MODEL.COMINING = CN()
    cfg.MODEL.COMINING.SIAMESE = True
    cfg.MODEL.COMINING.CO_GENERATION = True
    cfg.MODEL.COMINING.SINGLE_VIEW = "original"
    cfg.MODEL.COMINING.SCORE_THRESH = 0.6
    cfg.MODEL.COMINING.NMS_THRESH = -1.0
    cfg.MODEL.COMINING.DUPLICATE_IOU_THRESH = 0.4
    cfg.MODEL.COMINING.TOPK_CANDIDATES = 1000
    cfg.MODEL.COMINING.MAX_PER_IMAGE = 100
    cfg.MODEL.COMINING.NORMALIZER_MOMENTUM = 0.9
    return cfg


def _comining_from_config(cfg, detector_nms: float) -> Dict:
    c = cfg.MODEL.COMINING
    return dict(
        siamese=c.SIAMESE,
        co_generation=c.CO_GENERATION,
        single_view=c.SINGLE_VIEW,
        pseudo_score_thresh=c.SCORE_THRESH,
        pseudo_nms_thresh=c.NMS_THRESH if c.NMS_THRESH >= 0 else detector_nms,
        pseudo_duplicate_iou_thresh=c.DUPLICATE_IOU_THRESH,
        pseudo_topk_candidates=c.TOPK_CANDIDATES,
        pseudo_max_per_image=c.MAX_PER_IMAGE,
        normalizer_momentum=c.NORMALIZER_MOMENTUM,
    )


class CoMiningMixin:
    """The Siamese co-generation training forward, mixed into a Detectron2 dense detector
    (:class:`CoMiningRetinaNet`, :class:`CoMiningFCOS`). Subclasses implement
    :meth:`_dense_scores`.

    Attributes after a training step: ``last_pseudo`` ``{view: [Instances per image]}``, the
    pseudo boxes each branch generated (detached, on the model's device), for logging hooks.
    """

    def __init__(
        self,
        *,
        siamese: bool = True,
        co_generation: bool = True,
        single_view: str = "original",
        pseudo_score_thresh: float = 0.6,
        pseudo_nms_thresh: float,
        pseudo_duplicate_iou_thresh: float = 0.4,
        pseudo_topk_candidates: int = 1000,
        pseudo_max_per_image: int = 100,
        normalizer_momentum: float = 0.9,
        **kwargs,
    ):
        """
        Args:
            siamese: train both views (original and augmented) with shared weights.
            co_generation: supervise with the annotations plus the pseudo boxes of the other
                branch (siamese) or of the branch itself (single view); False = annotations only.
            single_view: with ``siamese=False``, the view trained: "original" or "augmented".
            pseudo_score_thresh: tau, class probability a pseudo box needs (> tau).
            pseudo_nms_thresh: theta1, class-aware NMS IoU.
            pseudo_duplicate_iou_thresh: theta2, IoU to a same-class annotation above which a
                pseudo box is dropped.
            pseudo_topk_candidates: candidates per level before NMS.
            pseudo_max_per_image: pseudo boxes per image and view.
            normalizer_momentum: momentum of each branch's EMA loss normaliser (0: the batch's
                foreground count, the reference code).
            kwargs: the detector's arguments.
        """
        super().__init__(**kwargs)
        if single_view not in VIEWS:
            raise ValueError(f"single_view must be one of {VIEWS}, got {single_view!r}")
        if not 0.0 <= pseudo_score_thresh < 1.0:
            raise ValueError(f"pseudo_score_thresh (tau) must be in [0, 1), got {pseudo_score_thresh!r}")
        if not 0.0 <= normalizer_momentum < 1.0:
            raise ValueError(f"normalizer_momentum must be in [0, 1), got {normalizer_momentum!r}")
        self.siamese = siamese
        self.co_generation = co_generation
        self.single_view = single_view
        self.pseudo_score_thresh = pseudo_score_thresh
        self.pseudo_nms_thresh = pseudo_nms_thresh
        self.pseudo_duplicate_iou_thresh = pseudo_duplicate_iou_thresh
        self.pseudo_topk_candidates = pseudo_topk_candidates
        self.pseudo_max_per_image = pseudo_max_per_image
        self.normalizer_momentum = normalizer_momentum
        self._branch: Optional[str] = None
        self.last_pseudo: Dict[str, List[Instances]] = {}

    @property
    def views(self):
        """The trained views, in forward order."""
        return VIEWS if self.siamese else (self.single_view,)

    # ---- per-branch loss normaliser -------------------------------------------------------
    def _ema_update(self, name: str, value: float, initial_value: float, momentum: float = 0.9):
        if self._branch is not None:
            name = f"{name}_{self._branch}"
        return super()._ema_update(name, value, initial_value, momentum=self.normalizer_momentum)

    @contextlib.contextmanager
    def _as_branch(self, view: Optional[str]):
        self._branch = view
        try:
            yield
        finally:
            self._branch = None

    # ---- detector-specific scores ---------------------------------------------------------
    def _dense_scores(self, predictions: List[List[Tensor]], i: int):
        """(class probabilities, ranking scores or None) per level for image ``i`` of the
        transposed detached predictions; see :func:`co_generate`."""
        raise NotImplementedError

    @torch.no_grad()
    def generate_pseudo_boxes(self, features, predictions, gt_instances: List[Instances]) -> List[Instances]:
        """Co-generation for one view (Algorithm 1 lines 6-13): pseudo boxes per image, from
        the view's head outputs ``predictions`` (detached here) on ``features``."""
        detached = [[x.detach() for x in p] for p in predictions]
        dims = [self.num_classes, 4, 1][: len(detached)]
        transposed = self._transpose_dense_predictions(detached, dims)
        anchors = [a.tensor for a in self.anchor_generator(features)]
        out = []
        for i, gt in enumerate(gt_instances):
            probs, rank = self._dense_scores(transposed, i)
            out.append(
                co_generate(
                    anchors, probs, [d[i] for d in transposed[1]], self.box2box_transform.apply_deltas, gt,
                    score_thresh=self.pseudo_score_thresh, topk_candidates=self.pseudo_topk_candidates,
                    nms_thresh=self.pseudo_nms_thresh, max_per_image=self.pseudo_max_per_image,
                    duplicate_iou_thresh=self.pseudo_duplicate_iou_thresh, rank_scores=rank,
                )  # fmt: skip
            )
        return out

    # ---- training forward -----------------------------------------------------------------
    def forward(self, batched_inputs: List[Dict]):
        """Training: the loss dict (keys suffixed ``_original`` / ``_augmented`` when siamese;
        the detector's own keys for one view). Inference: the stock detector's output."""
        if not self.training:
            return super().forward(batched_inputs)
        if "augmented" in self.views and _AUG_KEY not in batched_inputs[0]:
            raise ValueError(
                f"Co-mining's augmented view needs '{_AUG_KEY}' in the inputs: train with "
                "pointdet.data.dataset_mapper.TwoViewDatasetMapper"
            )
        if "instances" not in batched_inputs[0]:
            raise ValueError("Instance annotations are missing in training!")
        gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        branches = {}
        for view in self.views:
            key = "image" if view == "original" else _AUG_KEY
            images = self.preprocess_image([{"image": x[key]} for x in batched_inputs])
            features = self.backbone(images.tensor)
            features = [features[f] for f in self.head_in_features]
            branches[view] = (images, features, self.head(features))

        targets = {v: gt_instances for v in self.views}
        self.last_pseudo = {}
        if self.co_generation:
            for v in self.views:
                self.last_pseudo[v] = self.generate_pseudo_boxes(branches[v][1], branches[v][2], gt_instances)
            storage = get_event_storage()
            for v in self.views:
                # Eq. 1: C_o = P_a^g u Y and C_a = P_o^g u Y (one view: its own P^g u Y)
                source = v if not self.siamese else VIEWS[1 - VIEWS.index(v)]
                targets[v] = [merge_with_annotations(g, p) for g, p in zip(gt_instances, self.last_pseudo[source])]
                storage.put_scalar(
                    f"comining/pseudo_per_image_{source}",
                    sum(len(p) for p in self.last_pseudo[source]) / max(len(gt_instances), 1),
                )

        losses = {}
        for v in self.views:
            images, features, predictions = branches[v]
            with self._as_branch(v if self.siamese else None):
                branch_losses = self.forward_training(images, features, predictions, targets[v])
            if self.siamese:  # the detector logs "num_pos_anchors" once per call: keep each branch's
                storage = get_event_storage()
                if "num_pos_anchors" in storage.latest():
                    storage.put_scalar(f"num_pos_anchors_{v}", storage.latest()["num_pos_anchors"][0])
            suffix = f"_{v}" if self.siamese else ""
            losses.update({k + suffix: val for k, val in branch_losses.items()})  # Eq. 2: L = L_o + L_a
        return losses


@META_ARCH_REGISTRY.register()
class CoMiningRetinaNet(CoMiningMixin, RetinaNet):
    """Detectron2's :class:`RetinaNet` trained with Co-mining (see the module docstring).
    theta1 defaults to RetinaNet's test NMS threshold, 0.5."""

    @configurable
    def __init__(self, *, pseudo_nms_thresh: float = 0.5, **kwargs):
        super().__init__(pseudo_nms_thresh=pseudo_nms_thresh, **kwargs)

    @classmethod
    def from_config(cls, cfg):
        ret = RetinaNet.from_config(cfg)
        ret.update(_comining_from_config(cfg, cfg.MODEL.RETINANET.NMS_THRESH_TEST))
        return ret

    def _dense_scores(self, predictions, i):
        return [x[i].sigmoid() for x in predictions[0]], None


@META_ARCH_REGISTRY.register()
class CoMiningFCOS(CoMiningMixin, FCOS):
    """Detectron2's FCOS trained with Co-mining (see the module docstring). tau thresholds the
    raw class probability; candidates are ranked by sqrt(probability x centerness) as FCOS
    ranks at test time (reference ``fcos.py``). theta1 defaults to FCOS's test NMS, 0.6."""

    @configurable
    def __init__(self, *, pseudo_nms_thresh: float = 0.6, **kwargs):
        super().__init__(pseudo_nms_thresh=pseudo_nms_thresh, **kwargs)

    @classmethod
    def from_config(cls, cfg):
        ret = FCOS.from_config.__func__(cls, cfg)
        ret.update(_comining_from_config(cfg, cfg.MODEL.FCOS.NMS_THRESH_TEST))
        return ret

    def _dense_scores(self, predictions, i):
        probs = [x[i].sigmoid() for x in predictions[0]]
        return probs, [torch.sqrt(p * c[i].sigmoid()) for p, c in zip(probs, predictions[2])]
