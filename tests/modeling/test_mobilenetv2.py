"""MobileNetV2 backbone: stage split, shapes, FPN builders, freezing, norms, ImageNet weights
(the ``pointdet://`` path resolved when the model is built, never when a config is loaded)."""
import glob
import os

import pytest
import torch
import torchvision
from torch import nn

from detectron2.config import LazyCall as L
from detectron2.config import get_cfg, instantiate
from detectron2.layers import FrozenBatchNorm2d, ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, build_backbone
from detectron2.modeling.backbone import FPN
from detectron2.modeling.backbone.fpn import LastLevelP6P7

from detectron2.config import LazyConfig
from detectron2.utils.file_io import PathManager
from omegaconf import DictConfig, ListConfig

import pointdet.data.demo
from pointdet.config import get_model_zoo_config
from pointdet.data.demo import MOBILENET_V2_SHA256, prepare_demo_data
from pointdet.modeling.backbone import (
    IMAGENET_RGB_PIXEL_MEAN,
    IMAGENET_RGB_PIXEL_STD,
    MOBILENET_V2_IMAGENET_WEIGHTS,
    MSRA_BGR_PIXEL_MEAN,
    MSRA_BGR_PIXEL_STD,
)
from pointdet.modeling.backbone.mobilenetv2 import MobileNetV2Backbone, add_mobilenetv2_config, mobilenetv2_stage

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "configs")

EXPECTED = {"res2": (24, 4), "res3": (32, 8), "res4": (96, 16), "res5": (320, 32)}


@pytest.fixture(scope="session")
def imagenet_weights():
    path = prepare_demo_data()["weights"]
    from pointdet.data.coco_io import file_sha256

    assert file_sha256(path) == MOBILENET_V2_SHA256
    return path


def _cfg(**mnv2):
    cfg = get_cfg()
    add_mobilenetv2_config(cfg)
    cfg.MODEL.MOBILENETV2.NORM = "BN"
    cfg.MODEL.MOBILENETV2.FREEZE_AT = 0
    for k, v in mnv2.items():
        cfg.MODEL.MOBILENETV2[k] = v
    return cfg


