"""The detectors of ``configs/common/models`` (derived from Detectron2's model zoo).

For each MobileNetV2 detector (RetinaNet, FCOS, Faster R-CNN FPN and C4): the LazyConfig base,
narrowed, builds, trains 5 iterations on a tiny box dataset (one image without objects),
evaluates with COCOEvaluator, and its checkpoint loads into the stock Detectron2 architecture
built from a yacs config by ``DefaultPredictor``: same state-dict keys and tensors, same
predictions. The R-50 paper bases train a few iterations.
"""
import copy
import os
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import pytest
import torch

import pointdet
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import LazyConfig, get_cfg, instantiate
from detectron2.data import (
    DatasetCatalog,
    DatasetMapper,
    MetadataCatalog,
    build_detection_test_loader,
    build_detection_train_loader,
)
from detectron2.data.samplers import TrainingSampler
from detectron2.engine import DefaultPredictor, SimpleTrainer
from detectron2.evaluation import COCOEvaluator, inference_on_dataset
from detectron2.layers import ShapeSpec
from detectron2.modeling.meta_arch import GeneralizedRCNN, RetinaNet
from detectron2.modeling.meta_arch.fcos import FCOS as D2FCOS
from detectron2.modeling.roi_heads import Res5ROIHeads
from detectron2.structures import BoxMode

from pointdet.modeling.backbone import IMAGENET_RGB_PIXEL_MEAN, IMAGENET_RGB_PIXEL_STD
from pointdet.modeling.meta_arch import FCOS
from pointdet.modeling.roi_heads import MobileNetV2Res5ROIHeads

MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "configs", "common", "models")
DATASET = "pointdet_test_detectors_tiny_boxes"
SIZE = 64


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    """4 images of 64x64 with 1-2 coloured boxes each, the last one without objects."""
    root = tmp_path_factory.mktemp("tiny_boxes")
    rng = np.random.default_rng(0)
    boxes = [[(6, 8, 28, 24)], [(8, 30, 22, 26), (36, 6, 22, 20)], [(20, 18, 30, 30)], []]
    dicts = []
    for i, image_boxes in enumerate(boxes):
        img = (rng.integers(0, 64, (SIZE, SIZE, 3))).astype(np.uint8)
        annos = []
        for x0, y0, w, h in image_boxes:
            img[y0 : y0 + h, x0 : x0 + w] = (40, 90 + 30 * i, 220)
            annos.append({"bbox": [x0, y0, w, h], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0, "iscrowd": 0})
        path = str(root / f"{i}.png")
        cv2.imwrite(path, img)
        dicts.append({"file_name": path, "image_id": i, "height": SIZE, "width": SIZE, "annotations": annos})
    DatasetCatalog.register(DATASET, lambda: copy.deepcopy(dicts))
    MetadataCatalog.get(DATASET).set(thing_classes=["box"], evaluator_type="coco")
    yield DATASET
    DatasetCatalog.remove(DATASET)
    MetadataCatalog.remove(DATASET)


def _no_weights(node):
    """Random init: every ``weights`` path of the model config set to None (in place)."""
    if hasattr(node, "items"):
        for k, v in node.items():
            if k == "weights" and isinstance(v, str):
                node[k] = None
            else:
                _no_weights(v)
    return node


def _load_model_cfg(name):
    return _no_weights(LazyConfig.load(os.path.join(MODELS_DIR, name)).model)


def _slim_dense(model, channels=32):
    from configs.common.models.retinanet_mnv2_fpn import slim_head

    return slim_head(model, channels=channels, num_convs=1)


def _yacs_common(cfg):
    pointdet.add_pointdet_config(cfg)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.PIXEL_MEAN = list(IMAGENET_RGB_PIXEL_MEAN)
    cfg.MODEL.PIXEL_STD = list(IMAGENET_RGB_PIXEL_STD)
    cfg.INPUT.FORMAT = "RGB"
    cfg.INPUT.MIN_SIZE_TEST = SIZE  # no resize: the predictor sees the pixels the LazyConfig model sees
    cfg.MODEL.MOBILENETV2.NORM = "FrozenBN"
    cfg.MODEL.MOBILENETV2.FREEZE_AT = 0
    return cfg


# ---- per detector: narrow LazyConfig model, and the yacs config of the same architecture ----
def _retinanet_lazy():
    m = _slim_dense(_load_model_cfg("retinanet_mnv2_fpn.py"))
    m.num_classes = 1
    m.test_score_thresh = 0.0  # detections from an untrained model, to compare predictions
    return m


