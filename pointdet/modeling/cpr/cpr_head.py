"""CPRHead: the conv tower and the two point classifiers of CPRNet (CPR, Sec. 3.2, Fig. 4)."""
import math

import torch
from torch import nn

from detectron2.config import configurable
from detectron2.layers import ShapeSpec

__all__ = ["CPRHead"]


class CPRHead(nn.Module):
    """A conv tower on one FPN level plus point-wise classifiers f_cls and f_ins.

    ``num_convs`` x (3x3 conv, GroupNorm(num_groups), ReLU), shared by both branches; then two
    linear layers applied to point features sampled from the tower output:
    ``cls_out`` (C -> K, logits O^cls, Eq. 5/8/10) and ``ins_out`` (C -> K, logits O^ins, Eq. 5).
    Init: Normal(0, 0.01) weights, zero biases, ``cls_out`` bias set from ``prior_prob``.
    No loss logic lives here.
    """

    @configurable
    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        conv_dims: int = 256,
        num_convs: int = 4,
        norm: str = "GN",
        num_groups: int = 32,
        prior_prob: float = 0.01,
    ):
        """
        Args:
            in_channels: channels of the input feature map.
            num_classes: K (no background logit).
            conv_dims: channels of the tower.
            num_convs: number of 3x3 convs in the tower.
            norm: "GN" or "" (no norm; convs then have a bias).
            num_groups: GroupNorm groups.
            prior_prob: initial foreground probability of ``cls_out``.
        """
        super().__init__()
        if norm not in ("GN", ""):
            raise ValueError(f"CPRHead: norm must be 'GN' or '', got {norm!r}")
        layers = []
        c = in_channels
        for _ in range(num_convs):
            layers.append(nn.Conv2d(c, conv_dims, 3, padding=1, bias=not norm))
            if norm == "GN":
                layers.append(nn.GroupNorm(num_groups, conv_dims))
            layers.append(nn.ReLU(inplace=True))
            c = conv_dims
        self.tower = nn.Sequential(*layers)
        self.out_channels = c
        self.cls_out = nn.Linear(c, num_classes)
        self.ins_out = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, mean=0, std=0.01)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
        nn.init.constant_(self.cls_out.bias, -math.log((1 - prior_prob) / prior_prob))

    @classmethod
    def from_config(cls, cfg, input_shape: ShapeSpec):
        h = cfg.MODEL.CPR.HEAD
        return {
            "in_channels": input_shape.channels,
            "num_classes": cfg.MODEL.CPR.NUM_CLASSES,
            "conv_dims": h.CONV_DIMS,
            "num_convs": h.NUM_CONVS,
            "norm": h.NORM,
            "num_groups": h.NUM_GROUPS,
            "prior_prob": h.PRIOR_PROB,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) feature map -> (B, conv_dims, H, W) tower features F."""
        return self.tower(x)

    def cls_logits(self, feats: torch.Tensor) -> torch.Tensor:
        """(..., C) point features -> (..., K) classification logits O^cls."""
        return self.cls_out(feats)

    def ins_logits(self, feats: torch.Tensor) -> torch.Tensor:
        """(..., C) point features -> (..., K) instance-selection logits O^ins."""
        return self.ins_out(feats)
