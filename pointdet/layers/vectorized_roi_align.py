"""RoIAlign with a vectorised CPU backward.

The forward is torchvision's ``roi_align``. Its CPU backward recomputes every sample's bilinear
weights once per channel and scatters one scalar at a time; with thousands of RoIs per image
(SAPNet's bags, Sec. 3.2-3.4) it dominates a CPU training step. Here the RoIs are grouped by
their sampling grid; the bilinear corner weights of a RoI's bins along each axis form two small
matrices Ay (bins x window rows) and Ax (bins x window columns), the gradient of the window of
cells the RoI touches is Ay^T G Ax for all channels at once (two batched matmuls), and one
``index_add_`` adds the windows to a channels-last gradient, in chunks of bounded memory. The
sampling rules are torchvision's (aligned half-pixel shift, adaptive grid ``ceil(roi / bins)``,
samples outside ``[-1, size]`` dropped, clamping at the border), and the result is tested
against torchvision's own backward. On other devices, or when no gradient is needed,
torchvision's kernels run unchanged.
"""
from typing import Tuple, Union

import torch
from detectron2.layers import ROIAlign as _D2ROIAlign
from detectron2.modeling.poolers import ROIPooler as _D2ROIPooler
from torch import nn
from torch.autograd.function import once_differentiable
from torchvision.ops import roi_align as _tv_roi_align

__all__ = ["roi_align", "roi_align_backward_cpu", "ROIAlign", "ROIPooler"]

#: upper bound on the floats of one chunk's window gradients (RoIs x window cells x channels)
_CHUNK_FLOATS = 1 << 24


def _pair(size: Union[int, Tuple[int, int]]) -> Tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _axis_samples(start: torch.Tensor, bin_size: torch.Tensor, bins: int, grid: int, length: int):
    """Bilinear corners along one axis for R RoIs of one grid size.

    Args:
        start, bin_size: (R,) RoI start and bin size in feature pixels.
        bins: pooled size along the axis; grid: samples per bin; length: feature size.
    Returns:
        low, high: (R, bins, grid) int64 corner indices; w_low, w_high: (R, bins, grid) weights,
        zero for samples outside ``[-1, length]`` (torchvision drops them).
    """
    p = torch.arange(bins, device=start.device, dtype=start.dtype)
    i = torch.arange(grid, device=start.device, dtype=start.dtype)
    c = start[:, None, None] + p[None, :, None] * bin_size[:, None, None] \
        + (i[None, None, :] + 0.5) * bin_size[:, None, None] / grid
    valid = (c >= -1.0) & (c <= length)
    c = c.clamp(min=0.0)
    low = c.floor().long()
    at_edge = low >= length - 1
    low = torch.where(at_edge, torch.full_like(low, length - 1), low)
    high = torch.where(at_edge, low, low + 1)
    c = torch.where(at_edge, low.to(c.dtype), c)
    frac = c - low.to(c.dtype)
    v = valid.to(c.dtype)
    return low, high, (1.0 - frac) * v, frac * v


def _axis_window(low: torch.Tensor, high: torch.Tensor, w_low: torch.Tensor, w_high: torch.Tensor, size: int):
    """(R, bins, size) weight of each window cell for each bin: the corner weights of the bin's
    samples (``low``/``high`` (R, bins, grid), relative to the window start) summed per cell."""
    a = torch.zeros(*low.shape[:2], size, dtype=w_low.dtype, device=w_low.device)
    return a.scatter_add_(2, low, w_low).scatter_add_(2, high, w_high)


