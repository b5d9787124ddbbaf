"""CenterNet: peak decoding by hand, end-to-end training / inference on tiny images (with and
without DMiner; images with single-instance categories and with no annotation), the yacs route
and DefaultPredictor from a saved checkpoint."""
import os

import numpy as np
import pytest
import torch
from torch import nn

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.engine import DefaultPredictor
from detectron2.layers import ShapeSpec
from detectron2.modeling import Backbone, build_model
from detectron2.structures import Boxes, Instances

from pointdet.config import add_pointdet_config
from pointdet.modeling.centernet import CenterNet, CenterNetHead, CenterNetNeck, decode_peaks
from pointdet.modeling.dminer import DMiner


class _TinyStride32(Backbone):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, stride=32, padding=1)

    def forward(self, x):
        return {"res5": torch.relu(self.conv(x))}

    def output_shape(self):
        return {"res5": ShapeSpec(channels=16, stride=32)}

    @property
    def size_divisibility(self):
        return 32


def tiny_centernet(num_classes=3, dminer=None, conv="plain"):
    neck = CenterNetNeck(16, (16, 8, 8), conv=conv)
    head = CenterNetHead(8, num_classes, head_conv=8)
    return CenterNet(backbone=_TinyStride32(), neck=neck, head=head, num_classes=num_classes, dminer=dminer,
                     pixel_mean=[100.0] * 3, pixel_std=[50.0] * 3)


def _inputs(size=64):
    torch.manual_seed(0)
    one = Instances((size, size))
    one.gt_boxes = Boxes(torch.tensor([[4.0, 4.0, 28.0, 20.0], [30.0, 30.0, 60.0, 62.0]]))
    one.gt_classes = torch.tensor([0, 2])  # each category a single instance
    empty = Instances((size, size))
    empty.gt_boxes = Boxes(torch.zeros(0, 4))
    empty.gt_classes = torch.zeros(0, dtype=torch.long)
    img = lambda: torch.randint(0, 255, (3, size, size), dtype=torch.uint8).float()  # noqa: E731
    return [{"image": img(), "instances": one}, {"image": img(), "instances": empty, "height": 32, "width": 32}]


def test_decode_peaks_hand_values():
    hm = torch.zeros(2, 4, 4)
    hm[1, 1, 2] = 0.9
    hm[1, 1, 3] = 0.8  # beside a higher peak: suppressed by the 3x3 max-pool
    hm[0, 3, 0] = 0.5
    sizes = torch.zeros(2, 4, 4)
    sizes[:, 1, 2] = torch.tensor([2.0, 4.0])
    offsets = torch.zeros(2, 4, 4)
    offsets[:, 1, 2] = torch.tensor([0.5, 0.25])
    boxes, scores, classes = decode_peaks(hm, sizes, offsets, stride=4, topk=3)
    assert scores.tolist() == pytest.approx([0.9, 0.5, 0.0])
    assert classes[:2].tolist() == [1, 0]
    # centre (2 + 0.5, 1 + 0.25) cells, size (2, 4) cells, times stride 4
    assert boxes[0].tolist() == pytest.approx([6.0, -3.0, 14.0, 13.0])
    assert boxes[1].tolist() == pytest.approx([0.0, 12.0, 0.0, 12.0])


@pytest.mark.parametrize("dminer", [None, DMiner(top_m=8), DMiner(use_splg=False, loss_mask=True, top_m=4)])
def test_centernet_train_and_inference(dminer):
    model = tiny_centernet(dminer=dminer)
    assert model.stride == 4
    model.train()
    losses = model(_inputs())
    expected = {"loss_hm", "loss_size", "loss_offset"} | ({"loss_pgcl"} if dminer and dminer.use_pgcl else set())
    assert set(losses) == expected
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert model.head.heatmap[-1].weight.grad.abs().sum() > 0
    assert model.head.size[-1].weight.grad.abs().sum() > 0
    model.eval()
    model.head.size[-1].bias.data.fill_(2.0)  # non-empty boxes (Detectron2's postprocess drops empty ones)
    with torch.no_grad():
        out = model(_inputs())
    assert len(out) == 2
    r = out[0]["instances"]
    assert len(r) == 100 and r.pred_boxes.tensor.shape == (100, 4)
    assert (r.scores[:-1] >= r.scores[1:]).all()
    assert out[1]["instances"].image_size == (32, 32)  # rescaled to the given height/width


def test_centernet_empty_batch_trains():
    model = tiny_centernet(dminer=DMiner(top_m=4))
    model.train()
    losses = model([_inputs()[1]])
    assert losses["loss_size"].item() == 0.0 and losses["loss_pgcl"].item() == 0.0
    sum(losses.values()).backward()


def test_centernet_head_initialisation():
    head = CenterNetHead(8, 3, head_conv=8)
    assert torch.allclose(head.heatmap[-1].bias, torch.full((3,), -2.19))
    assert head.size[-1].bias.abs().sum() == 0 and head.size[-1].weight.std() < 0.01


