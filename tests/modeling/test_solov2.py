"""SOLOv2: hand-computed target assignment, tiny end-to-end training / inference, yacs route and
DefaultPredictor from a saved checkpoint."""
import numpy as np
import pytest
import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.engine import DefaultPredictor
from detectron2.modeling import build_model
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage

from pointdet.config import add_pointdet_config
from pointdet.modeling.solov2 import SOLOv2, solov2_level_targets


def _square(size=32, lo=8, hi=16):
    m = torch.zeros(1, size, size, dtype=torch.bool)
    m[0, lo:hi, lo:hi] = True
    return m


def test_level_targets_hand_computed():
    masks = _square()  # centre of mass (11.5, 11.5), box 8 px: sqrt(w h) = 8
    boxes = torch.tensor([[8.0, 8.0, 16.0, 16.0]])
    labels = torch.tensor([2])
    # S = 4 on 32 px: 8 px cells; centre cell (1, 1); region 11.5 +- 0.8 stays in it
    cate, owner = solov2_level_targets(boxes, masks, labels, 4, (1, 64), 0.2, num_classes=3)
    assert (cate == 2).nonzero().flatten().tolist() == [5]
    assert owner[5] == 0 and (owner >= 0).sum() == 1
    # pos_scale 1: region 11.5 +- 4 = [7.5, 15.5] -> rows/cols 0..1
    cate, owner = solov2_level_targets(boxes, masks, labels, 4, (1, 64), 1.0, num_classes=3)
    assert (cate == 2).nonzero().flatten().tolist() == [0, 1, 4, 5]
    # out of the scale range, and an empty mask: nothing
    cate, _ = solov2_level_targets(boxes, masks, labels, 4, (20, 64), 1.0, num_classes=3)
    assert (cate == 3).all()
    cate, _ = solov2_level_targets(boxes, torch.zeros_like(masks), labels, 4, (1, 64), 1.0, num_classes=3)
    assert (cate == 3).all()


def tiny_cfg():
    cfg = get_cfg()
    add_pointdet_config(cfg)
    cfg.MODEL.META_ARCHITECTURE = "SOLOv2"
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = ""
    cfg.MODEL.BACKBONE.NAME = "build_resnet_fpn_backbone"
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.OUT_CHANNELS = 16
    c = cfg.MODEL.SOLOV2
    c.NUM_CLASSES = 2
    c.NUM_GRIDS = [8, 6, 4, 4, 2]
    c.SCALE_RANGES = [[1, 24], [12, 48], [24, 96], [48, 192], [96, 2048]]
    c.FEAT_CHANNELS = 16
    c.STACKED_CONVS = 1
    c.MASK_FEAT_CHANNELS = 8
    c.MASK_OUT_CHANNELS = 8
    c.NUM_GROUPS = 4
    cfg.INPUT.MIN_SIZE_TEST = 64
    cfg.INPUT.MAX_SIZE_TEST = 96
    return cfg


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    inst = Instances((64, 96))
    masks = torch.zeros(2, 64, 96, dtype=torch.bool)
    masks[0, 4:20, 8:30] = True
    masks[1, 30:60, 40:90] = True
    inst.gt_masks = BitMasks(masks)
    inst.gt_boxes = BitMasks(masks).get_bounding_boxes()
    inst.gt_classes = torch.tensor([0, 1])
    empty = Instances((48, 48))
    empty.gt_masks = BitMasks(torch.zeros(0, 48, 48, dtype=torch.bool))
    empty.gt_boxes = Boxes(torch.zeros(0, 4))
    empty.gt_classes = torch.zeros(0, dtype=torch.long)
    return [
        {"image": torch.randint(0, 255, (3, 64, 96), generator=g).float(), "instances": inst, "image_id": 1},
        {"image": torch.randint(0, 255, (3, 48, 48), generator=g).float(), "instances": empty, "image_id": 2},
    ]


