"""MobileNetV2 (Sandler et al., CVPR 2018) as a Detectron2 backbone, with FPN builders.

The only ImageNet backbone obtainable offline here is torchvision's MobileNetV2 checkpoint
(``mobilenet_v2-b0353104.pth``, IMAGENET1K_V1; see ``pointdet.data.demo``), so the demo
detectors use this backbone. :class:`MobileNetV2Backbone` wraps torchvision's
``mobilenet_v2().features`` and names its stages like Detectron2's ResNet:

=======  ==========================  ========  ======
name     torchvision ``features``    channels  stride
=======  ==========================  ========  ======
stem     [0:2]  conv s2 + IR(t=1)      16        2
res2     [2:4]                         24        4
res3     [4:7]                         32        8
res4     [7:14]                        96       16
res5     [14:18]                      320       32
=======  ==========================  ========  ======

(channels for ``width_mult=1``; the final 1x1 conv to 1280 channels, ``features[18]``, and
the classifier are not used.)

Input: the torchvision weights expect **RGB** images normalised with
:data:`~pointdet.modeling.backbone.imagenet.IMAGENET_RGB_PIXEL_MEAN` / ``_STD`` (0-255 scale);
configs must set ``MODEL.PIXEL_MEAN`` / ``MODEL.PIXEL_STD`` to these and ``INPUT.FORMAT = "RGB"``.

The ImageNet weights are loaded when the backbone is built (``weights`` /
``MODEL.MOBILENETV2.WEIGHTS``, e.g. ``pointdet://ImageNetPretrained/mobilenet_v2.pth``), so
detector training starts with ``MODEL.WEIGHTS = ""``.

For a C4 detector (Faster R-CNN C4, :class:`~pointdet.modeling.roi_heads.MobileNetV2Res5ROIHeads`)
the backbone stops at res4 (stride 16) and :func:`mobilenetv2_stage` builds res5 as the per-RoI
box head, from the same checkpoint.
"""
import math
import os
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import torch
from torch import nn

from detectron2.config import CfgNode as CN
from detectron2.config import configurable
from detectron2.layers import FrozenBatchNorm2d, ShapeSpec, get_norm
from detectron2.modeling.backbone import BACKBONE_REGISTRY, FPN, Backbone
from detectron2.modeling.backbone.fpn import LastLevelMaxPool, LastLevelP6P7
from detectron2.utils.file_io import PathManager

__all__ = [
    "MobileNetV2Backbone",
    "add_mobilenetv2_config",
    "build_mobilenetv2_backbone",
    "build_mobilenetv2_fpn_backbone",
    "build_retinanet_mobilenetv2_fpn_backbone",
    "mobilenetv2_stage",
]

# stage name -> slice of torchvision's ``features``
_STAGES = {"stem": (0, 2), "res2": (2, 4), "res3": (4, 7), "res4": (7, 14), "res5": (14, 18)}
_STRIDES = {"stem": 2, "res2": 4, "res3": 8, "res4": 16, "res5": 32}
_STAGE_ORDER = ["stem", "res2", "res3", "res4", "res5"]
_NORMS = ("FrozenBN", "BN", "SyncBN", "NaiveSyncBN", "GN")


def add_mobilenetv2_config(cfg):
    """Add ``cfg.MODEL.MOBILENETV2.*`` (in place; returns cfg).

    WEIGHTS: path of torchvision's ImageNet state dict ("" = random init), e.g.
        ``pointdet://ImageNetPretrained/mobilenet_v2.pth`` (resolved when the model is built).
    OUT_FEATURES: among res2..res5.
    NORM: "FrozenBN" | "BN" | "SyncBN" | "NaiveSyncBN" | "GN".
    FREEZE_AT: 0 trains everything; N freezes the stem and the first N-1 stages.
    WIDTH_MULT: torchvision's width multiplier (the checkpoint is for 1.0).
    """
    cfg.MODEL.MOBILENETV2 = CN()
    cfg.MODEL.MOBILENETV2.WEIGHTS = ""
    cfg.MODEL.MOBILENETV2.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.MOBILENETV2.NORM = "FrozenBN"
    cfg.MODEL.MOBILENETV2.FREEZE_AT = 2
    cfg.MODEL.MOBILENETV2.WIDTH_MULT = 1.0
    return cfg


def _group_norm(channels: int) -> nn.GroupNorm:
    # Detectron2's "GN" is GroupNorm(32, C); MobileNetV2 has 16- and 24-channel layers, so
    # use the largest group count <= 32 dividing C (all widths are multiples of 8).
    return nn.GroupNorm(math.gcd(32, channels), channels)