def test_dcn_neck_starts_as_plain_conv_and_upsamples():
    neck = CenterNetNeck(4, (4,), conv="dcn")
    x = torch.randn(1, 4, 3, 5)
    y = neck(x)
    assert y.shape == (1, 4, 6, 10)
    dcn = neck.layers[0]
    plain = torch.nn.functional.conv2d(x, dcn.weight, None, padding=1)
    # zero offsets and masks of sigmoid(0) = 0.5: half the plain conv
    assert torch.allclose(dcn(x), 0.5 * plain, atol=1e-5)


def _yacs_cfg(tmp_path, dminer=False):
    cfg = get_cfg()
    add_pointdet_config(cfg)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.META_ARCHITECTURE = "CenterNet"
    cfg.MODEL.BACKBONE.NAME = "build_resnet_backbone"
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res5"]
    cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.BACKBONE.FREEZE_AT = 0
    cfg.MODEL.CENTERNET.NUM_CLASSES = 3
    cfg.MODEL.CENTERNET.NECK_CHANNELS = [16, 16, 16]
    cfg.MODEL.CENTERNET.HEAD_CONV = 16
    cfg.MODEL.DMINER.ENABLED = dminer
    cfg.INPUT.MIN_SIZE_TEST = 64
    cfg.INPUT.MAX_SIZE_TEST = 64
    cfg.OUTPUT_DIR = str(tmp_path)
    return cfg


def test_yacs_build_checkpoint_and_default_predictor(tmp_path):
    cfg = _yacs_cfg(tmp_path, dminer=True)
    model = build_model(cfg)
    assert isinstance(model, CenterNet) and model.dminer is not None and model.dminer.tau == 0.07
    assert model.stride == 4 and model.size_weight == 0.1 and model.offset_weight == 1.0
    assert model.neck.layers[0].__class__.__name__ == "ModulatedDeformConv"  # DCN by default
    model.train()
    sum(model(_inputs()).values()).backward()
    path = os.path.join(tmp_path, "model_final.pth")
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("model_final")
    assert os.path.isfile(path)
    cfg.MODEL.WEIGHTS = path
    predictor = DefaultPredictor(cfg)
    predictor.model.head.size[-1].bias.data.fill_(2.0)
    assert torch.equal(predictor.model.head.heatmap[-1].bias, model.head.heatmap[-1].bias)
    out = predictor(np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8))
    r = out["instances"]
    assert r.image_size == (48, 80) and 0 < len(r) <= 100 and r.pred_classes.max() < 3


def test_lazyconfig_checkpoint_loads_into_yacs_default_predictor(tmp_path):
    """The demo's LazyConfig CenterNet (MobileNetV2) and its yacs twin: same keys, same predictions."""
    from detectron2.config import instantiate

    from configs.common.models.centernet import centernet_mnv2
    from pointdet.modeling.backbone import IMAGENET_RGB_PIXEL_MEAN, IMAGENET_RGB_PIXEL_STD

    lazy = centernet_mnv2(neck_conv="plain", neck_channels=(16, 16, 16), head_conv=16)
    lazy.backbone.weights = None
    lazy.num_classes = 2
    torch.manual_seed(0)
    model = instantiate(lazy)
    model.head.size[-1].bias.data.fill_(3.0)
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("m")

    cfg = _yacs_cfg(tmp_path)
    cfg.MODEL.BACKBONE.NAME = "build_mobilenetv2_backbone"
    cfg.MODEL.MOBILENETV2.OUT_FEATURES = ["res5"]
    cfg.MODEL.MOBILENETV2.FREEZE_AT = 0
    cfg.MODEL.CENTERNET.NUM_CLASSES = 2
    cfg.MODEL.CENTERNET.NECK_CONV = "plain"
    cfg.MODEL.PIXEL_MEAN = list(IMAGENET_RGB_PIXEL_MEAN)
    cfg.MODEL.PIXEL_STD = list(IMAGENET_RGB_PIXEL_STD)
    cfg.INPUT.FORMAT = "RGB"
    cfg.MODEL.WEIGHTS = os.path.join(tmp_path, "m.pth")
    predictor = DefaultPredictor(cfg)
    assert set(predictor.model.state_dict()) == set(model.state_dict())
    image = np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    model.eval()
    with torch.no_grad():
        rgb = torch.as_tensor(image[:, :, ::-1].astype("float32").transpose(2, 0, 1))
        mine = model([{"image": rgb, "height": 64, "width": 64}])[0]["instances"]
    theirs = predictor(image)["instances"]
    assert len(mine) > 0 and torch.allclose(mine.scores, theirs.scores)
    assert torch.allclose(mine.pred_boxes.tensor, theirs.pred_boxes.tensor, atol=1e-4)
