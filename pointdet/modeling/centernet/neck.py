"""CenterNet's upsampling neck and heads (Zhou et al. 2019, "Objects as Points"; the ResNet
variant SIOD's CenterNet uses, Li et al. CVPR 2022, Sec. 3.1).

* :class:`CenterNetNeck` -- three stages of 3x3 conv -> BN -> ReLU -> 4x4 transposed conv
  (stride 2, bilinear initialisation) -> BN -> ReLU, from the backbone's stride-32 map to
  stride 8 / 4 (256, 128, 64 channels by default). The 3x3 conv is a modulated deformable
  conv (DCNv2, ``conv="dcn"``, torchvision's ``deform_conv2d``: Detectron2's compiled
  deformable ops are not used) or a plain conv (``conv="plain"``, cheaper, for CPU demos).
* :class:`CenterNetHead` -- per output (heat-map, size, offset) a 3x3 conv -> ReLU -> 1x1 conv;
  the heat-map bias starts at -2.19 (prior 0.1) and the size/offset convs at N(0, 0.001),
  bias 0, as the reference.
"""
import math
from typing import Sequence, Tuple

import torch
from torch import Tensor, nn
from torchvision.ops import deform_conv2d

from detectron2.layers import get_norm

__all__ = ["ModulatedDeformConv", "CenterNetNeck", "CenterNetHead", "NECK_CONVS"]

NECK_CONVS = ("dcn", "plain")


class ModulatedDeformConv(nn.Module):
    """3x3 modulated deformable conv (DCNv2): offsets and masks from a zero-initialised conv
    (so it starts as a plain conv), applied with ``torchvision.ops.deform_conv2d``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1, bias: bool = True):
        super().__init__()
        self.padding = padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.offset_mask = nn.Conv2d(in_channels, 3 * kernel_size * kernel_size, kernel_size, padding=padding)
        nn.init.zeros_(self.offset_mask.weight)
        nn.init.zeros_(self.offset_mask.bias)

    def forward(self, x: Tensor) -> Tensor:
        o1, o2, mask = self.offset_mask(x).chunk(3, dim=1)
        offset = torch.cat([o1, o2], dim=1)
        return deform_conv2d(
            x, offset, self.weight, self.bias, padding=(self.padding, self.padding), mask=mask.sigmoid()
        )


def _bilinear_upsampling_(deconv: nn.ConvTranspose2d) -> None:
    """Initialise a (C, 1 or C, k, k) transposed conv as bilinear up-sampling, channel by channel."""
    w = deconv.weight.data
    k = w.shape[-1]
    f = math.ceil(k / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    r = torch.arange(k, dtype=torch.float32)
    one_d = 1 - (r / f - c).abs()
    kernel = one_d[:, None] * one_d[None, :]
    w.zero_()
    for i in range(min(w.shape[0], w.shape[1])):
        w[i, i] = kernel


class CenterNetNeck(nn.Module):
    """Stride-32 feature -> stride-4 feature of ``channels[-1]`` channels (see module docstring)."""

    def __init__(self, in_channels: int, channels: Sequence[int] = (256, 128, 64), conv: str = "dcn", norm: str = "BN"):
        super().__init__()
        if conv not in NECK_CONVS:
            raise ValueError(f"CenterNet neck conv must be one of {NECK_CONVS}, got {conv!r}")
        layers = []
        c_in = in_channels
        for c in channels:
            if conv == "dcn":
                layers.append(ModulatedDeformConv(c_in, c, bias=False))
            else:
                layers.append(nn.Conv2d(c_in, c, 3, padding=1, bias=False))
            layers += [get_norm(norm, c), nn.ReLU(inplace=True)]
            up = nn.ConvTranspose2d(c, c, 4, stride=2, padding=1, output_padding=0, bias=False)
            _bilinear_upsampling_(up)
            layers += [up, get_norm(norm, c), nn.ReLU(inplace=True)]
            c_in = c
        self.layers = nn.Sequential(*layers)
        self.out_channels = c_in
        self.upsampling = 2 ** len(channels)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, channels[-1], H * 2^k, W * 2^k)."""
        return self.layers(x)


class CenterNetHead(nn.Module):
    """Heat-map (K), size (2) and offset (2) outputs on the neck's feature; no loss logic."""

    def __init__(self, in_channels: int = 64, num_classes: int = 80, head_conv: int = 64, heatmap_bias: float = -2.19):
        super().__init__()

        def branch(out):
            return nn.Sequential(
                nn.Conv2d(in_channels, head_conv, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(head_conv, out, 1)
            )

        self.heatmap = branch(num_classes)
        self.size = branch(2)
        self.offset = branch(2)
        nn.init.constant_(self.heatmap[-1].bias, heatmap_bias)
        for b in (self.size, self.offset):
            for m in b.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.normal_(m.weight, std=0.001)
                    nn.init.zeros_(m.bias)

    def forward(self, feature: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """(N, D, H, W) -> heat-map logits (N, K, H, W), sizes (N, 2, H, W) and offsets (N, 2, H, W)
        in map cells."""
        return self.heatmap(feature), self.size(feature), self.offset(feature)
