import math

import numpy as np
import pytest
import torch
from torch import nn

from detectron2.config import get_cfg
from detectron2.engine import DefaultPredictor
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from pointdet.modeling.point_model import GroundTruthError
from tests.modeling.fixtures import TinyFPN, point_instances, tiny_p2pnet
from pointdet.modeling.p2pnet import (
    P2PHead,
    P2PNet,
    add_p2pnet_config,
    focal_classification_cost,
    point_grid,
    point_match_cost,
    topk_hungarian_match,
)

LOG2 = math.log(2.0)


def make_model(num_classes=2, **kwargs):
    torch.manual_seed(0)
    return tiny_p2pnet(num_classes, **kwargs)


def gt(points, classes, size=(64, 64)):
    return point_instances(points, classes, size)


# ---------------------------------------------------------------- matcher

def test_focal_classification_cost_hand_values():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p = 0.5, 0.75
    cost = focal_classification_cost(logits, torch.tensor([0, 1]))
    # p = 0.5: 0.25 * 0.25 * log2 - 0.75 * 0.25 * log2 = -0.125 log 2
    # p = 0.75: 0.25 * 0.0625 * -log(0.75) - 0.75 * 0.5625 * -log(0.25)
    exp1 = 0.25 * 0.0625 * -math.log(0.75) - 0.75 * 0.5625 * -math.log(0.25)
    assert cost.shape == (1, 2)
    assert cost[0, 0].item() == pytest.approx(-0.125 * LOG2, abs=1e-6)
    assert cost[0, 1].item() == pytest.approx(exp1, abs=1e-6)


def test_point_match_cost_weights_and_l1():
    logits = torch.zeros(2, 1)
    cost = point_match_cost(
        logits, torch.tensor([[0.0, 0.0], [3.0, 4.0]]), torch.tensor([[1.0, 1.0]]), torch.tensor([0])
    )
    cls = 2.0 * -0.125 * LOG2
    assert cost[:, 0].tolist() == pytest.approx([cls + 0.1 * 2.0, cls + 0.1 * 5.0], abs=1e-6)


COST = torch.tensor([[1.0, 9.0], [2.0, 8.0], [9.0, 1.0], [3.0, 3.0], [9.0, 2.0]])


def test_topk_hungarian_rounds_and_early_stop():
    p, g = topk_hungarian_match(COST, k=5)
    # round 1: 0->GT0, 2->GT1; round 2 over {1,3,4}: 1->GT0, 4->GT1 (cost 4 < 5);
    # then one prediction is left for two GTs: stop.
    assert sorted(zip(p.tolist(), g.tolist())) == [(0, 0), (1, 0), (2, 1), (4, 1)]
    p1, g1 = topk_hungarian_match(COST, k=1)
    assert sorted(zip(p1.tolist(), g1.tolist())) == [(0, 0), (2, 1)]


def test_topk_hungarian_exhausts_predictions_and_edge_cases():
    cost = torch.tensor([[1.0], [2.0], [3.0]])
    p, g = topk_hungarian_match(cost, k=5)
    assert p.tolist() == [0, 1, 2] and g.tolist() == [0, 0, 0]
    p, g = topk_hungarian_match(cost, k=2)
    assert p.tolist() == [0, 1]
    # fewer predictions than GTs: the first round still matches them
    p, g = topk_hungarian_match(torch.tensor([[5.0, 1.0]]), k=5)
    assert p.tolist() == [0] and g.tolist() == [1]
    p, g = topk_hungarian_match(torch.zeros(4, 0), k=5)
    assert p.numel() == 0 and g.numel() == 0
    with pytest.raises(ValueError):
        topk_hungarian_match(torch.tensor([[float("nan")]]))


# ---------------------------------------------------------------- anchors and head

def test_point_grid_centre_and_reference_conventions():
    g = point_grid(2, 3, 8, [(0.5, 0.5)])
    assert g.tolist() == [[4, 4], [12, 4], [20, 4], [4, 12], [12, 12], [20, 12]]
    g0 = point_grid(1, 2, 4, [(0.0, 0.0)])
    assert g0.tolist() == [[0, 0], [4, 0]]