def test_shapes_strides_channels_random_init():
    torch.manual_seed(0)
    m = MobileNetV2Backbone(weights=None, norm="BN")
    shapes = m.output_shape()
    assert list(shapes) == ["res2", "res3", "res4", "res5"]
    for k, (c, s) in EXPECTED.items():
        assert (shapes[k].channels, shapes[k].stride) == (c, s)
    x = torch.randn(2, 3, 64, 96)
    out = m(x)
    for k, (c, s) in EXPECTED.items():
        assert out[k].shape == (2, c, 64 // s, 96 // s)
    # odd size: every stride-2 conv has padding 1, so sizes are ceil(H / s)
    out = m(torch.randn(1, 3, 65, 33))
    assert out["res5"].shape[-2:] == (3, 2)


def test_subset_of_features_truncates_network():
    m = MobileNetV2Backbone(out_features=["res3"], norm="BN")
    assert m.stage_names == ["stem", "res2", "res3"] and not hasattr(m, "res4")
    assert set(m(torch.randn(1, 3, 32, 32))) == {"res3"}


def test_stage_split_matches_torchvision_features(imagenet_weights):
    """res5 of the wrapper equals torchvision's features[:18] with the same weights."""
    tv = torchvision.models.mobilenet_v2()
    tv.load_state_dict(torch.load(imagenet_weights, map_location="cpu", weights_only=True))
    tv.eval()
    m = MobileNetV2Backbone(weights=imagenet_weights, norm="FrozenBN", freeze_at=0).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = tv.features[:4](x)
        assert torch.allclose(m(x)["res2"], ref, atol=1e-4)
        ref = tv.features[:18](x)
        out = m(x)
    assert torch.allclose(out["res5"], ref, atol=1e-4)


def test_real_checkpoint_strict_load_and_finite_features(imagenet_weights):
    state = torch.load(imagenet_weights, map_location="cpu", weights_only=True)
    m = MobileNetV2Backbone(weights=imagenet_weights, norm="FrozenBN", freeze_at=2).eval()
    # a loaded tensor really is the checkpoint's (stem conv, last res5 conv)
    assert torch.equal(m.stem[0][0].weight, state["features.0.0.weight"])
    assert torch.equal(m.res5[-1].conv[2].weight, state["features.17.conv.2.weight"])
    assert torch.equal(m.res4[0].conv[0][1].running_mean, state["features.7.conv.0.1.running_mean"])
    img = torch.rand(1, 3, 128, 128) * 255
    mean = torch.tensor(IMAGENET_RGB_PIXEL_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_RGB_PIXEL_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        out = m((img - mean) / std)
    for v in out.values():
        assert torch.isfinite(v).all() and v.abs().sum() > 0


def test_imagenet_weights_classify_like_torchvision(imagenet_weights):
    """The checkpoint is a working ImageNet model: a smooth image is not classified uniformly,
    and the backbone's res5 is what the classifier consumes (1x1 conv + pool + linear)."""
    tv = torchvision.models.mobilenet_v2()
    tv.load_state_dict(torch.load(imagenet_weights, map_location="cpu", weights_only=True))
    tv.eval()
    m = MobileNetV2Backbone(weights=imagenet_weights, norm="FrozenBN").eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        feat = tv.features[18](m(x)["res5"])
        logits = tv.classifier(nn.functional.adaptive_avg_pool2d(feat, 1).flatten(1))
        ref = tv(x)
    assert torch.allclose(logits, ref, atol=1e-3)
    assert ref.softmax(-1).max() > 5.0 / 1000  # far from uniform: trained weights


def test_missing_weight_file_clear_error(tmp_path):
    missing = str(tmp_path / "nope.pth")
    with pytest.raises(FileNotFoundError, match="nope.pth.*prepare_demo_data"):
        MobileNetV2Backbone(weights=missing)


def test_width_mismatch_with_checkpoint_is_error(imagenet_weights):
    with pytest.raises(RuntimeError, match="width_mult=0.5"):
        MobileNetV2Backbone(weights=imagenet_weights, width_mult=0.5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="res6"):
        MobileNetV2Backbone(out_features=["res6"])
    with pytest.raises(ValueError, match="norm"):
        MobileNetV2Backbone(norm="LN")
    with pytest.raises(ValueError, match="freeze_at"):
        MobileNetV2Backbone(freeze_at=9)


def test_freeze_at_really_freezes():
    torch.manual_seed(0)
    m = MobileNetV2Backbone(weights=None, norm="BN", freeze_at=2)
    m.train()
    for name in ("stem", "res2"):
        stage = getattr(m, name)
        assert all(not p.requires_grad for p in stage.parameters())
        assert not any(isinstance(x, nn.BatchNorm2d) for x in stage.modules())
        assert any(isinstance(x, FrozenBatchNorm2d) for x in stage.modules())
    for name in ("res3", "res4", "res5"):
        assert all(p.requires_grad for p in getattr(m, name).parameters())
    before = {k: v.clone() for k, v in m.state_dict().items()}
    out = m(torch.randn(2, 3, 64, 64))
    sum(v.sum() for v in out.values()).backward()
    assert all(p.grad is None for p in m.stem.parameters())
    assert all(p.grad is None for p in m.res2.parameters())
    assert all(p.grad is not None for p in m.res3.parameters())
    after = m.state_dict()
    # frozen stages keep their buffers in train mode; BN of trainable stages updates its stats
    for k in before:
        if k.startswith(("stem.", "res2.")):
            assert torch.equal(before[k], after[k]), k
    assert not torch.equal(before["res3.0.conv.0.1.running_mean"], after["res3.0.conv.0.1.running_mean"])


def test_freeze_at_zero_trains_all_and_frozenbn_has_no_trainable_norm():
    m = MobileNetV2Backbone(norm="FrozenBN", freeze_at=0)
    assert all(p.requires_grad for p in m.parameters())
    assert not any(isinstance(x, nn.BatchNorm2d) for x in m.modules())


@pytest.mark.parametrize("norm", ["GN", "SyncBN"])
def test_other_norms(norm):
    m = MobileNetV2Backbone(norm=norm, freeze_at=0)
    kinds = {type(x).__name__ for x in m.modules()}
    if norm == "GN":
        assert "GroupNorm" in kinds and "BatchNorm2d" not in kinds
        gn = [x for x in m.modules() if isinstance(x, nn.GroupNorm)]
        assert {x.num_channels: x.num_groups for x in gn}[16] == 16  # gcd(32, 16)
        out = m(torch.randn(1, 3, 32, 32))  # GN works in train mode with batch 1
        assert out["res5"].shape == (1, 320, 1, 1)
    else:
        assert any("SyncBatchNorm" in k for k in kinds)


def test_registry_builders_from_yacs():
    for name in ("build_mobilenetv2_backbone", "build_mobilenetv2_fpn_backbone", "build_retinanet_mobilenetv2_fpn_backbone"):
        assert name in BACKBONE_REGISTRY
    cfg = _cfg()
    cfg.MODEL.BACKBONE.NAME = "build_mobilenetv2_fpn_backbone"
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.OUT_CHANNELS = 32
    fpn = build_backbone(cfg)
    out = fpn(torch.randn(1, 3, 128, 128))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "p2": (1, 32, 32, 32), "p3": (1, 32, 16, 16), "p4": (1, 32, 8, 8), "p5": (1, 32, 4, 4), "p6": (1, 32, 2, 2)
    }

    cfg.MODEL.BACKBONE.NAME = "build_retinanet_mobilenetv2_fpn_backbone"
    cfg.MODEL.MOBILENETV2.OUT_FEATURES = ["res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res3", "res4", "res5"]
    fpn = build_backbone(cfg)
    assert fpn.size_divisibility == 32  # Detectron2's FPN: stride of the last input level
    assert fpn.top_block.in_feature == "p5" and fpn.top_block.p6.in_channels == 32
    out = fpn(torch.randn(1, 3, 128, 128))
    assert {k: tuple(v.shape[-2:]) for k, v in out.items()} == {
        "p3": (16, 16), "p4": (8, 8), "p5": (4, 4), "p6": (2, 2), "p7": (1, 1)
    }

    cfg.MODEL.BACKBONE.NAME = "build_mobilenetv2_backbone"
    bb = build_backbone(cfg)
    assert isinstance(bb, MobileNetV2Backbone) and bb._out_features == ["res3", "res4", "res5"]


def test_yacs_defaults():
    cfg = get_cfg()
    add_mobilenetv2_config(cfg)
    m = cfg.MODEL.MOBILENETV2
    assert (m.WEIGHTS, m.NORM, m.FREEZE_AT, m.WIDTH_MULT) == ("", "FrozenBN", 2, 1.0)
    assert "MOBILENETV2" not in get_cfg().MODEL  # the global default config is untouched


def test_lazyconfig_instantiate():
    cfg = L(FPN)(
        bottom_up=L(MobileNetV2Backbone)(out_features=["res3", "res4", "res5"], weights=None, norm="BN"),
        in_features=["res3", "res4", "res5"],
        out_channels=16,
        top_block=L(LastLevelP6P7)(in_channels=16, out_channels=16, in_feature="p5"),
    )
    fpn = instantiate(cfg)
    out = fpn(torch.randn(1, 3, 128, 128))
    assert sorted(out) == ["p3", "p4", "p5", "p6", "p7"] and out["p3"].shape[1] == 16
    # gradients flow to the bottom-up network
    sum(v.sum() for v in out.values()).backward()
    assert fpn.bottom_up.res3[0].conv[0][0].weight.grad is not None


def test_from_config_rejects_non_rgb_input():
    with pytest.raises(ValueError, match="3 input channels"):
        MobileNetV2Backbone(_cfg(), ShapeSpec(channels=1))


def test_retinanet_with_mobilenetv2_fpn_trains_and_predicts():
    """A stock Detectron2 RetinaNet on the registered backbone: losses with a GT image and an
    empty image, backward reaches the backbone, inference returns Instances."""
    from detectron2.modeling import build_model
    from detectron2.structures import Boxes, Instances

    torch.manual_seed(0)
    cfg = _cfg(OUT_FEATURES=["res3", "res4", "res5"], FREEZE_AT=2)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.META_ARCHITECTURE = "RetinaNet"
    cfg.MODEL.BACKBONE.NAME = "build_retinanet_mobilenetv2_fpn_backbone"
    cfg.MODEL.FPN.IN_FEATURES = ["res3", "res4", "res5"]
    cfg.MODEL.FPN.OUT_CHANNELS = 16
    cfg.MODEL.RETINANET.NUM_CONVS = 1
    cfg.MODEL.RETINANET.NUM_CLASSES = 1
    cfg.MODEL.RETINANET.IN_FEATURES = ["p3", "p4", "p5", "p6", "p7"]
    cfg.MODEL.PIXEL_MEAN = list(IMAGENET_RGB_PIXEL_MEAN)
    cfg.MODEL.PIXEL_STD = list(IMAGENET_RGB_PIXEL_STD)
    cfg.INPUT.FORMAT = "RGB"
    model = build_model(cfg)
    gt = Instances((128, 128), gt_boxes=Boxes(torch.tensor([[10.0, 20.0, 50.0, 60.0]])), gt_classes=torch.tensor([0]))
    empty = Instances((128, 128), gt_boxes=Boxes(torch.zeros(0, 4)), gt_classes=torch.zeros(0, dtype=torch.long))
    batch = [
        {"image": torch.randint(0, 255, (3, 128, 128)).float(), "instances": gt},
        {"image": torch.randint(0, 255, (3, 96, 128)).float(), "instances": empty},
    ]
    from detectron2.utils.events import EventStorage

    model.train()
    with EventStorage():
        losses = model(batch)
    assert set(losses) == {"loss_cls", "loss_box_reg"} and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.backbone.bottom_up.res3[0].conv[0][0].weight.grad is not None
    assert model.backbone.bottom_up.stem[0][0].weight.grad is None  # frozen
    model.eval()
    with torch.no_grad():
        out = model([{"image": batch[0]["image"], "height": 256, "width": 256}])
    assert out[0]["instances"].image_size == (256, 256)


# ---- res5 as a module (the C4 box head) ----------------------------------------------------
def test_res5_stage_is_torchvision_features_14_to_18(imagenet_weights):
    tv = torchvision.models.mobilenet_v2()
    tv.load_state_dict(torch.load(imagenet_weights, map_location="cpu", weights_only=True))
    tv.eval()
    res5 = mobilenetv2_stage("res5", weights=imagenet_weights, norm="FrozenBN").eval()
    assert res5[-1].out_channels == 320 and len(res5) == 4
    x = torch.randn(2, 96, 14, 14)
    with torch.no_grad():
        assert torch.allclose(res5(x), tv.features[14:18](x), atol=1e-4)
    assert res5(x).shape == (2, 320, 7, 7)
    with pytest.raises(ValueError, match="res6"):
        mobilenetv2_stage("res6")


# ---- the ImageNet weights path: pointdet:// resolved at build time ---------------------------
def test_pointdet_path_resolves_to_the_demo_weights(imagenet_weights):
    assert os.path.samefile(PathManager.get_local_path(MOBILENET_V2_IMAGENET_WEIGHTS), imagenet_weights)
    assert PathManager.exists(MOBILENET_V2_IMAGENET_WEIGHTS)
    a = MobileNetV2Backbone(weights=MOBILENET_V2_IMAGENET_WEIGHTS, norm="BN").state_dict()
    b = MobileNetV2Backbone(weights=imagenet_weights, norm="BN").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b)
    with pytest.raises(ValueError, match="Unknown pointdet path.*mobilenet_v2.pth"):
        PathManager.get_local_path("pointdet://ImageNetPretrained/R-50.pkl")
    with PathManager.open(MOBILENET_V2_IMAGENET_WEIGHTS, "rb") as f, open(imagenet_weights, "rb") as g:
        assert f.read(64) == g.read(64)
    with pytest.raises(ValueError, match="read-only"):
        PathManager.open(MOBILENET_V2_IMAGENET_WEIGHTS, "wb")


