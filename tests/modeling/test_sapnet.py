"""SAPNet end to end on tiny inputs: training step (with an image without points and padded
proposal bags), the selection's consistency, and a checkpoint served by the plain SOLOv2 through
DefaultPredictor."""
import numpy as np
import pytest
import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import DefaultPredictor
from detectron2.modeling import build_model
from detectron2.structures import BitMasks, Instances
from detectron2.utils.events import EventStorage
from torchvision.ops import box_iou

from pointdet.modeling.sapnet import SAPNet
from pointdet.modeling.solov2 import SOLOv2
from tests.modeling.test_solov2 import tiny_cfg


def sapnet_cfg():
    cfg = tiny_cfg()
    cfg.MODEL.META_ARCHITECTURE = "SAPNet"
    cfg.MODEL.SAPNET.FC_DIM = 16
    cfg.MODEL.SAPNET.NUM_RANDOM_NEGATIVES = 20
    cfg.MODEL.SAPNET.PART_NEG_MIN_AREA = 100.0
    return cfg


def _rect(h, w, x1, y1, x2, y2):
    m = torch.zeros(h, w, dtype=torch.bool)
    m[y1:y2, x1:x2] = True
    return m


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    H, W = 64, 96
    inst = Instances((H, W))
    inst.gt_points = torch.tensor([[12.0, 12.0], [20.0, 14.0], [60.0, 40.0]])
    inst.gt_classes = torch.tensor([0, 0, 1])
    rects = [
        [(8, 6, 18, 18), (4, 4, 26, 22), (10, 10, 14, 14), (6, 6, 16, 16), (2, 2, 30, 30), (8, 8, 20, 18)],
        [(16, 8, 26, 20), (4, 4, 26, 22), (18, 12, 22, 16), (14, 6, 28, 22), (10, 2, 30, 30), (16, 10, 24, 18)],
        [(50, 30, 70, 50), (40, 20, 90, 60), (58, 38, 62, 42), (45, 25, 75, 55), (52, 34, 68, 46), (0, 0, 0, 0)],
    ]
    masks = torch.stack([torch.stack([_rect(H, W, *r) for r in obj]) for obj in rects])  # (3, 6, H, W)
    inst.gt_proposal_masks = masks
    inst.gt_proposal_boxes = BitMasks(masks.flatten(0, 1)).get_bounding_boxes().tensor.view(3, 6, 4)
    valid = torch.ones(3, 6, dtype=torch.bool)
    valid[2, 5] = False  # padding of a bag of 5
    inst.gt_proposal_valid = valid
    empty = Instances((48, 48))
    empty.gt_points = torch.zeros(0, 2)
    empty.gt_classes = torch.zeros(0, dtype=torch.long)
    empty.gt_proposal_boxes = torch.zeros(0, 6, 4)
    empty.gt_proposal_valid = torch.zeros(0, 6, dtype=torch.bool)
    empty.gt_proposal_masks = torch.zeros(0, 6, 48, 48, dtype=torch.bool)
    return [
        {"image": torch.randint(0, 255, (3, H, W), generator=g).float(), "instances": inst, "image_id": 1},
        {"image": torch.randint(0, 255, (3, 48, 48), generator=g).float(), "instances": empty, "image_id": 2},
    ]


EXPECTED = {"loss_mask", "loss_cls", "loss_psm", "loss_prm_pos", "loss_prm_neg"}


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_train_step(variant):
    cfg = sapnet_cfg()
    if variant == "reference":
        cfg.MODEL.SAPNET.PDG_MODE = "reference"
        cfg.MODEL.SAPNET.PDG_DISTANCE_POWER = 0.5
        cfg.MODEL.SAPNET.NEG_NORMALIZER = "bags"
        cfg.MODEL.SAPNET.BMS_IN_PSM = True
        cfg.MODEL.SAPNET.MPS_MODE = "reference"
    torch.manual_seed(0)
    model = build_model(cfg)
    assert isinstance(model, SAPNet)
    model.train()
    with EventStorage():
        losses = model(_inputs())
    assert set(losses) == EXPECTED
    assert all(torch.isfinite(v) for v in losses.values())
    assert all(losses[k] > 0 for k in EXPECTED)
    sum(losses.values()).backward()
    for p in (model.mil_head.fc1.weight, model.mil_head.psm_cls.weight, model.mil_head.prm_cls.weight,
              model.mil_head.prm_ins.weight, model.ins_head.kernel_pred.weight, model.mask_head.out[0].weight):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_only_images_without_points():
    torch.manual_seed(0)
    model = build_model(sapnet_cfg()).train()
    with EventStorage():
        losses = model(_inputs()[1:])
    assert set(losses) == EXPECTED
    assert losses["loss_psm"] == 0 and losses["loss_prm_pos"] == 0 and losses["loss_mask"] == 0
    sum(losses.values()).backward()  # every head stays in the graph
    assert model.mil_head.psm_cls.weight.grad is not None
    with pytest.raises(ValueError, match="image 9.*gt_proposal"):
        bad = _inputs()[:1]
        bad[0]["image_id"] = 9
        bad[0]["instances"].remove("gt_proposal_masks")
        model(bad)


