"""Tiny models and ground-truth builders shared by the point-model tests (CPU, random init).

* :class:`TinyFPN` -- the one tiny backbone: levels p2 (stride 4) and p3 (stride 8), 8 channels.
* :func:`tiny_cprnet`, :func:`tiny_p2pnet` -- narrow CPRNet / P2PNet on it;
  :func:`constant_scores` makes a CPR head's outputs constant; :func:`write_tiny_cprnet_config`
  writes its LazyConfig and a checkpoint (for the tools and functions that load a config).
* :func:`point_instances`, :func:`empty_instances` -- ground truth as ``PointDatasetMapper`` gives it.
* :func:`half_empty_batch` -- two images, one with points and one without.
"""
import torch
from torch import nn

from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from detectron2.structures import Instances

__all__ = [
    "TinyFPN",
    "tiny_cprnet",
    "tiny_p2pnet",
    "constant_scores",
    "write_tiny_cprnet_config",
    "point_instances",
    "empty_instances",
    "half_empty_batch",
]


class TinyFPN(Backbone):
    """Two random-init levels: p2 (stride 4) and p3 (stride 8), ``channels`` channels."""

    def __init__(self, channels: int = 8):
        super().__init__()
        self.c2 = nn.Conv2d(3, channels, 3, stride=4, padding=1)
        self.c3 = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        self.channels = channels

    def forward(self, x):
        p2 = torch.relu(self.c2(x))
        return {"p2": p2, "p3": self.c3(p2)}

    def output_shape(self):
        return {"p2": ShapeSpec(channels=self.channels, stride=4), "p3": ShapeSpec(channels=self.channels, stride=8)}

    @property
    def size_divisibility(self):
        return 8


def _TinyFPNForTests(cfg, input_shape):
    return TinyFPN()


if "_TinyFPNForTests" not in BACKBONE_REGISTRY:
    BACKBONE_REGISTRY.register(_TinyFPNForTests)
TINY_BACKBONE_NAME = "_TinyFPNForTests"


def tiny_cprnet(num_classes: int = 2, **kw):
    """CPRNet on :class:`TinyFPN` (p3), head of one 8-channel conv; R = 1, u0 = 4 unless given."""
    from pointdet.modeling.cpr import CPRHead, CPRNet

    kw.setdefault("bag_radius", 1)
    kw.setdefault("circle_density", 4)
    head = CPRHead(in_channels=8, num_classes=num_classes, conv_dims=8, num_convs=1, num_groups=4)
    return CPRNet(backbone=TinyFPN(), head=head, num_classes=num_classes, in_feature="p3", **kw)


def constant_scores(model, bias=0.0):
    """f_cls and f_ins output constants: S_cls = sigmoid(bias) everywhere, uniform S_ins."""
    with torch.no_grad():
        for lin in (model.head.cls_out, model.head.ins_out):
            lin.weight.zero_()
            lin.bias.zero_()
        model.head.cls_out.bias.fill_(bias)


def write_tiny_cprnet_config(folder, model):
    """Write a LazyConfig of :func:`tiny_cprnet` (test resize to a short side of 48) and a
    checkpoint of ``model`` into ``folder`` (a ``pathlib.Path``); returns ``(config, weights)`` paths."""
    weights = folder / "w.pth"
    torch.save({"model": model.state_dict()}, weights)
    cfg = folder / "cfg.py"
    cfg.write_text(
        "from detectron2.config import LazyCall as L\n"
        "from detectron2.data import transforms as T\n"
        "from pointdet.modeling.cpr import CPRHead, CPRNet, CPRRefinementParams\n"
        "from tests.modeling.fixtures import TinyFPN\n"
        "model = L(CPRNet)(backbone=L(TinyFPN)(), head=L(CPRHead)(in_channels=8, num_classes=2, conv_dims=8,\n"
        "    num_convs=1, num_groups=4), num_classes=2, in_feature='p3', bag_radius=1, circle_density=4,\n"
        "    refinement=L(CPRRefinementParams)())\n"
        "dataloader = dict(test=dict(mapper=dict(augmentations=[L(T.ResizeShortestEdge)(short_edge_length=48,\n"
        "    max_size=1000)], image_format='RGB')))\n"
    )
    return str(cfg), str(weights)


def tiny_p2pnet(num_classes: int = 2, **kw):
    """P2PNet on :class:`TinyFPN` (p3), towers of one 8-channel conv without norm."""
    from pointdet.modeling.p2pnet import P2PHead, P2PNet

    backbone = TinyFPN()
    head = P2PHead(input_shape=backbone.output_shape()["p3"], num_classes=num_classes, num_convs=1, conv_dims=8, norm="")
    kw.setdefault("pixel_mean", [100.0] * 3)
    kw.setdefault("pixel_std", [50.0] * 3)
    return P2PNet(backbone=backbone, head=head, num_classes=num_classes, **kw)


def point_instances(points, classes, image_size, ann_ids=None) -> Instances:
    """Instances with ``gt_points`` (N, 2), ``gt_classes`` (N,), ``gt_ann_ids`` (N,) (-1 when not given)."""
    inst = Instances(tuple(image_size))
    inst.gt_points = torch.tensor(points, dtype=torch.float32).reshape(-1, 2)
    inst.gt_classes = torch.tensor(classes, dtype=torch.long).reshape(-1)
    n = inst.gt_points.shape[0]
    ids = [-1] * n if ann_ids is None else ann_ids
    inst.gt_ann_ids = torch.tensor(ids, dtype=torch.long).reshape(-1)
    return inst


def empty_instances(image_size) -> Instances:
    """Instances of an image without annotations (the same fields, zero rows)."""
    return point_instances([], [], image_size, [])


def half_empty_batch(seed: int = 0, device="cpu", with_height: bool = True):
    """Two images: 32x48 with points (4,16) class 0 id 11 and (30,20) class 1 id 12; 40x40 without."""
    g = torch.Generator().manual_seed(seed)
    x0 = {
        "image": torch.randint(0, 255, (3, 32, 48), generator=g).float().to(device),
        "instances": point_instances([[4.0, 16.0], [30.0, 20.0]], [0, 1], (32, 48), [11, 12]),
        "image_id": 1,
    }
    x1 = {
        "image": torch.randint(0, 255, (3, 40, 40), generator=g).float().to(device),
        "instances": empty_instances((40, 40)),
        "image_id": 2,
    }
    if with_height:
        x0.update(height=64, width=96)
        x1.update(height=40, width=40)
    return [x0, x1]