def test_a_saved_config_runs_on_another_machine(imagenet_weights, monkeypatch, tmp_path):
    """A config saved (as tools/train_net.py saves config.yaml) under one dataset root builds
    with the weights of another machine's root."""
    cfg = LazyConfig.load(os.path.join(CONFIG_DIR, "demo", "retinanet_mnv2_fpn_trees.py"))
    LazyConfig.save(cfg, str(tmp_path / "config.yaml"))
    other = tmp_path / "other_machine"
    (other / "pointdet_demo" / "weights").mkdir(parents=True)
    os.symlink(imagenet_weights, other / "pointdet_demo" / "weights" / os.path.basename(imagenet_weights))
    monkeypatch.setenv("DETECTRON2_DATASETS", str(other))
    loaded = LazyConfig.load(str(tmp_path / "config.yaml"))
    assert loaded.model.backbone.bottom_up.weights == MOBILENET_V2_IMAGENET_WEIGHTS
    bottom_up = instantiate(loaded.model.backbone.bottom_up)
    state = torch.load(imagenet_weights, map_location="cpu", weights_only=True)
    assert torch.equal(bottom_up.res5[-1].conv[2].weight, state["features.17.conv.2.weight"])


def _mobilenet_configs():
    """Every experiment config (and the common MobileNetV2 pieces) that builds a MobileNetV2."""
    paths = sorted(glob.glob(os.path.join(CONFIG_DIR, "**", "*.py"), recursive=True))
    return [p for p in paths if "mnv2" in os.path.basename(p) or os.path.basename(p) == "mobilenetv2_fpn.py"]