def _retinanet_yacs(cfg, lazy):
    cfg.MODEL.META_ARCHITECTURE = "RetinaNet"
    cfg.MODEL.BACKBONE.NAME = "build_retinanet_mobilenetv2_fpn_backbone"
    cfg.MODEL.MOBILENETV2.OUT_FEATURES = ["res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res3", "res4", "res5"]
    cfg.MODEL.FPN.OUT_CHANNELS = 32
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [list(s) for s in lazy.anchor_generator.sizes]
    cfg.MODEL.RETINANET.NUM_CLASSES = 1
    cfg.MODEL.RETINANET.NUM_CONVS = 1
    cfg.MODEL.RETINANET.SCORE_THRESH_TEST = 0.0


def _fcos_lazy():
    m = _slim_dense(_load_model_cfg("fcos_mnv2_fpn.py"), channels=64)  # GN(32): 2 values per group on 1x1 P7
    m.num_classes = 1
    m.test_score_thresh = 0.0
    return m


def _fcos_yacs(cfg, lazy):
    cfg.MODEL.META_ARCHITECTURE = "FCOS"
    cfg.MODEL.BACKBONE.NAME = "build_retinanet_mobilenetv2_fpn_backbone"
    cfg.MODEL.MOBILENETV2.OUT_FEATURES = ["res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res3", "res4", "res5"]
    cfg.MODEL.FPN.OUT_CHANNELS = 64
    cfg.MODEL.FCOS.NUM_CLASSES = 1
    cfg.MODEL.FCOS.NUM_CONVS = 1
    cfg.MODEL.FCOS.SCORE_THRESH_TEST = 0.0


def _rcnn_small(m):
    m.roi_heads.num_classes = 1
    m.roi_heads.batch_size_per_image = 16
    m.roi_heads.box_predictor.test_score_thresh = 0.0
    m.proposal_generator.pre_nms_topk = (256, 128)
    m.proposal_generator.post_nms_topk = (64, 32)
    return m


def _rcnn_yacs_small(cfg):
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    cfg.MODEL.RPN.PRE_NMS_TOPK_TEST = 128
    cfg.MODEL.RPN.POST_NMS_TOPK_TEST = 32
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 1
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.0


def _faster_rcnn_fpn_lazy():
    from configs.common.models.faster_rcnn_mnv2_fpn import set_fpn_channels

    m = _rcnn_small(set_fpn_channels(_load_model_cfg("faster_rcnn_mnv2_fpn.py"), 32))
    m.roi_heads.box_head.fc_dims = [64, 64]
    m.roi_heads.box_predictor.input_shape = ShapeSpec(channels=64)
    return m


def _faster_rcnn_fpn_yacs(cfg, lazy):
    _rcnn_yacs_small(cfg)
    cfg.MODEL.BACKBONE.NAME = "build_mobilenetv2_fpn_backbone"
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.OUT_CHANNELS = 32
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[32], [64], [128], [256], [512]]
    cfg.MODEL.RPN.IN_FEATURES = ["p2", "p3", "p4", "p5", "p6"]
    cfg.MODEL.ROI_HEADS.NAME = "StandardROIHeads"
    cfg.MODEL.ROI_HEADS.IN_FEATURES = ["p2", "p3", "p4", "p5"]
    cfg.MODEL.ROI_BOX_HEAD.NAME = "FastRCNNConvFCHead"
    cfg.MODEL.ROI_BOX_HEAD.NUM_FC = 2
    cfg.MODEL.ROI_BOX_HEAD.FC_DIM = 64
    cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION = 7
    cfg.MODEL.ROI_BOX_HEAD.POOLER_TYPE = "ROIAlignV2"


def _faster_rcnn_c4_lazy():
    return _rcnn_small(_load_model_cfg("faster_rcnn_mnv2_c4.py"))


def _faster_rcnn_c4_yacs(cfg, lazy):
    _rcnn_yacs_small(cfg)
    cfg.MODEL.BACKBONE.NAME = "build_mobilenetv2_backbone"
    cfg.MODEL.MOBILENETV2.OUT_FEATURES = ["res4"]
    cfg.MODEL.RPN.IN_FEATURES = ["res4"]
    cfg.MODEL.ROI_HEADS.NAME = "MobileNetV2Res5ROIHeads"
    cfg.MODEL.ROI_HEADS.IN_FEATURES = ["res4"]
    cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION = 14
    cfg.MODEL.ROI_BOX_HEAD.POOLER_TYPE = "ROIAlignV2"


