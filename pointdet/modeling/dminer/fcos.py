"""FCOS with DMiner (SIOD, Li et al. CVPR 2022, Sec. 3.4): SPLG + PGCL per FPN level on P3-P5
(m = 96, 64, 32), on the FPN features and FCOS's own classification logits.

Not in the paper, so pointdet's choices (``projects/SIOD/README.md``):

* per level, the ground-truth heat-map Y is CenterNet's Gaussian of every annotated box at that
  level's stride (CornerNet radius, IoU 0.7): it gives the prototypes (Eq. 3), the unlabeled
  cells, the PGCL queries (centre cells) and k0;
* the pseudo values enter FCOS's sigmoid focal loss as soft negatives: the loss of a class at
  a location where that class's target is 0 is multiplied by (1 - Y~)^beta (beta = 4, the
  penalty reduction of Eq. 5); positives and regression are FCOS's own;
* L_pgcl is the mean over the DMiner levels, times lambda_pgcl.
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from fvcore.nn import sigmoid_focal_loss
from torch import Tensor

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.structures import Instances

from pointdet.layers.heatmap import box_heatmap_targets

from ..meta_arch.fcos import FCOS
from .config import dminer_from_config
from .dminer import DMiner

__all__ = ["FCOSDMiner"]


@META_ARCH_REGISTRY.register()
class FCOSDMiner(FCOS):
    """pointdet's FCOS (Detectron2's, yacs-constructible) with DMiner in training. Same modules and
    state-dict keys as FCOS: its checkpoints load into FCOS / ``DefaultPredictor`` unchanged."""

    @configurable
    def __init__(
        self,
        *,
        dminer: DMiner,
        dminer_top_m: Sequence[int] = (96, 64, 32),
        pseudo_beta: float = 4.0,
        min_overlap: float = 0.7,
        **kwargs,
    ):
        """
        Args:
            dminer: DMiner hyper-parameters (its ``top_m`` is replaced by ``dminer_top_m``).
            dminer_top_m: m per level, for the first ``len(dminer_top_m)`` head levels (P3-P5).
            pseudo_beta: exponent of the soft-negative weight (1 - Y~)^beta.
            kwargs: FCOS's arguments.
        """
        super().__init__(**kwargs)
        if len(dminer_top_m) > len(self.head_in_features):
            raise ValueError(f"dminer_top_m {tuple(dminer_top_m)} has more levels than {self.head_in_features}")
        if dminer.loss_mask:
            raise ValueError("FCOSDMiner does not implement DMiner's loss_mask option (CenterNet / DMinerRPN do)")
        self.dminer = dminer
        self.dminer_top_m = tuple(int(m) for m in dminer_top_m)
        self.pseudo_beta = pseudo_beta
        self.min_overlap = min_overlap

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        d = cfg.MODEL.DMINER
        dminer = dminer_from_config(cfg)
        if dminer is None:
            raise ValueError("FCOSDMiner needs MODEL.DMINER.ENABLED = True (use FCOS otherwise)")
        ret.update(dminer=dminer, dminer_top_m=tuple(d.FCOS_TOP_M), pseudo_beta=d.FCOS_PSEUDO_BETA)
        return ret

    def dminer_terms(self, features: List[Tensor], cls_logits: List[Tensor], gt: List[Instances]):
        """Pseudo labels (N, R, K) in the order of FCOS's flattened logits (zeros on levels without
        DMiner) and the unweighted L_pgcl (mean over levels; None without PGCL)."""
        pseudo, pgcl = [], []
        for level, (f, logits) in enumerate(zip(features, cls_logits)):
            n, k, h, w = logits.shape
            if level >= len(self.dminer_top_m):
                pseudo.append(logits.new_zeros(n, h * w, k))
                continue
            stride = self.anchor_generator.strides[level]
            t = [box_heatmap_targets(g.gt_boxes.tensor, g.gt_classes, k, h, w, stride, self.min_overlap) for g in gt]
            y = torch.stack([x.heatmap for x in t])
            pseudo.append(self.dminer.pseudo_heatmaps(f, y).permute(0, 2, 3, 1).reshape(n, h * w, k))
            if self.dminer.use_pgcl:
                loss, _ = self.dminer.contrastive(
                    f, logits.sigmoid(), y, [x.centers[x.valid] for x in t], [x.classes[x.valid] for x in t],
                    top_m=self.dminer_top_m[level],
                )
                pgcl.append(loss)
        return torch.cat(pseudo, dim=1), (torch.stack(pgcl).mean() if pgcl else None)

    def forward_training(self, images, features, predictions, gt_instances):
        pred_logits, pred_deltas, pred_ctr = self._transpose_dense_predictions(predictions, [self.num_classes, 4, 1])
        anchors = self.anchor_generator(features)
        gt_labels, gt_boxes = self.label_anchors(anchors, gt_instances)
        losses = self.losses(anchors, pred_logits, gt_labels, pred_deltas, gt_boxes, pred_ctr)
        pseudo, pgcl = self.dminer_terms(features, predictions[0], gt_instances)
        if self.dminer.use_splg:  # FCOS's classification loss again, with soft negatives
            logits = torch.cat(pred_logits, dim=1)
            target = F.one_hot(torch.stack(gt_labels), self.num_classes + 1)[..., :-1].to(logits.dtype)
            loss = sigmoid_focal_loss(logits, target, self.focal_loss_alpha, self.focal_loss_gamma, "none")
            weight = torch.where(target > 0, torch.ones_like(pseudo), (1 - pseudo).pow(self.pseudo_beta))
            losses["loss_fcos_cls"] = (loss * weight).sum() / self.loss_normalizer
        if pgcl is not None:
            losses["loss_pgcl"] = self.dminer.pgcl_weight * pgcl
        return losses