def test_head_shapes_and_prior_init():
    head = P2PHead(input_shape=ShapeSpec(channels=32, stride=8), num_classes=3, num_convs=2, conv_dims=32)
    cls, reg = head(torch.randn(2, 32, 5, 7))
    assert cls.shape == (2, 3, 5, 7) and reg.shape == (2, 2, 5, 7)
    assert head.cls_score.bias[0].item() == pytest.approx(-math.log(99), abs=1e-5)
    assert any(isinstance(m, nn.GroupNorm) for m in head.cls_tower)


# ---------------------------------------------------------------- losses

def _three_cells():
    # one image, 3 valid cells, stride 8, K = 2, all logits 0 (p = 0.5)
    logits = torch.zeros(1, 3, 2)
    points = torch.tensor([[[4.0, 4.0], [12.0, 4.0], [20.0, 4.0]]])
    valid = torch.ones(1, 3, dtype=torch.bool)
    return logits, points, valid


def test_losses_hand_values():
    model = make_model(match_topk=1)
    logits, points, valid = _three_cells()
    losses = model.losses(logits, points, valid, [gt([[13.0, 4.4]], [1])])
    # cell 1 is the only positive (nearest); focal: 5 negatives 0.75*0.25*log2 and one
    # positive 0.25*0.25*log2 -> log 2 in total; normaliser 1.
    assert losses["loss_cls"].item() == pytest.approx(LOG2, abs=1e-6)
    # smooth-L1 (beta 1/9) on /8: dx = 1/8 >= beta -> 1/8 - 1/18; dy = 0.05 -> 0.5*0.05^2*9
    exp = 0.5 * ((0.125 - 0.5 / 9) + 0.5 * 0.05 ** 2 * 9)
    assert losses["loss_point"].item() == pytest.approx(exp, abs=1e-6)


def test_losses_topk_normalisation_and_empty_image():
    model = make_model(match_topk=2)
    logits, points, valid = _three_cells()
    logits2 = torch.cat([logits, logits])
    points2 = torch.cat([points, points])
    valid2 = torch.cat([valid, valid])
    losses = model.losses(logits2, points2, valid2, [gt([[12.0, 4.0]], [0]), gt([], [])])
    # 2 positives in image 0 (cells 1 then 0 or 2), 10 negative entries over the batch
    exp_cls = (2 * 0.25 * 0.25 * LOG2 + 10 * 0.75 * 0.25 * LOG2) / 2
    assert losses["loss_cls"].item() == pytest.approx(exp_cls, abs=1e-6)
    # second positive is 8 px away: |d| = 1 stride -> 1 - 1/18, cell 1 exact -> 0
    assert losses["loss_point"].item() == pytest.approx(0.5 * (1 - 0.5 / 9) / 2, abs=1e-6)
    # only empty images: all negatives, normaliser 1, no NaN
    losses = model.losses(logits, points, valid, [gt([], [])])
    assert losses["loss_cls"].item() == pytest.approx(6 * 0.75 * 0.25 * LOG2, abs=1e-6)
    assert losses["loss_point"].item() == 0.0


def test_invalid_cells_are_ignored():
    model = make_model(match_topk=1)
    logits, points, valid = _three_cells()
    valid[0, 1] = False
    logits[0, 1] = 5.0  # would dominate the loss if counted
    losses = model.losses(logits, points, valid, [gt([[13.0, 4.0]], [1])])
    # cell 1 invalid -> cell 2 (20, 4) is matched (L1 7 < 9)
    exp_cls = 0.25 * 0.25 * LOG2 + 3 * 0.75 * 0.25 * LOG2
    assert losses["loss_cls"].item() == pytest.approx(exp_cls, abs=1e-6)
    assert losses["loss_point"].item() == pytest.approx(0.5 * (7 / 8 - 0.5 / 9), abs=1e-6)


def test_ignored_and_invalid_points_are_background():
    model = make_model(match_topk=1)
    logits, points, valid = _three_cells()
    g = gt([[13.0, 4.4], [4.0, 4.0], [20.0, 4.0]], [1, 0, 0])
    g.gt_point_valid = torch.tensor([True, False, True])
    g.gt_point_ignore = torch.tensor([False, False, True])
    losses = model.losses(logits, points, valid, [g])
    assert losses["loss_cls"].item() == pytest.approx(LOG2, abs=1e-6)  # as one single GT
    assert losses["loss_point"].item() == pytest.approx(0.5 * ((0.125 - 0.5 / 9) + 0.5 * 0.05 ** 2 * 9), abs=1e-6)