@dataclass
class Detector:
    lazy: Callable
    yacs: Callable
    stock_class: type
    loss_names: tuple
    lr: float = 0.01


DETECTORS = {
    "retinanet": Detector(_retinanet_lazy, _retinanet_yacs, RetinaNet, ("loss_cls", "loss_box_reg")),
    # FCOS clamps regressed distances at 0 (Box2BoxTransformLinear): at lr 0.01 five steps on
    # this tiny set drive every distance below 0, and the empty boxes are dropped at inference
    "fcos": Detector(_fcos_lazy, _fcos_yacs, D2FCOS, ("loss_fcos_cls", "loss_fcos_loc", "loss_fcos_ctr"), lr=1e-3),
    "faster_rcnn_fpn": Detector(
        _faster_rcnn_fpn_lazy, _faster_rcnn_fpn_yacs, GeneralizedRCNN,
        ("loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg"),
    ),
    "faster_rcnn_c4": Detector(
        _faster_rcnn_c4_lazy, _faster_rcnn_c4_yacs, GeneralizedRCNN,
        ("loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg"),
    ),
}


def _train(model, dataset, iters, lr=0.01):
    """``iters`` SGD iterations with Detectron2's SimpleTrainer; returns its EventStorage."""
    dicts = DatasetCatalog.get(dataset)
    loader = build_detection_train_loader(
        dataset=dicts,
        mapper=DatasetMapper(is_train=True, augmentations=[], image_format="RGB"),
        sampler=TrainingSampler(len(dicts), shuffle=True, seed=0),
        total_batch_size=2,
        num_workers=0,
    )
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    trainer = SimpleTrainer(model, loader, optimizer)
    trainer.train(0, iters)
    return trainer.storage


def _as_input(image_bgr):
    """What DefaultPredictor feeds an RGB model for ``image_bgr`` (no resize at this size)."""
    rgb = image_bgr[:, :, ::-1]
    return {"image": torch.as_tensor(rgb.astype("float32").transpose(2, 0, 1)), "height": SIZE, "width": SIZE}


@pytest.mark.parametrize("name", list(DETECTORS))
def test_detector_trains_evaluates_and_loads_into_default_predictor(name, tiny_dataset, tmp_path):
    spec = DETECTORS[name]
    torch.manual_seed(0)
    lazy_cfg = spec.lazy()
    model = instantiate(lazy_cfg)
    assert isinstance(model, spec.stock_class)

    # train 5 iterations: every loss finite at every iteration, trainable weights move
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    storage = _train(model, tiny_dataset, iters=5, lr=spec.lr)
    for loss in spec.loss_names:
        values = [v for v, _ in storage.history(loss).values()]
        assert len(values) == 5 and np.isfinite(values).all(), (loss, values)
    moved = [k for k, v in model.state_dict().items() if not torch.equal(v, initial[k])]
    assert any(k.startswith("backbone.") for k in moved) and any(not k.startswith("backbone.") for k in moved)

    # evaluate (COCO box AP) on the tiny set
    model.eval()
    results = inference_on_dataset(
        model,
        build_detection_test_loader(
            dataset=DatasetCatalog.get(tiny_dataset),
            mapper=DatasetMapper(is_train=False, augmentations=[], image_format="RGB"),
            num_workers=0,
        ),
        COCOEvaluator(tiny_dataset, tasks=("bbox",), distributed=False, output_dir=str(tmp_path / "eval"), use_fast_impl=False),
    )
    assert 0.0 <= results["bbox"]["AP"] <= 100.0 and 0.0 <= results["bbox"]["AP50"] <= 100.0

    # checkpoint -> the stock architecture from a yacs config, through DefaultPredictor
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("model_final")
    cfg = _yacs_common(get_cfg())
    spec.yacs(cfg, lazy_cfg)
    cfg.MODEL.WEIGHTS = str(tmp_path / "model_final.pth")
    predictor = DefaultPredictor(cfg)
    assert isinstance(predictor.model, spec.stock_class)
    saved, loaded = model.state_dict(), predictor.model.state_dict()
    assert list(loaded) == list(saved)
    for k in saved:
        assert torch.equal(loaded[k], saved[k]), k

    image = cv2.imread(DatasetCatalog.get(tiny_dataset)[1]["file_name"])
    predicted = predictor(image)["instances"]
    with torch.no_grad():
        expected = model([_as_input(image)])[0]["instances"]
    assert len(predicted) > 0 and len(predicted) == len(expected)
    assert torch.allclose(predicted.pred_boxes.tensor, expected.pred_boxes.tensor, atol=1e-3)
    assert torch.allclose(predicted.scores, expected.scores, atol=1e-5)
    assert torch.equal(predicted.pred_classes, expected.pred_classes)
    assert predicted.image_size == (SIZE, SIZE)


