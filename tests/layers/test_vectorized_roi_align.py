"""RoIAlign with the vectorised CPU backward: same values and gradients as torchvision's."""
import pytest
import torch
from detectron2.modeling.poolers import ROIPooler as D2ROIPooler
from detectron2.structures import Boxes
from torchvision.ops import roi_align as tv_roi_align

from pointdet.layers import vectorized_roi_align as layer
from pointdet.layers.vectorized_roi_align import ROIAlign, ROIPooler, roi_align, roi_align_backward_cpu


def _rois():
    """RoIs of two images: inside, partly and fully outside, tiny, empty, reversed, large."""
    return torch.tensor(
        [
            [0, 3.0, 4.0, 20.0, 30.0],
            [0, -8.0, -6.0, 5.0, 9.0],  # crosses the top-left border
            [1, 25.0, 20.0, 44.0, 37.0],  # crosses the bottom-right border (feature 40 x 34)
            [1, 50.0, 50.0, 70.0, 60.0],  # fully outside
            [0, 10.0, 10.0, 10.5, 10.2],  # sub-pixel
            [1, 12.0, 12.0, 12.0, 12.0],  # empty
            [0, 30.0, 20.0, 10.0, 5.0],  # reversed corners
            [1, 0.0, 0.0, 39.0, 33.0],  # the whole map: a coarse sampling grid
            [1, 7.25, 3.5, 18.75, 29.0],
        ]
    )


def _grads(fn, feat, rois, grad_out_seed=1, **kw):
    x = feat.clone().requires_grad_(True)
    out = fn(x, rois, **kw)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(grad_out_seed))
    (out * g).sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [0, 2, -1])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_values_and_gradient_equal_torchvision(aligned, sampling_ratio, scale):
    feat = torch.randn(2, 5, 34, 40, generator=torch.Generator().manual_seed(0))
    rois = _rois() * torch.tensor([1.0, 1 / scale, 1 / scale, 1 / scale, 1 / scale])
    kw = dict(output_size=(7, 6), spatial_scale=scale, sampling_ratio=sampling_ratio, aligned=aligned)
    out_ref, grad_ref = _grads(tv_roi_align, feat, rois, **kw)
    out, grad = _grads(roi_align, feat, rois, **kw)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-5, atol=1e-5)
    assert grad.abs().sum() > 0


def test_hand_computed_gradient():
    # one RoI [0, 0, 2, 2] on a 3x3 map, aligned=False, one bin, grid 1: the sample at (1, 1) takes
    # the full weight of pixel (1, 1); a grid of 2: samples at 0.5 and 1.5 on both axes, each
    # spreading 1/4 of its weight over 4 pixels, 1/4 of the output gradient per sample
    rois = torch.tensor([[0, 0.0, 0.0, 2.0, 2.0]])
    g = torch.ones(1, 1, 1, 1) * 8.0
    grid1 = roi_align_backward_cpu(g, rois, (1, 1, 3, 3), 1.0, 1, False)[0, 0]
    assert torch.equal(grid1, torch.tensor([[0.0, 0, 0], [0, 8, 0], [0, 0, 0]]))
    grid2 = roi_align_backward_cpu(g, rois, (1, 1, 3, 3), 1.0, 2, False)[0, 0]
    expected = torch.tensor([[0.5, 1.0, 0.5], [1.0, 2.0, 1.0], [0.5, 1.0, 0.5]])
    torch.testing.assert_close(grid2, expected)
    assert grid2.sum() == 8.0


def test_chunks_and_grid_groups_give_the_same_gradient(monkeypatch):
    feat = torch.randn(2, 3, 34, 40, generator=torch.Generator().manual_seed(2))
    rois = _rois()
    kw = dict(output_size=7, spatial_scale=1.0, sampling_ratio=0, aligned=True)
    _, whole = _grads(roi_align, feat, rois, **kw)
    monkeypatch.setattr(layer, "_CHUNK_FLOATS", 1)  # one RoI per chunk
    _, chunked = _grads(roi_align, feat, rois, **kw)
    torch.testing.assert_close(chunked, whole)


def test_no_rois_and_no_grad_paths():
    feat = torch.randn(1, 4, 8, 8, requires_grad=True)
    out = roi_align(feat, torch.zeros(0, 5), 7, 1.0, 0, True)
    assert out.shape == (0, 4, 7, 7)
    out.sum().backward()
    assert torch.equal(feat.grad, torch.zeros_like(feat))
    with torch.no_grad():
        assert roi_align(feat, _rois()[:1], 7, 1.0, 0, True).grad_fn is None


def test_pooler_matches_detectron2_pooler():
    feats = [torch.randn(2, 4, 32, 32, generator=torch.Generator().manual_seed(3)),
             torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(4))]
    boxes = [Boxes(torch.tensor([[2.0, 3.0, 30.0, 40.0], [10.0, 10.0, 120.0, 100.0]])),
             Boxes(torch.tensor([[5.0, 5.0, 9.0, 12.0]]))]
    kw = dict(output_size=7, scales=(1 / 4, 1 / 8), sampling_ratio=0, pooler_type="ROIAlignV2")
    ours, ref = ROIPooler(**kw), D2ROIPooler(**kw)
    assert all(isinstance(p, ROIAlign) for p in ours.level_poolers)
    xs = [[f.clone().requires_grad_(True) for f in feats] for _ in range(2)]
    out, out_ref = ours(xs[0], boxes), ref(xs[1], boxes)
    torch.testing.assert_close(out, out_ref)
    (out ** 2).sum().backward()
    (out_ref ** 2).sum().backward()
    for a, b in zip(xs[0], xs[1]):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-5)
    assert type(ROIPooler(7, (1 / 4,), 0, "ROIPool").level_poolers[0]).__name__ == "RoIPool"