def test_valid_cells_mask():
    model = make_model()
    v = model.valid_cells([(16, 24), (9, 8)], 2, 3)
    assert v[0].tolist() == [True] * 6
    assert v[1].tolist() == [True, False, False, True, False, False]


# ---------------------------------------------------------------- inference

def test_inference_rescale_nms_and_threshold():
    model = make_model(num_classes=2).eval()
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    logits = torch.tensor(
        [[logit(0.9), logit(0.01)], [logit(0.8), logit(0.6)], [logit(0.02), logit(0.03)], [logit(0.7), -9]]
    )
    points = torch.tensor([[10.0, 10.0], [15.0, 10.0], [40.0, 40.0], [-5.0, 120.0]])
    res = model.inference_single_image(logits, points, (100, 50), (200, 100))
    # scaled by 2: (20,20) c0 .9, (30,20) c0 .8 suppressed (10 px), (30,20) c1 .6 kept,
    # cell 2 below 0.05, clamped (0,100)->(0,200) c0 .7
    assert res.image_size == (200, 100)
    assert res.scores.tolist() == pytest.approx([0.9, 0.7, 0.6], abs=1e-6)
    assert res.pred_classes.tolist() == [0, 0, 1]
    assert res.pred_points.tolist() == [[20.0, 20.0], [0.0, 200.0], [30.0, 20.0]]
    assert res.pred_boxes.tensor[0].tolist() == [4.0, 4.0, 36.0, 36.0]
    assert torch.allclose(res.pred_boxes.get_centers(), res.pred_points)
    model.max_detections_per_image = 1
    assert len(model.inference_single_image(logits, points, (100, 50), (200, 100))) == 1