def test_selection_is_consistent():
    torch.manual_seed(0)
    model = build_model(sapnet_cfg()).train()
    inputs = _inputs()
    images = model.preprocess_image(inputs)
    features, *_ = model.predict(images)
    objs = model._objects(inputs)
    _, sel = model.selection_losses(features, objs, images.image_sizes)
    boxes, valid = objs[0][2], objs[0][3]
    assert sel.box_prm.shape == (3, 4) and sel.prm_scores.shape == (3, 6)
    assert torch.equal(sel.box_psm, boxes[torch.arange(3), sel.top1_psm])
    assert valid[torch.arange(3), sel.top1_psm].all()  # the padded proposal is never chosen
    ious = box_iou(sel.box_prm, boxes.reshape(-1, 4)).view(3, 3, 6)[torch.arange(3), torch.arange(3)]
    ious[~valid] = -1
    assert torch.equal(sel.mask_index, ious.argmax(1))
    main, aux = model.mask_targets_from_selection(objs, sel, tuple(images.tensor.shape[-2:]))
    assert len(aux) == 3 and main[0][1].shape == (3,) + tuple(images.tensor.shape[-2:])
    assert torch.equal(main[0][1][0, :64, :96], objs[0][4][0, sel.mask_index[0]])


def test_checkpoint_serves_plain_solov2(tmp_path):
    cfg = sapnet_cfg()
    cfg.MODEL.SOLOV2.TEST.SCORE_THRESH = 0.0
    cfg.MODEL.SOLOV2.TEST.FILTER_THRESH = 0.0
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        model.ins_head.kernel_pred.bias.fill_(1.0)
    model.eval()
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("model_final")
    img = np.random.RandomState(1).randint(0, 255, (80, 120, 3)).astype(np.uint8)
    cfg.MODEL.META_ARCHITECTURE = "SOLOv2"
    cfg.MODEL.WEIGHTS = str(tmp_path / "model_final.pth")
    predictor = DefaultPredictor(cfg)
    assert type(predictor.model) is SOLOv2
    out = predictor(img)["instances"]
    assert len(out) > 0
    x = torch.as_tensor(predictor.aug.get_transform(img).apply_image(img).astype("float32")).permute(2, 0, 1)
    with torch.no_grad():
        ref = model([{"image": x, "height": 80, "width": 120}])[0]["instances"]
    assert torch.allclose(ref.scores, out.scores) and torch.equal(ref.pred_masks, out.pred_masks)


def test_single_mil_and_without_pnpg():
    cfg = sapnet_cfg()
    cfg.MODEL.SAPNET.USE_PRM = False
    torch.manual_seed(0)
    model = build_model(cfg).train()
    with EventStorage():
        losses = model(_inputs())
    assert set(losses) == {"loss_mask", "loss_cls", "loss_psm"}
    inputs = _inputs()
    sel = model.select(inputs)[0]
    assert torch.equal(sel["box_prm"], sel["box_psm"])  # the PSM's choice is final
    # the PRM on the SAM bag alone: no PPG boxes, no negatives, no BMS
    cfg = sapnet_cfg()
    cfg.MODEL.SAPNET.PPG_NUM_ENLARGE = 0
    cfg.MODEL.SAPNET.PPG_NUM_ADAPTIVE = 0
    cfg.MODEL.SAPNET.NUM_RANDOM_NEGATIVES = 0
    cfg.MODEL.SAPNET.PART_NEG_MIN_AREA = float("inf")
    cfg.MODEL.SAPNET.BMS_TOPK = 0
    torch.manual_seed(0)
    model = build_model(cfg).train()
    with EventStorage():
        losses = model(inputs)
    assert losses["loss_prm_neg"] == 0 and losses["loss_prm_pos"] > 0
    sel = model.select(inputs)[0]
    boxes = inputs[0]["instances"].gt_proposal_boxes
    assert all(any(torch.equal(b, p) for p in boxes[i]) for i, b in enumerate(sel["box_prm"]))  # a SAM box, unmined


def test_bags_of_different_sizes_across_images():
    inputs = _inputs()
    second = Instances((48, 48))
    second.gt_points = torch.tensor([[20.0, 20.0]])
    second.gt_classes = torch.tensor([1])
    masks = torch.stack([_rect(48, 48, *r) for r in [(15, 15, 25, 25), (10, 10, 30, 30), (18, 18, 22, 22), (5, 5, 40, 40)]])
    second.gt_proposal_masks = masks[None]
    second.gt_proposal_boxes = BitMasks(masks).get_bounding_boxes().tensor[None]
    second.gt_proposal_valid = torch.ones(1, 4, dtype=torch.bool)
    inputs[1]["instances"] = second  # M = 4 here, 6 in the first image
    torch.manual_seed(0)
    model = build_model(sapnet_cfg()).train()
    with EventStorage():
        losses = model(inputs)
    assert set(losses) == EXPECTED and all(torch.isfinite(v) for v in losses.values())
    sel = model.select(inputs)
    assert sel[1]["mask_index"].item() < 4 and sel[0]["box_prm"].shape == (3, 4)


def test_pdg_gets_the_annotated_points(monkeypatch):
    """PDG sees the stored points (never the proposals' or boxes' centres)."""
    import pointdet.modeling.sapnet.sapnet as sapnet_module

    seen = []
    real = sapnet_module.point_distance_guidance

    def spy(boxes, points, classes, **kw):
        seen.append(points.clone())
        return real(boxes, points, classes, **kw)

    monkeypatch.setattr(sapnet_module, "point_distance_guidance", spy)
    torch.manual_seed(0)
    model = build_model(sapnet_cfg()).train()
    inputs = _inputs()
    with EventStorage():
        model(inputs)
    assert len(seen) == 1 and torch.equal(seen[0], inputs[0]["instances"].gt_points)