def _replace_bn(module: nn.Module, norm: str) -> nn.Module:
    """Replace every ``nn.BatchNorm2d`` of ``module`` by ``norm``, keeping the loaded affine
    parameters (and running statistics where the new layer has them)."""
    if norm == "BN":
        return module
    if norm == "FrozenBN":
        return FrozenBatchNorm2d.convert_frozen_batchnorm(module)
    if isinstance(module, nn.BatchNorm2d):
        c = module.num_features
        new = _group_norm(c) if norm == "GN" else get_norm(norm, c)
        with torch.no_grad():
            new.weight.copy_(module.weight)
            new.bias.copy_(module.bias)
            if getattr(new, "running_mean", None) is not None:
                new.running_mean.copy_(module.running_mean)
                new.running_var.copy_(module.running_var)
        return new
    for name, child in module.named_children():
        new_child = _replace_bn(child, norm)
        if new_child is not child:
            setattr(module, name, new_child)
    return module


def _load_imagenet_state_dict(path: str) -> Dict[str, torch.Tensor]:
    # PathManager resolves pointdet:// (raising FileNotFoundError that names the command
    # fetching the file), detectron2:// and URLs; a plain path is returned as it is.
    local = PathManager.get_local_path(path)
    if not os.path.isfile(local):
        raise FileNotFoundError(
            f"MobileNetV2 weights file not found: {local}. Run `python tools/prepare_demo_data.py` to fetch "
            f"torchvision's ImageNet checkpoint, or set weights=None / MODEL.MOBILENETV2.WEIGHTS='' for random init."
        )
    state = torch.load(local, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a torchvision MobileNetV2 state dict (expected a dict of tensors)")
    return state


def _check_norm(norm: str):
    if norm not in _NORMS:
        raise ValueError(f"MobileNetV2: unknown norm {norm!r}; choose among {_NORMS}")


def _torchvision_stages(
    names: Sequence[str], weights: Optional[str], norm: str, width_mult: float
) -> "OrderedDict[str, nn.Sequential]":
    """torchvision's ``mobilenet_v2(width_mult).features`` split into the stages ``names``
    (see the module table), ImageNet ``weights`` loaded (strict) when given, every BatchNorm
    replaced by ``norm``."""
    import torchvision

    net = torchvision.models.mobilenet_v2(weights=None, width_mult=width_mult)
    if weights:
        state = _load_imagenet_state_dict(weights)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise RuntimeError(
                f"{weights}: does not match torchvision mobilenet_v2(width_mult={width_mult}): {e}"
            ) from None
    layers = list(net.features.children())
    stages = OrderedDict()
    for name in names:
        a, b = _STAGES[name]
        stages[name] = _replace_bn(nn.Sequential(*layers[a:b]), norm)
    return stages


def mobilenetv2_stage(
    name: str = "res5", *, weights: Optional[str] = None, norm: str = "FrozenBN", width_mult: float = 1.0
) -> nn.Sequential:
    """One stage of torchvision's MobileNetV2 as a module, e.g. res5 (``features[14:18]``:
    C_res4 -> 320 channels for ``width_mult=1``, stride 2) as the per-RoI head of a C4
    detector, in place of Detectron2's ResNet res5 block.

    Args:
        name: among "stem", "res2".."res5".
        weights, norm, width_mult: as :class:`MobileNetV2Backbone` (the stage's layers take
            the checkpoint's values for ``features[a:b]``).

    Returns:
        ``nn.Sequential`` of torchvision ``InvertedResidual`` blocks; the last block's
        ``out_channels`` is the output width. Input (R, C_in, H, W) -> (R, C_out, ceil(H/2),
        ceil(W/2)) for the stride-2 stages.
    """
    if name not in _STAGES:
        raise ValueError(f"mobilenetv2_stage: unknown stage {name!r}; choose among {_STAGE_ORDER}")
    _check_norm(norm)
    return _torchvision_stages([name], weights or None, norm, width_mult)[name]


class MobileNetV2Backbone(Backbone):
    """torchvision's MobileNetV2 feature extractor as a Detectron2 :class:`Backbone`.

    Output: dict ``{name: (N, C_name, H / stride_name, W / stride_name)}`` for
    ``name in out_features`` (res2..res5: C = 24/32/96/320 at strides 4/8/16/32 for
    ``width_mult=1``). Input: (N, 3, H, W) normalised RGB (see the module docstring).
    """

    @configurable
    def __init__(
        self,
        *,
        out_features: Sequence[str] = ("res2", "res3", "res4", "res5"),
        weights: Optional[str] = None,
        norm: str = "FrozenBN",
        freeze_at: int = 0,
        width_mult: float = 1.0,
    ):
        """
        Args:
            out_features: names of the returned stages, among "stem", "res2".."res5".
            weights: path of torchvision's ImageNet state dict for ``mobilenet_v2``
                (loaded with a strict key check), or None / "" for random initialisation.
            norm: "FrozenBN" (ImageNet statistics and affine kept fixed), "BN", "SyncBN",
                "NaiveSyncBN" (Detectron2's ``get_norm``) or "GN" (GroupNorm with
                gcd(32, C) groups; only the affine parameters are taken from the checkpoint).
            freeze_at: 0 trains all; N >= 1 freezes the stem and the first N-1 stages
                (``requires_grad=False`` and their norms frozen), as Detectron2's ResNet.
            width_mult: torchvision's width multiplier (the ImageNet checkpoint is for 1.0).
        """
        super().__init__()
        out_features = list(out_features)
        if not out_features:
            raise ValueError("MobileNetV2Backbone: out_features is empty")
        for f in out_features:
            if f not in _STAGES:
                raise ValueError(f"MobileNetV2Backbone: unknown out_feature {f!r}; choose among {_STAGE_ORDER}")
        _check_norm(norm)
        if not 0 <= freeze_at <= len(_STAGE_ORDER):
            raise ValueError(f"MobileNetV2Backbone: freeze_at must be in [0, {len(_STAGE_ORDER)}], got {freeze_at}")

        last = max(_STAGE_ORDER.index(f) for f in out_features)
        self.stage_names = _STAGE_ORDER[: last + 1]
        self._out_features = [f for f in _STAGE_ORDER if f in out_features]  # network order
        self.weights = weights or None
        self._out_feature_strides = {}
        self._out_feature_channels = {}
        for name, stage in _torchvision_stages(self.stage_names, self.weights, norm, width_mult).items():
            self.add_module(name, stage)
            if name in self._out_features:
                self._out_feature_strides[name] = _STRIDES[name]
                self._out_feature_channels[name] = stage[-1].out_channels
        self.freeze(freeze_at)

    @classmethod
    def from_config(cls, cfg, input_shape: Optional[ShapeSpec] = None):
        if input_shape is not None and input_shape.channels != 3:
            raise ValueError(f"MobileNetV2Backbone needs 3 input channels, got {input_shape.channels}")
        m = cfg.MODEL.MOBILENETV2
        return {
            "out_features": list(m.OUT_FEATURES),
            "weights": m.WEIGHTS or None,
            "norm": m.NORM,
            "freeze_at": m.FREEZE_AT,
            "width_mult": m.WIDTH_MULT,
        }

    def freeze(self, freeze_at: int = 0):
        """Freeze the stem (freeze_at >= 1) and stages res2.. up to the (freeze_at-1)-th."""
        for name in _STAGE_ORDER[:freeze_at]:
            if not hasattr(self, name):
                continue
            stage = getattr(self, name)
            for p in stage.parameters():
                p.requires_grad = False
            FrozenBatchNorm2d.convert_frozen_batchnorm(stage)
        return self

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """x: (N, 3, H, W) -> {name: (N, C, H/stride, W/stride)} (ceil division)."""
        if x.dim() != 4:
            raise ValueError(f"MobileNetV2Backbone takes (N, C, H, W) input, got shape {tuple(x.shape)}")
        outputs = {}
        for name in self.stage_names:
            x = getattr(self, name)(x)
            if name in self._out_features:
                outputs[name] = x
        return outputs


@BACKBONE_REGISTRY.register()
def build_mobilenetv2_backbone(cfg, input_shape: ShapeSpec) -> Backbone:
    """MobileNetV2 from ``cfg.MODEL.MOBILENETV2.*`` (see :func:`add_mobilenetv2_config`)."""
    return MobileNetV2Backbone(cfg, input_shape)


@BACKBONE_REGISTRY.register()
def build_mobilenetv2_fpn_backbone(cfg, input_shape: ShapeSpec) -> Backbone:
    """MobileNetV2 + FPN with P6 by max-pooling the top level (Faster/Mask R-CNN style).

    Reads ``cfg.MODEL.MOBILENETV2.*`` and ``cfg.MODEL.FPN.{IN_FEATURES, OUT_CHANNELS, NORM,
    FUSE_TYPE}``.
    """
    bottom_up = build_mobilenetv2_backbone(cfg, input_shape)
    return FPN(
        bottom_up=bottom_up,
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )


@BACKBONE_REGISTRY.register()
def build_retinanet_mobilenetv2_fpn_backbone(cfg, input_shape: ShapeSpec) -> Backbone:
    """MobileNetV2 + FPN with P6/P7 computed from P5 (RetinaNet/FCOS style).

    Use ``MODEL.FPN.IN_FEATURES = ["res3", "res4", "res5"]`` for the usual P3-P7; inputs are
    then padded to a multiple of 128 (choose tile sizes like 384 or 512).
    """
    bottom_up = build_mobilenetv2_backbone(cfg, input_shape)
    out_channels = cfg.MODEL.FPN.OUT_CHANNELS
    return FPN(
        bottom_up=bottom_up,
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=out_channels,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelP6P7(out_channels, out_channels, in_feature="p5"),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