def roi_align_backward_cpu(grad_output: torch.Tensor, rois: torch.Tensor, input_shape, spatial_scale: float,
                           sampling_ratio: int, aligned: bool) -> torch.Tensor:
    """Gradient of torchvision's ``roi_align`` w.r.t. its input, vectorised over channels.

    Args:
        grad_output: (K, C, PH, PW) gradient of the pooled features.
        rois: (K, 5) ``(batch index, x1, y1, x2, y2)`` in input-image pixels.
        input_shape: (N, C, H, W) of the feature map.
    Returns:
        (N, C, H, W) gradient of the feature map.
    """
    n, ch, height, width = input_shape
    k, _, ph, pw = grad_output.shape
    dtype = grad_output.dtype
    grad = torch.zeros(n * height * width, ch, dtype=dtype, device=grad_output.device)
    if k == 0:
        return grad.view(n, height, width, ch).permute(0, 3, 1, 2)
    rois = rois.to(dtype)
    offset = 0.5 if aligned else 0.0
    x1, y1 = rois[:, 1] * spatial_scale - offset, rois[:, 2] * spatial_scale - offset
    roi_w, roi_h = rois[:, 3] * spatial_scale - offset - x1, rois[:, 4] * spatial_scale - offset - y1
    if not aligned:
        roi_w, roi_h = roi_w.clamp(min=1.0), roi_h.clamp(min=1.0)
    bin_w, bin_h = roi_w / pw, roi_h / ph
    if sampling_ratio > 0:
        grid_h = torch.full((k,), sampling_ratio, dtype=torch.long, device=rois.device)
        grid_w = grid_h
    else:
        grid_h, grid_w = torch.ceil(roi_h / ph).long(), torch.ceil(roi_w / pw).long()
    batch = rois[:, 0].long()
    for gh, gw in torch.unique(torch.stack([grid_h, grid_w], 1), dim=0).tolist():
        if gh <= 0 or gw <= 0:
            continue  # an empty RoI has no samples (count = 1 in torchvision, no gradient)
        idx = torch.nonzero((grid_h == gh) & (grid_w == gw)).flatten()
        ylo, yhi, wylo, wyhi = _axis_samples(y1[idx], bin_h[idx], ph, gh, height)  # (R, PH, gh)
        xlo, xhi, wxlo, wxhi = _axis_samples(x1[idx], bin_w[idx], pw, gw, width)  # (R, PW, gw)
        # the samples of a RoI touch a window of cells from (y0, x0); the window's gradient is
        # Ay^T G Ax per channel, Ay (PH, hwin) / Ax (PW, wwin) the corner weights of each bin
        y0, x0 = ylo.flatten(1).amin(1), xlo.flatten(1).amin(1)
        hwin = int((yhi.flatten(1).amax(1) - y0).max()) + 1
        wwin = int((xhi.flatten(1).amax(1) - x0).max()) + 1
        step = max(1, _CHUNK_FLOATS // (hwin * max(wwin, pw) * ch))
        for s in range(0, idx.numel(), step):
            c = slice(s, s + step)
            ay = _axis_window(ylo[c] - y0[c, None, None], yhi[c] - y0[c, None, None], wylo[c], wyhi[c], hwin)
            ax = _axis_window(xlo[c] - x0[c, None, None], xhi[c] - x0[c, None, None], wxlo[c], wxhi[c], wwin)
            g = grad_output[idx[c]].permute(0, 2, 3, 1).reshape(-1, ph, pw * ch)  # (R, PH, PW*C)
            t = torch.bmm(ay.transpose(1, 2) / (gh * gw), g).view(-1, hwin, pw, ch)  # (R, hwin, PW, C)
            win = torch.matmul(ax.transpose(1, 2)[:, None], t)  # (R, hwin, wwin, C)
            rows = (y0[c, None] + torch.arange(hwin, device=y0.device)).clamp(max=height - 1)  # zero beyond the map
            cols = (x0[c, None] + torch.arange(wwin, device=x0.device)).clamp(max=width - 1)
            cell = (batch[idx[c]] * height * width)[:, None, None] + rows[:, :, None] * width + cols[:, None, :]
            grad.index_add_(0, cell.reshape(-1), win.reshape(-1, ch))
    return grad.view(n, height, width, ch).permute(0, 3, 1, 2)  # channels-last strides


class _ROIAlignCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, rois, output_size, spatial_scale, sampling_ratio, aligned):
        ctx.save_for_backward(rois)
        ctx.params = (tuple(input.shape), spatial_scale, sampling_ratio, aligned)
        return _tv_roi_align(input, rois, output_size, spatial_scale, sampling_ratio, aligned)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (rois,) = ctx.saved_tensors
        shape, spatial_scale, sampling_ratio, aligned = ctx.params
        grad = roi_align_backward_cpu(grad_output.contiguous(), rois, shape, spatial_scale, sampling_ratio, aligned)
        return grad, None, None, None, None, None


def roi_align(input: torch.Tensor, rois: torch.Tensor, output_size, spatial_scale: float = 1.0,
              sampling_ratio: int = -1, aligned: bool = False) -> torch.Tensor:
    """torchvision's ``roi_align`` (same arguments; ``rois`` a (K, 5) tensor) with the vectorised
    backward on CPU when ``input`` requires a gradient. Returns (K, C, PH, PW)."""
    output_size = _pair(output_size)
    if input.device.type == "cpu" and input.requires_grad and torch.is_grad_enabled():
        return _ROIAlignCPU.apply(input, rois, output_size, float(spatial_scale), int(sampling_ratio), bool(aligned))
    return _tv_roi_align(input, rois, output_size, spatial_scale, sampling_ratio, aligned)


class ROIAlign(_D2ROIAlign):
    """Detectron2's ``ROIAlign`` layer computed by :func:`roi_align`."""

    def forward(self, input: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        assert rois.dim() == 2 and rois.size(1) == 5
        if input.is_quantized:
            input = input.dequantize()
        return roi_align(input, rois.to(dtype=input.dtype), self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned)


class ROIPooler(_D2ROIPooler):
    """Detectron2's ``ROIPooler`` (same arguments and level mapping) whose ``ROIAlign`` /
    ``ROIAlignV2`` levels use :class:`ROIAlign`; other pooler types are Detectron2's."""

    def __init__(self, output_size, scales, sampling_ratio, pooler_type, **kwargs):
        super().__init__(output_size, scales, sampling_ratio, pooler_type, **kwargs)
        if pooler_type in ("ROIAlign", "ROIAlignV2"):
            self.level_poolers = nn.ModuleList(
                ROIAlign(p.output_size, spatial_scale=p.spatial_scale, sampling_ratio=p.sampling_ratio,
                         aligned=p.aligned)
                for p in self.level_poolers
            )
