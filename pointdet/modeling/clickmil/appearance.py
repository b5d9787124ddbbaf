"""The appearance model A(p) of click-supervised MIL (click supervision, Sec. 2 "reference MIL").

The paper describes each proposal by a 4096-d AlexNet feature (ImageNet-pretrained, frozen)
and re-trains a linear SVM per class on it. Our analogue: a frozen ImageNet backbone
(MobileNetV2 by default), RoIAlign of each proposal on a few of its stages, spatially averaged
and concatenated into a D-dim feature, and a linear classifier per class (L2-regularised
logistic regression instead of the SVM, so that A(p) = sigmoid(w . f + b) lies in [0, 1] like
the objectness it is averaged with).

:class:`ClickMILAppearanceModel` is registered in Detectron2's ``META_ARCH_REGISTRY``; in eval
mode ``model(batched_inputs)`` scores the ``proposals`` of each input (``[{"scores": (M, K)}]``).
The MIL loop (:mod:`pointdet.engine.clickmil`) extracts the features once
(:meth:`ClickMILAppearanceModel.extract_features`) and re-fits the linear head on them
(:func:`fit_linear_classifier`) at every iteration.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
from torchvision.ops import roi_align

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, Backbone, build_backbone
from detectron2.structures import Boxes

from ..preprocess import ImageInputMixin

__all__ = ["ClickMILAppearanceModel", "fit_linear_classifier", "add_clickmil_config"]


def add_clickmil_config(cfg):
    """Add ``cfg.MODEL.CLICKMIL.*`` (in place; returns cfg): IN_FEATURES (backbone stages pooled),
    POOLER_RESOLUTION (RoIAlign grid, averaged), NUM_CLASSES."""
    from detectron2.config import CfgNode as CN

    cfg.MODEL.CLICKMIL = CN()
    cfg.MODEL.CLICKMIL.IN_FEATURES = ["res4", "res5"]
    cfg.MODEL.CLICKMIL.POOLER_RESOLUTION = 3
    cfg.MODEL.CLICKMIL.NUM_CLASSES = 1
    return cfg


@META_ARCH_REGISTRY.register()
class ClickMILAppearanceModel(ImageInputMixin, nn.Module):
    """Frozen backbone + RoIAlign features + a linear (one-vs-rest, sigmoid) classifier."""

    @configurable
    def __init__(
        self,
        *,
        backbone: Backbone,
        in_features: Sequence[str],
        num_classes: int,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        pooler_resolution: int = 3,
        input_format: str = "RGB",
    ):
        """
        Args:
            backbone: an ImageNet-pretrained backbone; frozen (eval mode, no gradients).
            in_features: its stages to pool (e.g. ``["res4", "res5"]``).
            num_classes: K; the linear head is (D -> K).
            pixel_mean, pixel_std: input normalisation of the backbone's weights.
            pooler_resolution: RoIAlign output side; the grid is averaged to one vector.
            input_format: channel order of ``image`` tensors.
        """
        super().__init__()
        self.backbone = backbone
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        shapes = backbone.output_shape()
        for f in in_features:
            if f not in shapes:
                raise KeyError(f"ClickMILAppearanceModel: backbone has no feature {f!r} (has {sorted(shapes)})")
        self.in_features = list(in_features)
        self.strides = [shapes[f].stride for f in self.in_features]
        self.feature_dim = sum(shapes[f].channels for f in self.in_features)
        self.num_classes = num_classes
        self.pooler_resolution = pooler_resolution
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        nn.init.zeros_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)
        self.init_image_input(pixel_mean, pixel_std, input_format)

    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        return {
            "backbone": backbone,
            "in_features": cfg.MODEL.CLICKMIL.IN_FEATURES,
            "num_classes": cfg.MODEL.CLICKMIL.NUM_CLASSES,
            "pooler_resolution": cfg.MODEL.CLICKMIL.POOLER_RESOLUTION,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "input_format": cfg.INPUT.FORMAT,
        }

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()  # frozen: BN statistics never change
        return self

    @torch.no_grad()
    def extract_features(self, image: torch.Tensor, boxes) -> torch.Tensor:
        """RoI features of one image.

        Args:
            image: (3, H, W) in ``input_format``, 0-255.
            boxes: (M, 4) XYXY image pixels (tensor, array or :class:`Boxes`).
        Returns:
            (M, D) float32 features (on the model's device).
        """
        if isinstance(boxes, Boxes):
            boxes = boxes.tensor
        boxes = torch.as_tensor(np.asarray(boxes) if not isinstance(boxes, torch.Tensor) else boxes,
                                dtype=torch.float32, device=self.device).reshape(-1, 4)
        if boxes.shape[0] == 0:
            return torch.zeros(0, self.feature_dim, device=self.device)
        feats = self.backbone(self.normalize_image(image.float())[None])
        rois = torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], 1)
        out = [
            roi_align(feats[f], rois, self.pooler_resolution, spatial_scale=1.0 / s, sampling_ratio=2, aligned=True).mean((2, 3))
            for f, s in zip(self.in_features, self.strides)
        ]
        return torch.cat(out, 1)

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        """A(p) = sigmoid(classifier(f)): (M, D) -> (M, K)."""
        return torch.sigmoid(self.classifier(features.to(self.device)))

    def forward(self, batched_inputs: List[Dict]):
        """Eval only: each input has ``image`` (3, H, W) and ``proposals`` (Instances with
        ``proposal_boxes`` in the image's pixels); returns ``[{"scores": (M, K)}]``. The linear
        head is fitted outside the autograd loop (:func:`fit_linear_classifier`)."""
        if self.training:
            raise RuntimeError("ClickMILAppearanceModel is fitted by the MIL loop (pointdet.engine.clickmil), "
                               "not by a training loop")
        out = []
        for inp in batched_inputs:
            f = self.extract_features(inp["image"], inp["proposals"].proposal_boxes)
            out.append({"scores": self.score_features(f)})
        return out


def fit_linear_classifier(
    positives: torch.Tensor,
    negatives: torch.Tensor,
    *,
    l2: float = 1e-3,
    max_iter: int = 100,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """L2-regularised logistic regression, positives and negatives weighted equally (the
    analogue of the paper's linear SVM on frozen CNN features).

    Loss = mean BCE over positives / 2 + mean BCE over negatives / 2 + l2 * ||w||^2 on
    standardised features (mean/std of all samples), minimised with L-BFGS; the
    standardisation is folded into the returned weights.

    Args:
        positives: (P, D), negatives: (N, D) features; P, N >= 1.
    Returns:
        ``(w (D,), b ())`` with A(f) = sigmoid(f . w + b) on raw features.
    """
    if positives.shape[0] == 0 or negatives.shape[0] == 0:
        raise ValueError(f"fit_linear_classifier needs positives and negatives, got {positives.shape[0]} and "
                         f"{negatives.shape[0]}")
    x = torch.cat([positives, negatives]).double()
    y = torch.cat([torch.ones(positives.shape[0]), torch.zeros(negatives.shape[0])]).double()
    wt = torch.where(y > 0, 0.5 / positives.shape[0], 0.5 / negatives.shape[0]).double()
    mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-6)
    z = (x - mean) / std
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (nn.functional.binary_cross_entropy_with_logits(z @ w + b, y, reduction="none") * wt).sum()
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    w_raw = (w / std).detach()
    b_raw = (b - (w * mean / std).sum()).detach()
    return w_raw.float(), b_raw.float()