def test_registered_fcos_is_detectron2s_fcos():
    """pointdet's FCOS adds only the yacs constructor: no module, no behaviour."""
    assert FCOS.__mro__[1] is D2FCOS
    assert set(vars(FCOS)) - {"__module__", "__doc__", "__init__", "from_config", "__qualname__", "__firstlineno__", "__static_attributes__"} == set()


def test_fcos_yacs_defaults_equal_the_model_zoo_fcos():
    cfg = _yacs_common(get_cfg())
    cfg.MODEL.META_ARCHITECTURE = "FCOS"
    cfg.MODEL.BACKBONE.NAME = "build_retinanet_mobilenetv2_fpn_backbone"
    cfg.MODEL.MOBILENETV2.OUT_FEATURES = ["res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res3", "res4", "res5"]
    from detectron2.modeling import build_model

    yacs_model = build_model(cfg)
    lazy_model = instantiate(_load_model_cfg("fcos_mnv2_fpn.py"))
    for attr in ("num_classes", "head_in_features", "center_sampling_radius", "focal_loss_alpha", "focal_loss_gamma",
                 "test_score_thresh", "test_topk_candidates", "test_nms_thresh", "max_detections_per_image"):
        assert getattr(yacs_model, attr) == getattr(lazy_model, attr), attr
    assert repr(yacs_model.head) == repr(lazy_model.head)  # GN, 4 convs of 256, prior 0.01 (bias)
    assert torch.allclose(yacs_model.head.cls_score.bias, lazy_model.head.cls_score.bias)


def test_c4_roi_head_is_res5roiheads_with_mobilenetv2_res5():
    cfg = _yacs_common(get_cfg())
    _faster_rcnn_c4_yacs(cfg, None)
    from detectron2.modeling import build_model

    model = build_model(cfg)
    assert type(model.roi_heads) is MobileNetV2Res5ROIHeads and isinstance(model.roi_heads, Res5ROIHeads)
    assert set(vars(MobileNetV2Res5ROIHeads)) - {"__module__", "__doc__", "_build_res5_block", "__qualname__", "__firstlineno__", "__static_attributes__"} == set()
    # res5: MobileNetV2 features[14:18] (96 -> 320 channels, stride 2), predictor on 320-d
    x = torch.randn(3, 96, 14, 14)
    assert model.roi_heads.res5(x).shape == (3, 320, 7, 7)
    assert model.roi_heads.box_predictor.cls_score.in_features == 320
    assert model.backbone.output_shape()["res4"].stride == 16 and list(model.backbone.output_shape()) == ["res4"]
    lazy = instantiate(_load_model_cfg("faster_rcnn_mnv2_c4.py"))
    assert type(lazy.roi_heads) is Res5ROIHeads
    assert list(lazy.state_dict()) == list(model.state_dict())
    assert lazy.roi_heads.pooler.level_poolers[0].output_size == (14, 14)


@pytest.mark.parametrize(
    "name,shrink",
    [
        ("fcos_R_50_FPN.py", lambda m: m),
        # the pooled 14x14 RoIs through R-50's res5 dominate the cost: pool 4x4 for the test
        ("faster_rcnn_R_50_C4.py", lambda m: _shrink_c4(m)),
    ],
)
def test_r50_paper_bases_train(name, shrink, tiny_dataset):
    torch.manual_seed(0)
    cfg = shrink(_load_model_cfg(name))
    model = instantiate(cfg)
    assert model.pixel_mean.flatten().tolist() == pytest.approx([103.53, 116.28, 123.675])  # MSRA, BGR
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(".stem." in n or ".res2." in n for n in frozen)  # freeze_at = 2
    storage = _train(model, tiny_dataset, iters=2, lr=1e-4)
    assert np.isfinite(storage.history("total_loss").values()[-1][0])


def _shrink_c4(m):
    m = _rcnn_small(m)
    m.roi_heads.batch_size_per_image = 8
    m.roi_heads.pooler.output_size = 4
    return m
