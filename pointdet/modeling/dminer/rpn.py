"""Faster R-CNN with DMiner (SIOD, Li et al. CVPR 2022, Sec. 3.4, Fig. 3): a class-wise branch
beside the RPN carries SPLG + PGCL; its pseudo labels, pooled per anchor size, relax the RPN's
objectness loss. Training only: the branch's weights are extra keys that stock
``GeneralizedRCNN`` + ``RPN`` ignore when loading the checkpoint.

Not in the paper, so pointdet's choices (``projects/SIOD/README.md``):

* branch: 3x3 conv (C_in -> D) + ReLU gives F_p (the DMiner feature), a 1x1 conv gives the
  C-class heat-map logits (bias -2.19), as CenterNet's heads;
* targets: CenterNet Gaussians of the boxes on the RPN's map (CornerNet radius, IoU 0.7);
* anchors: the pseudo heat-map average-pooled with kernels 1/3/5/7/9 for anchor sizes 32..512,
  max over classes, read at each anchor's cell (:mod:`.anchor_pooling`);
* the rule: an anchor the RPN samples as background but whose pooled pseudo value is
  >= ``pseudo_ignore_threshold`` (T_sim by default) is ignored in the objectness loss
  (applied after Detectron2's sampling, so such an image trains on fewer negatives).
"""
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling import PROPOSAL_GENERATOR_REGISTRY
from detectron2.modeling.proposal_generator.rpn import RPN
from detectron2.structures import Boxes, ImageList, Instances

from pointdet.layers.heatmap import box_heatmap_targets

from .anchor_pooling import anchor_pseudo_objectness, pool_pseudo_labels
from .config import dminer_from_config
from .dminer import DMiner

__all__ = ["DMinerBranch", "DMinerRPN"]


class DMinerBranch(nn.Module):
    """Class-wise branch: (N, C_in, H, W) -> F_p (N, D, H, W) and heat-map logits (N, K, H, W)."""

    def __init__(self, in_channels: int, num_classes: int, conv_dims: int = 256, heatmap_bias: float = -2.19):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, conv_dims, 3, padding=1)
        self.heatmap = nn.Conv2d(conv_dims, num_classes, 1)
        nn.init.normal_(self.conv.weight, std=0.01)
        nn.init.zeros_(self.conv.bias)
        nn.init.normal_(self.heatmap.weight, std=0.01)
        nn.init.constant_(self.heatmap.bias, heatmap_bias)

    def forward(self, x: Tensor):
        f = torch.relu(self.conv(x))
        return f, self.heatmap(f)