def test_train_step_with_an_empty_image():
    torch.manual_seed(0)
    model = build_model(tiny_cfg())
    assert isinstance(model, SOLOv2)
    model.train()
    with EventStorage():
        losses = model(_batch())
    assert set(losses) == {"loss_mask", "loss_cls"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert model.ins_head.kernel_pred.weight.grad.abs().sum() > 0
    assert model.mask_head.out[0].weight.grad.abs().sum() > 0
    # only the empty image: a zero mask loss that still reaches every parameter
    with EventStorage():
        losses = model(_batch()[1:])
    assert losses["loss_mask"].item() == 0.0 and losses["loss_cls"] > 0
    with pytest.raises(ValueError, match="image 7"):
        model([{"image": torch.zeros(3, 32, 32), "image_id": 7}])


def test_inference_and_default_predictor_from_checkpoint(tmp_path):
    cfg = tiny_cfg()
    cfg.MODEL.SOLOV2.TEST.SCORE_THRESH = 0.0
    cfg.MODEL.SOLOV2.TEST.FILTER_THRESH = 0.0
    cfg.MODEL.SOLOV2.TEST.MAX_PER_IMAGE = 7
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    with torch.no_grad():  # make the untrained masks non-empty: kernels along a constant direction
        model.ins_head.kernel_pred.bias.fill_(1.0)
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("model_final")
    img = np.random.RandomState(0).randint(0, 255, (80, 120, 3)).astype(np.uint8)
    cfg.MODEL.WEIGHTS = str(tmp_path / "model_final.pth")
    predictor = DefaultPredictor(cfg)
    out = predictor(img)["instances"]
    assert out.image_size == (80, 120)
    assert 0 < len(out) <= 7
    assert out.pred_masks.shape[1:] == (80, 120) and out.pred_masks.dtype == torch.bool
    assert torch.equal(out.pred_boxes.tensor, BitMasks(out.pred_masks).get_bounding_boxes().tensor)
    assert (out.scores[:-1] >= out.scores[1:]).all()
    # the same weights give the same output through the model itself
    resized = predictor.aug.get_transform(img).apply_image(img)  # cfg.INPUT.FORMAT is BGR: no flip
    x = torch.as_tensor(resized.astype("float32")).permute(2, 0, 1)
    with torch.no_grad():
        ref = model([{"image": x, "height": 80, "width": 120}])[0]["instances"]
    assert torch.allclose(ref.scores, out.scores) and torch.equal(ref.pred_masks, out.pred_masks)



def test_predictions_go_through_coco_and_score_aware_evaluation(tmp_path):
    """bbox and segm results of SOLOv2's output on the nuclei val tile (random weights)."""
    from detectron2.data import DatasetCatalog

    from pointdet.evaluation.score_aware_evaluator import ScoreAwareCOCOEvaluator

    cfg = tiny_cfg()
    cfg.MODEL.SOLOV2.NUM_CLASSES = 1
    cfg.MODEL.SOLOV2.TEST.SCORE_THRESH = 0.0
    cfg.MODEL.SOLOV2.TEST.FILTER_THRESH = 0.0
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    with torch.no_grad():
        model.ins_head.kernel_pred.bias.fill_(1.0)
    d = DatasetCatalog.get("pointdet_nuclei_val")[0]
    import cv2

    img = torch.as_tensor(cv2.imread(d["file_name"])[:, :, ::-1].copy()).permute(2, 0, 1).float()
    x = {"image": img, "image_id": d["image_id"], "height": d["height"], "width": d["width"]}
    with torch.no_grad():
        out = model([x])
    assert len(out[0]["instances"]) > 0
    ev = ScoreAwareCOCOEvaluator("pointdet_nuclei_val", tasks=("bbox", "segm"), distributed=False,
                                 output_dir=str(tmp_path), use_fast_impl=False, plot=False)
    ev.reset()
    ev.process([x], out)
    res = ev.evaluate()
    assert set(res) == {"bbox", "segm"} and "AP@S" in res["segm"] and "AP" in res["segm"]