def test_inference_keeps_top_1000_cells_by_max_class_score():
    """nms_pre: of 1,500 cells only the 1,000 with the highest *max* class score reach the threshold.

    Cell i (in a shuffled order) has max score 0.9 - 0.0005 i, on class 0 for even i and class 1
    for odd i, and 0.06 (> 0.05) on the other class; the cells lie 100 px apart, so NMS keeps all.
    """
    model = make_model(num_classes=2, max_detections_per_image=5000)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    n = 1500
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    logits = torch.empty(n, 2)
    points = torch.empty(n, 2)
    for rank in range(n):
        cell = perm[rank]
        top, other = logit(0.9 - 0.0005 * rank), logit(0.06)
        logits[cell] = torch.tensor([top, other] if rank % 2 == 0 else [other, top])
        points[cell] = torch.tensor([50.0 + 100 * (rank % 40), 50.0 + 100 * (rank // 40)])
    res = model.inference_single_image(logits, points, (4000, 4000), (4000, 4000))
    assert len(res) == 2 * 1000  # both classes of each of the 1,000 kept cells
    kept = {tuple(p) for p in res.pred_points.tolist()}
    assert kept == {tuple(points[perm[r]].tolist()) for r in range(1000)}
    assert res.scores.min().item() == pytest.approx(0.06, abs=1e-6)
    assert sorted(res.scores.tolist(), reverse=True)[999] == pytest.approx(0.9 - 0.0005 * 999, abs=1e-6)
    model.test_topk_candidates = 2000
    assert len(model.inference_single_image(logits, points, (4000, 4000), (4000, 4000))) == 2 * n


def test_forward_with_more_than_1000_cells_keeps_1000():
    """264 x 264 px at stride 8 is 33 x 33 = 1,089 valid cells; the forward pass keeps the top 1,000."""
    torch.manual_seed(0)
    model = tiny_p2pnet(num_classes=1, test_score_thresh=0.0, test_nms_thresh=1.0, max_detections_per_image=5000)
    model.eval()
    image = {"image": torch.randint(0, 255, (3, 264, 264), generator=torch.Generator().manual_seed(0)).float()}
    with torch.no_grad():
        assert len(model([image])[0]["instances"]) == 1000
        model.test_topk_candidates = 1089
        assert len(model([image])[0]["instances"]) == 1089


def _inputs(with_points=True):
    torch.manual_seed(1)
    out = []
    for i, (h, w) in enumerate([(64, 48), (40, 56), (48, 48)]):
        d = {"image": torch.randint(0, 255, (3, h, w), dtype=torch.uint8).float(), "height": 2 * h, "width": 2 * w}
        if with_points:
            pts = [[10.0, 12.0], [30.0, 20.0]] if i == 0 else ([] if i == 1 else [[5.0, 40.0]])
            d["instances"] = gt(pts, [0, 1][: len(pts)] if i == 0 else [1] * len(pts), (h, w))
        out.append(d)
    return out


def test_end_to_end_train_with_empty_image_and_inference():
    model = make_model()
    model.train()
    with EventStorage():
        losses = model(_inputs())
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert model.head.cls_score.weight.grad is not None
    assert model.head.point_pred.weight.grad.abs().sum() > 0
    # a batch of only empty images
    batch = _inputs()
    for d in batch:
        d["instances"] = gt([], [], d["image"].shape[-2:])
    with EventStorage():
        losses = model(batch)
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_point"].item() == 0.0
    sum(losses.values()).backward()

    model.eval()
    model.test_score_thresh = 0.0
    with torch.no_grad():
        outs = model(_inputs(with_points=False))
    for d, o in zip(_inputs(False), outs):
        inst = o["instances"]
        assert inst.image_size == (d["height"], d["width"])
        assert 0 < len(inst) <= 100
        p = inst.pred_points
        assert (p[:, 0] >= 0).all() and (p[:, 0] <= d["width"]).all()
        assert (p[:, 1] >= 0).all() and (p[:, 1] <= d["height"]).all()
        assert set(inst.get_fields()) == {"pred_points", "scores", "pred_classes", "pred_boxes"}


def test_training_learns_a_point():
    """A few Adam steps on one image must decrease the loss (the model can learn)."""
    model = make_model(num_classes=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = [{"image": torch.full((3, 32, 32), 100.0), "instances": gt([[13.0, 21.0]], [0], (32, 32))}]
    batch[0]["image"][:, 16:24, 8:16] = 255.0
    first = None
    with EventStorage():
        for _ in range(30):
            loss = sum(model(batch).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first


def test_missing_gt_points_raises():
    model = make_model()
    batch = _inputs()
    batch[0]["instances"].remove("gt_points")
    batch[0]["image_id"] = 7
    with EventStorage(), pytest.raises(GroundTruthError, match="image 7 lack gt_points"):
        model(batch)
    del batch[1]["instances"]
    batch[0]["instances"] = gt([[1.0, 2.0]], [0], (64, 48))
    batch[1]["file_name"] = "b.png"
    with EventStorage(), pytest.raises(GroundTruthError, match="'instances'.*image b.png"):
        model(batch)


# ---------------------------------------------------------------- yacs / DefaultPredictor

def tiny_yacs_cfg():
    cfg = get_cfg()
    add_p2pnet_config(cfg)
    cfg.MODEL.META_ARCHITECTURE = "P2PNet"
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = ""
    cfg.MODEL.BACKBONE.NAME = "build_resnet_fpn_backbone"
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.OUT_CHANNELS = 32
    cfg.MODEL.P2PNET.NUM_CLASSES = 3
    cfg.MODEL.P2PNET.CONV_DIMS = 32
    cfg.MODEL.P2PNET.NUM_CONVS = 1
    cfg.INPUT.MIN_SIZE_TEST = 64
    cfg.INPUT.MAX_SIZE_TEST = 96
    return cfg


def test_default_predictor_yacs():
    cfg = tiny_yacs_cfg()
    torch.manual_seed(0)
    predictor = DefaultPredictor(cfg)
    assert isinstance(predictor.model, P2PNet)
    assert predictor.model.stride == 8
    predictor.model.test_score_thresh = 0.0
    img = np.random.RandomState(0).randint(0, 255, (80, 120, 3)).astype(np.uint8)
    out = predictor(img)["instances"]
    assert out.image_size == (80, 120)
    assert 0 < len(out) <= cfg.TEST.DETECTIONS_PER_IMAGE
    assert out.pred_points.shape[1] == 2
    assert (out.pred_points[:, 0] <= 120).all() and (out.pred_points[:, 1] <= 80).all()


def test_yacs_train_forward_p2():
    cfg = tiny_yacs_cfg()
    cfg.MODEL.P2PNET.IN_FEATURE = "p2"
    model = build_model(cfg)
    assert model.stride == 4
    model.train()
    with EventStorage():
        losses = model(_inputs())
    assert all(torch.isfinite(v) for v in losses.values())


def test_unknown_feature_raises():
    backbone = TinyFPN()
    head = P2PHead(input_shape=backbone.output_shape()["p3"], num_classes=1, conv_dims=8, norm="")
    with pytest.raises(KeyError, match="p4"):
        P2PNet(backbone=backbone, head=head, num_classes=1, in_feature="p4", pixel_mean=[0] * 3, pixel_std=[1] * 3)


# ---------------------------------------------------------------- LazyConfigs

def _load_lazy(path):
    import os

    from detectron2.config import LazyConfig

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return LazyConfig.load(os.path.join(root, path))


def test_lazyconfig_coco_paper_setting():
    from detectron2.config import instantiate

    cfg = _load_lazy("configs/CPR/p2pnet_R_50_FPN_1x_coco400_coarse.py")
    assert cfg.model.in_feature == "p3" and cfg.model.head.num_convs == 4
    assert cfg.optimizer.lr == 1e-4
    assert cfg.train.max_iter == 12 * (118287 // 64)
    assert cfg.dataloader.evaluator.max_dets == [100]
    # a narrow R-18 instead of R-50 keeps the test fast; everything else as configured
    cfg.model.backbone.bottom_up.stages.depth = 18
    del cfg.model.backbone.bottom_up.stages.stride_in_1x1  # bottleneck-only option
    cfg.model.backbone.out_channels = 32
    cfg.model.head.input_shape.channels = 32
    cfg.model.head.conv_dims = 32
    cfg.model.head.num_convs = 1
    model = instantiate(cfg.model)
    assert isinstance(model, P2PNet) and model.stride == 8
    cfg.optimizer.params.model = model
    opt = instantiate(cfg.optimizer)
    model.train()
    batch = _inputs()
    for d in batch:
        d["image"] = d["image"][[2, 1, 0]]
    with EventStorage():
        losses = model(batch)
    sum(losses.values()).backward()
    opt.step()


def _write_tile(tmp_path, name, size=96):
    import cv2

    img = np.random.RandomState(len(name)).randint(0, 255, (size, size, 3)).astype(np.uint8)
    path = str(tmp_path / name)
    cv2.imwrite(path, img)
    return path


def _point_dicts(tmp_path):
    """Two synthetic dataset dicts (one with points, one without) in the loader's format."""
    return [
        {"file_name": _write_tile(tmp_path, "a.png"), "height": 96, "width": 96, "image_id": 1,
         "annotations": [{"id": 1, "category_id": 0, "iscrowd": 0, "point": [20.0, 30.0]},
                         {"id": 2, "category_id": 0, "iscrowd": 0, "point": [70.0, 60.0]}]},
        {"file_name": _write_tile(tmp_path, "b.png"), "height": 96, "width": 96, "image_id": 2,
         "annotations": []},
    ]


def _small(cfg):
    """Random-init backbone and a 256-px resize: the configs' models, cheaper."""
    import detectron2.data.transforms as T
    from detectron2.config import LazyCall as L

    cfg.model.backbone.bottom_up.weights = None
    augs = [L(T.ResizeShortestEdge)(short_edge_length=128, max_size=256)]
    cfg.dataloader.train.mapper.augmentations = augs
    cfg.dataloader.test.mapper.augmentations = augs
    return cfg


def _train_and_infer(cfg, tmp_path):
    from detectron2.config import instantiate

    model = instantiate(cfg.model)
    train_mapper = instantiate(cfg.dataloader.train.mapper)
    test_mapper = instantiate(cfg.dataloader.test.mapper)
    dicts = _point_dicts(tmp_path)
    batch = [train_mapper(d) for d in dicts]
    model.train()
    with EventStorage():
        losses = model(batch)
    assert all(torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        outs = model([test_mapper(d) for d in dicts])
    return model, batch, outs


def test_lazyconfig_p2pnet_trees_coarse(tmp_path):
    from detectron2.config import instantiate

    cfg = _small(_load_lazy("configs/CPR/p2pnet_mnv2_fpn_trees_coarse.py"))
    assert cfg.dataloader.train.dataset.names == "pointdet_trees_train_coarse_points_s0"
    assert cfg.dataloader.test.dataset.names == "pointdet_trees_val"
    model, batch, outs = _train_and_infer(cfg, tmp_path)
    assert isinstance(model, P2PNet) and model.num_classes == 1 and model.stride == 8
    assert batch[0]["instances"].gt_points.shape == (2, 2) and len(batch[1]["instances"]) == 0
    assert outs[0]["instances"].image_size == (96, 96)
    evaluator = instantiate(cfg.dataloader.evaluator)
    assert type(evaluator).__name__ == "PointAPEvaluator"
    cfg.optimizer.params.model = model
    instantiate(cfg.optimizer).step()


def test_lazyconfig_p2pnet_trees_refined_registers_file(tmp_path):
    from detectron2.config import instantiate
    from detectron2.data import MetadataCatalog

    for name in ("p2pnet_mnv2_fpn_trees_refined.py", "p2pnet_mnv2_fpn_trees_self_refined.py"):
        cfg = _small(_load_lazy("configs/CPR/" + name))
        assert cfg.dataloader.train.dataset.json_file.startswith("output/cpr/")
        assert "trees_train_" in cfg.dataloader.train.dataset.json_file
        assert cfg.dataloader.test.dataset.names == "pointdet_trees_val"
    d = _point_dicts(tmp_path)
    coco = {
        "images": [{"id": x["image_id"], "file_name": x["file_name"].split("/")[-1], "height": 96, "width": 96} for x in d],
        "categories": [{"id": 1, "name": "tree"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "point": [21.5, 30.0],
                         "coarse_point": [20.0, 30.0]}],
    }
    json_file = tmp_path / "refined.json"
    json_file.write_text(__import__("json").dumps(coco))
    cfg.dataloader.train.dataset.json_file = str(json_file)
    cfg.dataloader.train.dataset.image_root = str(tmp_path)
    dicts = instantiate(cfg.dataloader.train.dataset)
    assert [x["image_id"] for x in dicts] == [1, 2]
    assert dicts[0]["annotations"][0]["point"] == [21.5, 30.0] and dicts[0]["annotations"][0]["category_id"] == 0
    assert MetadataCatalog.get(cfg.dataloader.train.dataset.dataset_name).thing_classes == ["tree"]


@pytest.mark.parametrize("name", ["retinanet_pseudobox_mnv2_fpn_trees.py", "faster_rcnn_pseudobox_mnv2_fpn_trees.py"])
def test_lazyconfig_pseudobox_detectors(tmp_path, name):
    from pointdet.evaluation.point_ap import PointAPEvaluator

    cfg = _small(_load_lazy("configs/CPR/" + name))
    assert cfg.dataloader.train.mapper.pseudo_box_size == 16
    if "retinanet" in name:
        cfg.model.test_score_thresh = 0.0
    else:
        cfg.model.roi_heads.box_predictor.test_score_thresh = 0.0
    model, batch, outs = _train_and_infer(cfg, tmp_path)
    # 16-px pseudo boxes centred on the points, scaled with the image (96 -> 128: x 4/3)
    boxes = batch[0]["instances"].gt_boxes.tensor
    s = 128 / 96
    assert torch.allclose(boxes[0], torch.tensor([12.0, 22.0, 28.0, 38.0]) * s, atol=1e-4)
    assert torch.allclose(batch[0]["instances"].gt_boxes.get_centers(), batch[0]["instances"].gt_points, atol=1e-4)
    assert outs[0]["instances"].has("pred_boxes")
    # the point evaluator scores these detectors through their box centres
    ev = PointAPEvaluator("pointdet_trees_val", distributed=False)
    ev.reset()
    ev.process([{"image_id": 1}], [outs[0]])
    if len(outs[0]["instances"]):
        c = outs[0]["instances"].pred_boxes.get_centers()[0].tolist()
        assert ev._predictions[0]["point"] == pytest.approx(c)