@PROPOSAL_GENERATOR_REGISTRY.register()
class DMinerRPN(RPN):
    """Detectron2's RPN (single feature map, C4) plus :class:`DMinerBranch`; see the module docstring.
    Extra losses: ``loss_dminer_hm`` and (with PGCL) ``loss_dminer_pgcl``."""

    @configurable
    def __init__(
        self,
        *,
        branch: DMinerBranch,
        dminer: DMiner,
        num_classes: int,
        pool_kernel_sizes: Sequence[int] = (1, 3, 5, 7, 9),
        pseudo_ignore_threshold: Optional[float] = None,
        min_overlap: float = 0.7,
        branch_loss_weight: float = 1.0,
        **kwargs,
    ):
        """
        Args:
            branch, dminer: the class-wise branch and DMiner's hyper-parameters.
            num_classes: K of the branch.
            pool_kernel_sizes: one odd kernel per anchor size (the anchor generator's order).
            pseudo_ignore_threshold: None = ``dminer.sim_threshold``.
            branch_loss_weight: weight of the branch's heat-map focal loss.
            kwargs: Detectron2's :class:`RPN` arguments.
        """
        super().__init__(**kwargs)
        if len(self.in_features) != 1:
            raise ValueError(f"DMinerRPN works on one feature map (C4), got in_features={self.in_features}")
        cell = next(iter(self.anchor_generator.cell_anchors.buffers()))
        num_sizes = len(torch.unique(((cell[:, 2] - cell[:, 0]) * (cell[:, 3] - cell[:, 1])).sqrt().round()))
        if num_sizes != len(pool_kernel_sizes):
            raise ValueError(
                f"DMinerRPN: {len(pool_kernel_sizes)} pooling kernels {tuple(pool_kernel_sizes)} for an anchor "
                f"generator with {num_sizes} sizes; give one kernel per anchor size"
            )
        self.branch = branch
        self.dminer = dminer
        self.num_classes = num_classes
        self.pool_kernel_sizes = tuple(int(k) for k in pool_kernel_sizes)
        if pseudo_ignore_threshold is None:
            pseudo_ignore_threshold = dminer.sim_threshold
        self.pseudo_ignore_threshold = pseudo_ignore_threshold
        self.min_overlap = min_overlap
        self.branch_loss_weight = branch_loss_weight
        self._anchor_pseudo: Optional[Tensor] = None

    @classmethod
    def from_config(cls, cfg, input_shape: Dict[str, ShapeSpec]):
        ret = super().from_config(cfg, input_shape)
        d = cfg.MODEL.DMINER
        channels = input_shape[cfg.MODEL.RPN.IN_FEATURES[0]].channels
        num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
        dminer = dminer_from_config(cfg)
        if dminer is None:
            raise ValueError("DMinerRPN needs MODEL.DMINER.ENABLED = True (use the stock RPN otherwise)")
        ret.update(
            branch=DMinerBranch(channels, num_classes, d.RPN_BRANCH_DIMS),
            dminer=dminer,
            num_classes=num_classes,
            pool_kernel_sizes=tuple(d.RPN_POOL_KERNEL_SIZES),
            pseudo_ignore_threshold=d.RPN_PSEUDO_IGNORE_THRESHOLD,
            branch_loss_weight=d.RPN_BRANCH_LOSS_WEIGHT,
        )
        return ret

    def forward(self, images: ImageList, features: Dict[str, Tensor], gt_instances: Optional[List[Instances]] = None):
        if not self.training:
            return super().forward(images, features, gt_instances)
        feature = features[self.in_features[0]]
        f, logits = self.branch(feature)
        n, _, h, w = logits.shape
        stride = self.anchor_generator.strides[0]
        targets = [
            box_heatmap_targets(g.gt_boxes.tensor, g.gt_classes, self.num_classes, h, w, stride, self.min_overlap)
            for g in gt_instances
        ]
        y = torch.stack([t.heatmap for t in targets])
        pseudo = self.dminer.pseudo_heatmaps(f, y)
        pooled = pool_pseudo_labels(pseudo, self.pool_kernel_sizes)
        ratios = self.anchor_generator.num_anchors[0] // len(self.pool_kernel_sizes)
        self._anchor_pseudo = anchor_pseudo_objectness(pooled, ratios)
        try:
            proposals, losses = super().forward(images, features, gt_instances)
        finally:
            self._anchor_pseudo = None
        branch = self.dminer.losses(
            f, logits, y, [t.centers[t.valid] for t in targets], [t.classes[t.valid] for t in targets],
            prefix="dminer_", pseudo=pseudo,
        )
        losses["loss_dminer_hm"] = self.branch_loss_weight * branch.pop("dminer_loss_hm")
        if "dminer_loss_pgcl" in branch:
            losses["loss_dminer_pgcl"] = branch.pop("dminer_loss_pgcl")
        return proposals, losses

    @torch.no_grad()
    def label_and_sample_anchors(self, anchors: List[Boxes], gt_instances: List[Instances]):
        """Detectron2's labels, then sampled background anchors whose pooled pseudo label is
        >= the threshold become ignored (-1)."""
        gt_labels, gt_boxes = super().label_and_sample_anchors(anchors, gt_instances)
        if self._anchor_pseudo is not None:
            for labels, pseudo in zip(gt_labels, self._anchor_pseudo):
                labels[(labels == 0) & (pseudo >= self.pseudo_ignore_threshold)] = -1
        return gt_labels, gt_boxes