def _weights_leaves(node, found):
    if isinstance(node, (dict, DictConfig)):
        for k, v in node.items():
            if k == "weights" and (isinstance(v, str) or v is None):
                found.append(v)
            else:
                _weights_leaves(v, found)
    elif isinstance(node, (list, tuple, ListConfig)):
        for v in node:
            _weights_leaves(v, found)
    return found


def test_loading_a_config_looks_up_no_weights_file(monkeypatch, tmp_path):
    """Configs store ``pointdet://...``: loading one on a machine without the data neither
    looks the file up nor depends on ``DETECTRON2_DATASETS``; the same model config reads the
    same under two dataset roots."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the weights file was looked up while loading a config")

    monkeypatch.setattr(pointdet.data.demo, "mobilenet_v2_imagenet_weights", forbidden)
    paths = _mobilenet_configs()
    assert len(paths) >= 8, paths
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path / "machine_a"))
    for path in paths:
        weights = _weights_leaves(LazyConfig.load(path), [])
        assert weights and set(weights) == {MOBILENET_V2_IMAGENET_WEIGHTS}, (path, weights)
    for name in ("demo/retinanet_mnv2_fpn_trees.py", "demo/faster_rcnn_mnv2_c4_trees.py"):
        dumps = []
        for root in ("machine_a", "machine_b"):
            monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path / root))
            dumps.append(str(LazyConfig.load(os.path.join(CONFIG_DIR, name)).model))
        assert dumps[0] == dumps[1] and "machine_" not in dumps[0], name


def test_building_with_the_weights_missing_names_the_fetch_command(monkeypatch, tmp_path):
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path / "empty"))
    cfg = LazyConfig.load(os.path.join(CONFIG_DIR, "demo", "faster_rcnn_mnv2_c4_trees.py"))  # loads fine
    expected = os.path.join(str(tmp_path / "empty"), "pointdet_demo", "weights", "mobilenet_v2-b0353104.pth")
    with pytest.raises(FileNotFoundError, match="(?s)" + expected.replace(".", r"\.") + ".*tools/prepare_demo_data.py"):
        instantiate(cfg.model.backbone)
    with pytest.raises(FileNotFoundError, match="tools/prepare_demo_data.py"):
        instantiate(cfg.model.roi_heads.res5)


def test_pixel_statistics_are_detectron2s_and_defined_once():
    zoo = get_model_zoo_config("common/data/constants.py").constants
    assert list(IMAGENET_RGB_PIXEL_MEAN) == zoo.imagenet_rgb256_mean
    assert list(IMAGENET_RGB_PIXEL_STD) == zoo.imagenet_rgb256_std
    assert list(MSRA_BGR_PIXEL_MEAN) == zoo.imagenet_bgr256_mean
    assert list(MSRA_BGR_PIXEL_STD) == zoo.imagenet_bgr256_std
    # no config restates them: they import pointdet.modeling.backbone's constants
    for path in glob.glob(os.path.join(CONFIG_DIR, "**", "*.py"), recursive=True):
        with open(path) as f:
            text = f.read()
        for literal in ("123.675", "58.395", "57.375", "103.53"):
            assert literal not in text, (path, literal)
