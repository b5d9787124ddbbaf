"""ClickMILAppearanceModel: built from yacs (registered meta-architecture) and from the LazyConfig,
RoI features and scores on a random image, frozen backbone."""
import pytest
import torch

from detectron2.config import LazyConfig, get_cfg, instantiate
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances

from pointdet import add_pointdet_config


def _yacs_model():
    cfg = add_pointdet_config(get_cfg())
    cfg.MODEL.META_ARCHITECTURE = "ClickMILAppearanceModel"
    cfg.MODEL.BACKBONE.NAME = "build_mobilenetv2_backbone"
    cfg.MODEL.MOBILENETV2.WEIGHTS = ""
    cfg.MODEL.MOBILENETV2.OUT_FEATURES = ["res4", "res5"]
    cfg.MODEL.CLICKMIL.NUM_CLASSES = 2
    cfg.MODEL.DEVICE = "cpu"
    return build_model(cfg)


def test_yacs_model_scores_proposals():
    torch.manual_seed(0)
    model = _yacs_model().eval()
    assert model.feature_dim == 96 + 320
    assert not any(p.requires_grad for p in model.backbone.parameters())
    image = torch.randint(0, 255, (3, 96, 128), dtype=torch.uint8)
    boxes = torch.tensor([[0.0, 0.0, 64.0, 64.0], [10.0, 20.0, 90.0, 80.0], [30.0, 30.0, 31.0, 31.0]])
    feats = model.extract_features(image, boxes)
    assert feats.shape == (3, 416) and torch.isfinite(feats).all()
    with torch.no_grad():
        model.classifier.weight.normal_()
    props = Instances((96, 128), proposal_boxes=Boxes(boxes))
    out = model([{"image": image, "proposals": props}])
    assert out[0]["scores"].shape == (3, 2)
    assert torch.allclose(out[0]["scores"], torch.sigmoid(model.classifier(feats)))
    assert model.extract_features(image, torch.zeros(0, 4)).shape == (0, 416)  # an image without proposals
    model.train()
    assert not model.backbone.training  # frozen BN statistics
    with pytest.raises(RuntimeError, match="MIL loop"):
        model([{"image": image, "proposals": props}])


def test_lazyconfig_model_builds():
    cfg = LazyConfig.load("configs/common/models/clickmil_mnv2.py")
    cfg.model.backbone.weights = None
    model = instantiate(cfg.model)
    assert model.in_features == ["res4", "res5"] and model.num_classes == 1
    assert cfg.mil["appearance_weight"] == 0.5
