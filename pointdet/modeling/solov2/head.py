"""SOLOv2 heads (Wang et al., NeurIPS 2020, Sec. 3): the category / kernel branches over the FPN
levels (:class:`SOLOv2InsHead`) and the unified mask-feature branch (:class:`SOLOv2MaskFeatHead`)."""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["coord_features", "SOLOv2InsHead", "SOLOv2MaskFeatHead"]


def coord_features(x: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) CoordConv channels: x then y, each linearly from -1 to 1 over the map."""
    b, _, h, w = x.shape
    xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
    ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy])[None].expand(b, 2, h, w)


def _conv_norm_relu(cin: int, cout: int, norm: str, num_groups: int, k: int = 3) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, padding=k // 2, bias=not norm)]
    if norm == "GN":
        layers.append(nn.GroupNorm(num_groups, cout))
    elif norm:
        raise ValueError(f"SOLOv2: norm must be 'GN' or '', got {norm!r}")
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SOLOv2InsHead(nn.Module):
    """Category and kernel branches, shared over levels (SOLOv2 Sec. 3.2).

    Level l's features are resized to an S_l x S_l grid; the kernel branch also sees two
    CoordConv channels. Outputs per level: category logits (B, K, S_l, S_l) and dynamic kernels
    (B, E, S_l, S_l) (1x1 kernels of the E-channel mask features).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        num_grids: Sequence[int],
        kernel_out_channels: int,
        feat_channels: int = 512,
        stacked_convs: int = 4,
        norm: str = "GN",
        num_groups: int = 32,
        prior_prob: float = 0.01,
        resize_first_last: bool = True,
    ):
        """
        Args:
            in_channels: FPN channels.
            num_classes: K.
            num_grids: S per level.
            kernel_out_channels: E (the mask-feature channels).
            feat_channels, stacked_convs: tower width and depth (512, 4).
            norm, num_groups: "GN" with 32 groups, or "".
            prior_prob: initial category probability (focal-loss bias trick).
            resize_first_last: resize the first level to half its size and the last to the
                size of the one before (SOLOv2's P2 -> P3 and P6 -> P5).
        """
        super().__init__()
        self.num_grids = list(num_grids)
        self.resize_first_last = resize_first_last
        kernel, cate = [], []
        for i in range(stacked_convs):
            kernel.append(_conv_norm_relu(in_channels + 2 if i == 0 else feat_channels, feat_channels, norm, num_groups))
            cate.append(_conv_norm_relu(in_channels if i == 0 else feat_channels, feat_channels, norm, num_groups))
        self.kernel_tower = nn.Sequential(*kernel)
        self.cate_tower = nn.Sequential(*cate)
        self.kernel_pred = nn.Conv2d(feat_channels, kernel_out_channels, 3, padding=1)
        self.cate_pred = nn.Conv2d(feat_channels, num_classes, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
        nn.init.constant_(self.cate_pred.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, features: List[torch.Tensor]) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """
        Args:
            features: L maps (B, C, H_l, W_l), one per level, finest first.
        Returns:
            cate_logits: L tensors (B, K, S_l, S_l); kernels: L tensors (B, E, S_l, S_l).
        """
        if len(features) != len(self.num_grids):
            raise ValueError(f"SOLOv2InsHead: {len(features)} feature levels but {len(self.num_grids)} grids")
        n = len(features)
        cates, kernels = [], []
        for i, (x, s) in enumerate(zip(features, self.num_grids)):
            if self.resize_first_last and n > 1:
                if i == 0:
                    x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
                elif i == n - 1:
                    x = F.interpolate(x, size=features[i - 1].shape[-2:], mode="bilinear", align_corners=False)
            x = torch.cat([x, coord_features(x)], dim=1)
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False)
            kernels.append(self.kernel_pred(self.kernel_tower(x)))
            cates.append(self.cate_pred(self.cate_tower(x[:, :-2])))
        return cates, kernels


class SOLOv2MaskFeatHead(nn.Module):
    """Unified mask-feature branch (SOLOv2 Sec. 3.2.2): levels upsampled to the finest one's
    stride and summed; CoordConv channels at the coarsest level; output (B, E, H_0, W_0)."""

    def __init__(
        self,
        *,
        in_channels: int,
        num_levels: int,
        feat_channels: int = 128,
        out_channels: int = 256,
        norm: str = "GN",
        num_groups: int = 32,
    ):
        super().__init__()
        self.levels = nn.ModuleList()
        for i in range(num_levels):
            cin = in_channels + (2 if i == num_levels - 1 and i > 0 else 0)
            if i == 0:
                self.levels.append(_conv_norm_relu(cin, feat_channels, norm, num_groups))
                continue
            convs = []
            for j in range(i):
                convs.append(_conv_norm_relu(cin if j == 0 else feat_channels, feat_channels, norm, num_groups))
                convs.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
            self.levels.append(nn.Sequential(*convs))
        self.out = _conv_norm_relu(feat_channels, out_channels, norm, num_groups, k=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, features: List[torch.Tensor]) -> torch.Tensor:
        n = len(features)
        out = None
        for i, (x, layer) in enumerate(zip(features, self.levels)):
            if i == n - 1 and i > 0:
                x = torch.cat([x, coord_features(x)], dim=1)
            y = layer(x)
            if out is None:
                out = y
            else:  # odd sizes: the upsampled map may differ by a pixel
                if y.shape[-2:] != out.shape[-2:]:
                    y = F.interpolate(y, size=out.shape[-2:], mode="bilinear", align_corners=False)
                out = out + y
        return self.out(out)
