"""CPRNet losses against hand-computed values, refinement rules, and end-to-end train/eval."""
import math

import pytest
import torch

from detectron2.config import get_cfg
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from pointdet.modeling.cpr import CPRNet, CPRRefinementParams, add_cprnet_config, refine_points
from tests.modeling.fixtures import TINY_BACKBONE_NAME, constant_scores, half_empty_batch, tiny_cprnet

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def make_model(num_classes=2, **kw):
    return tiny_cprnet(num_classes, **kw)


def fl_pos(s):
    return -((1 - s) ** 2) * math.log(s)


def fl_neg(s):
    return -(s**2) * math.log(1 - s)


# ------------------------------------------------------------------------------------ losses
def test_losses_hand_values():
    model = make_model()
    constant_scores(model, 0.0)
    s = 0.5
    tower = torch.randn(1, 8, 4, 4)  # stride 8 -> 32x32 image, cell centres 4, 12, 20, 28
    out = model.losses(tower, [torch.tensor([[12.0, 12.0]])], [torch.tensor([0])], torch.tensor([[32.0, 32.0]]))
    eps = 1e-6
    mil = -((1 - s) ** 2) * math.log(s + eps) - s**2 * math.log(1 - s + eps)
    assert out["loss_mil"].item() == pytest.approx(0.25 * mil, rel=1e-5)
    assert out["loss_ann"].item() == pytest.approx(0.125 * (fl_pos(s) + fl_neg(s)), rel=1e-5)
    # class 0: 15 negative cells (only (12,12) itself is closer than R*s = 8); class 1: all 16
    assert out["loss_neg"].item() == pytest.approx(0.75 * 31 * fl_neg(s), rel=1e-5)
    assert set(out) == {"loss_mil", "loss_ann", "loss_neg"}


def test_losses_normalisation_two_bags_and_nonuniform_scores():
    model = make_model()
    constant_scores(model, math.log(3.0))  # s = 0.75
    s = 0.75
    pts = [torch.tensor([[12.0, 12.0], [28.0, 28.0]])]
    out = model.losses(torch.randn(1, 8, 4, 4), pts, [torch.tensor([0, 1])], torch.tensor([[32.0, 32.0]]))
    eps = 1e-6
    per_bag = -((1 - s) ** 2) * math.log(s + eps) - s**2 * math.log(1 - s + eps)
    assert out["loss_mil"].item() == pytest.approx(0.25 * per_bag, rel=1e-5)  # (2 bags) / M = 2
    assert out["loss_ann"].item() == pytest.approx(0.125 * (fl_pos(s) + fl_neg(s)), rel=1e-5)
    # (12,12) excluded for class 0, (28,28) for class 1 -> 30 negative pairs, divided by M = 2
    assert out["loss_neg"].item() == pytest.approx(0.75 * 30 * fl_neg(s) / 2, rel=1e-5)


@pytest.mark.parametrize("append_center", [True, False])
def test_annotation_loss_is_read_at_the_annotated_point(append_center):
    """L_ann (Eq. 8-9) uses S at a_j itself: moving a_j over a feature bump changes it as computed.

    Feature channel 0 is 1 at the cell centred on (12, 12) and 0 elsewhere; f_cls gives class 0
    the logit 4 * f0 and class 1 the logit 0. Bilinear sampling reads f0 = 1 at (12, 12), 1/2 at
    (16, 12) and (12, 16), 1/4 at (16, 16), 0 at (12, 20) (the next cell centre) and at (4, 12),
    whose first bag point (12, 12) sits on the bump (reading a bag point instead of a_j would
    give the logit 4, not 0).
    """
    model = make_model(use_mil_loss=False, use_negative_loss=False, append_center=append_center)
    constant_scores(model, 0.0)
    with torch.no_grad():
        model.head.cls_out.weight[0, 0] = 4.0
    tower = torch.zeros(1, 8, 4, 4)
    tower[0, 0, 1, 1] = 1.0
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    for point, f0 in [((12.0, 12.0), 1.0), ((16.0, 12.0), 0.5), ((12.0, 16.0), 0.5), ((16.0, 16.0), 0.25),
                      ((12.0, 20.0), 0.0), ((4.0, 12.0), 0.0), ((28.0, 28.0), 0.0)]:
        out = model.losses(tower, [torch.tensor([point])], [torch.tensor([0])], torch.tensor([[32.0, 32.0]]))
        expected = 0.125 * (fl_pos(sig(4.0 * f0)) + fl_neg(0.5))
        assert out["loss_ann"].item() == pytest.approx(expected, rel=1e-5), point
    # two annotated points: the mean over the valid ones
    out = model.losses(tower, [torch.tensor([[12.0, 12.0], [4.0, 12.0]])], [torch.tensor([0, 0])],
                       torch.tensor([[32.0, 32.0]]))
    expected = 0.125 * (fl_pos(sig(4.0)) + fl_pos(0.5) + 2 * fl_neg(0.5)) / 2
    assert out["loss_ann"].item() == pytest.approx(expected, rel=1e-5)


def test_all_positive_loss_and_switches():
    model = make_model(use_mil_loss=False, use_all_positive_loss=True, use_negative_loss=False)
    constant_scores(model, 0.0)
    out = model.losses(torch.randn(1, 8, 4, 4), [torch.tensor([[4.0, 4.0]])], [torch.tensor([1])], torch.tensor([[32.0, 32.0]]))
    assert set(out) == {"loss_pos", "loss_ann"}
    assert out["loss_pos"].item() == pytest.approx(0.25 * (fl_pos(0.5) + fl_neg(0.5)), rel=1e-5)
    with pytest.raises(ValueError):
        make_model(use_mil_loss=False, use_annotation_loss=False, use_negative_loss=False)


def test_bag_validity_changes_mil():
    """A bag at the image corner loses its outside points: with non-uniform f_cls the MIL score changes."""
    model = make_model(use_annotation_loss=False, use_negative_loss=False)
    constant_scores(model, 0.0)
    tower = torch.zeros(1, 8, 4, 4)
    tower[0, 0, 0, 1] = 1.0  # cell centre (12, 4): the bag point right of a = (4, 4)
    with torch.no_grad():
        model.head.cls_out.weight[0, 0] = 10.0  # S_cls(class 0) = sigmoid(10 * f0)
    pts = [torch.tensor([[4.0, 4.0]])]
    loss_corner = model.losses(tower, pts, [torch.tensor([0])], torch.tensor([[32.0, 32.0]]))["loss_mil"]
    # valid points: (12,4) f0=1, (4,12) f0=0, centre f0=0; (-4,4), (4,-4) are outside
    sb = (torch.sigmoid(torch.tensor(10.0)).item() + 0.5 + 0.5) / 3
    eps = 1e-6
    exp = -((1 - sb) ** 2) * math.log(sb + eps) - 0.25 * math.log(0.5 + eps)
    assert loss_corner.item() == pytest.approx(0.25 * exp, rel=1e-4)


# ------------------------------------------------------------------------------------ refinement
def _ref_case():
    points = torch.tensor([[10.0, 10.0]])
    classes = torch.tensor([0])
    bag = torch.tensor([[[14.0, 10.0], [10.0, 14.0], [6.0, 10.0]]])
    scores = torch.tensor([[[0.8, 0.1], [0.3, 0.05], [0.05, 0.01]]])
    valid = torch.ones(1, 3, dtype=torch.bool)
    ann = torch.tensor([[0.4, 0.1]])
    return points, classes, bag, scores, valid, ann


def test_refine_default_paper_rule():
    r = refine_points(*_ref_case(), (100, 100))
    assert torch.allclose(r["points"], torch.tensor([[18.2 / 1.5, 16.2 / 1.5]]), atol=1e-5)
    assert r["scores"].tolist() == pytest.approx([0.55])
    assert r["refined"].tolist() == [True] and r["keep"].tolist() == [[True, True, False]]


def test_refine_reference_rule_without_annotated():
    r = refine_points(*_ref_case(), (100, 100), CPRRefinementParams(always_include_annotated=False))
    assert torch.allclose(r["points"], torch.tensor([[14.2 / 1.1, 12.2 / 1.1]]), atol=1e-5)


def test_refine_delta1_delta2():
    r = refine_points(*_ref_case(), (100, 100), CPRRefinementParams(score_threshold=0.35))
    assert torch.allclose(r["points"], torch.tensor([[15.2 / 1.2, 10.0]]), atol=1e-5)
    r = refine_points(*_ref_case(), (100, 100), CPRRefinementParams(relative_score_threshold=0.9))  # 0.36 > 0.3
    assert r["keep"].tolist() == [[True, False, False]]
    r = refine_points(*_ref_case(), (100, 100), CPRRefinementParams(score_threshold=0.0, relative_score_threshold=0.0))
    assert r["keep"].tolist() == [[True, True, True]]


def test_refine_classify_filter():
    p, c, bag, s, v, a = _ref_case()
    s[0, 1] = torch.tensor([0.3, 0.5])
    assert refine_points(p, c, bag, s, v, a, (100, 100))["keep"].tolist() == [[True, False, False]]
    r = refine_points(p, c, bag, s, v, a, (100, 100), CPRRefinementParams(use_classify_filter=False))
    assert r["keep"].tolist() == [[True, True, False]]


def test_refine_nearest_filter_classwise_and_ties():
    p, c, bag, s, v, a = _ref_case()
    p2 = torch.cat([p, torch.tensor([[16.0, 10.0]])])
    bag2 = torch.cat([bag, bag + torch.tensor([6.0, 0.0])])
    s2, v2, a2 = s.repeat(2, 1, 1), v.repeat(2, 1), a.repeat(2, 1)
    r = refine_points(p2, torch.tensor([0, 0]), bag2, s2, v2, a2, (100, 100))
    assert r["keep"][0].tolist() == [False, True, False]  # (14,10) is nearer to (16,10)
    r = refine_points(p2, torch.tensor([0, 0]), bag2, s2, v2, a2, (100, 100), CPRRefinementParams(use_nearest_filter=False))
    assert r["keep"][0].tolist() == [True, True, False]
    # an object of another class does not take bag points away
    s3 = s2.clone()
    s3[1] = s3[1].flip(-1)
    a3 = a2.clone()
    a3[1] = a3[1].flip(-1)
    r = refine_points(p2, torch.tensor([0, 1]), bag2, s3, v2, a3, (100, 100))
    assert r["keep"][0].tolist() == [True, True, False]
    # tie: a bag point equidistant from both annotated points goes to the lower index
    pts = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    bag_t = torch.tensor([[[5.0, 0.0]], [[5.0, 0.0]]])
    sc = torch.full((2, 1, 1), 0.9)
    r = refine_points(pts, torch.tensor([0, 0]), bag_t, sc, torch.ones(2, 1, dtype=torch.bool), torch.full((2, 1), 0.9), (50, 50))
    assert r["keep"].tolist() == [[True], [False]]


def test_refine_image_bounds_validity_and_empty():
    p, c, bag, s, v, a = _ref_case()
    assert refine_points(p, c, bag, s, v, a, (12, 100))["keep"].tolist() == [[True, False, False]]
    assert refine_points(p, c, bag, s, v, a, (12, 100), CPRRefinementParams(restrict_to_image=False))["keep"].tolist() == [[True, True, False]]
    v0 = v.clone()
    v0[0, 0] = False
    assert refine_points(p, c, bag, s, v0, a, (100, 100))["keep"].tolist() == [[False, True, False]]
    # nothing kept: the annotated point stays, even with the annotated point in B+
    r = refine_points(p, c, bag, s * 0.1, v, a, (100, 100))
    assert torch.equal(r["points"], p) and r["refined"].tolist() == [False] and r["scores"].tolist() == [0.0]
    # refine_th: mean kept score 0.55 < 0.6 -> unchanged
    r = refine_points(p, c, bag, s, v, a, (100, 100), CPRRefinementParams(refine_th=0.6))
    assert torch.equal(r["points"], p) and r["refined"].tolist() == [False]
    # no objects
    r = refine_points(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), torch.zeros(0, 3, 2), torch.zeros(0, 3, 2),
                      torch.zeros(0, 3, dtype=torch.bool), torch.zeros(0, 2), (10, 10))
    assert r["points"].shape == (0, 2) and r["keep"].shape == (0, 3)


def test_refinement_params_one_object():
    """The rules travel as one CPRRefinementParams: validated, injected into CPRNet, recorded."""
    with pytest.raises(ValueError, match="score_threshold"):
        CPRRefinementParams(score_threshold=float("nan"))
    with pytest.raises(TypeError, match="CPRRefinementParams"):
        refine_points(*_ref_case(), (100, 100), {"score_threshold": 0.35})
    with pytest.raises(TypeError, match="CPRRefinementParams"):
        make_model(refinement={"score_threshold": 0.35})
    rules = CPRRefinementParams(use_nearest_filter=False, refine_th=0.2)
    model = make_model(refinement=rules)
    assert model.refinement is rules
    assert model.refine_kwargs == {
        "score_threshold": 0.1, "relative_score_threshold": 0.5, "use_classify_filter": True,
        "use_nearest_filter": False, "restrict_to_image": True, "always_include_annotated": True, "refine_th": 0.2,
    }


# ------------------------------------------------------------------------------------ end to end
def _inputs(device, with_height=True):
    return half_empty_batch(0, device, with_height)


@pytest.mark.parametrize("device", DEVICES)
def test_train_forward_backward_with_empty_image(device):
    torch.manual_seed(0)
    model = make_model().to(device).train()
    with EventStorage() as storage:
        losses = model(_inputs(device))
        total = sum(losses.values())
        assert torch.isfinite(total)
        total.backward()
        assert "cpr/bag_acc" in storage.latest()
    grads = [p.grad for p in model.parameters()]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    assert model.head.ins_out.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("device", DEVICES)
def test_train_all_images_empty(device):
    model = make_model().to(device).train()
    inputs = [_inputs(device)[1]]
    losses = model(inputs)
    assert losses["loss_mil"].item() == 0 and losses["loss_ann"].item() == 0
    sum(losses.values()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_inference_refines_and_rescales(device):
    model = make_model().to(device).eval()
    constant_scores(model, 0.0)  # every score 0.5: ties -> argmax is class 0
    out = model(_inputs(device))
    assert len(out) == 2
    r0 = out[0]["instances"]
    assert r0.image_size == (64, 96)
    assert r0.ann_ids.tolist() == [11, 12] and r0.pred_classes.tolist() == [0, 1]
    assert torch.allclose(r0.coarse_points.cpu(), torch.tensor([[8.0, 32.0], [60.0, 40.0]]))
    # object 0 at (4,16), stride 8, R=1: (-4,16) is outside; B+ = {a, (12,16), (4,24), (4,8)}
    assert torch.allclose(r0.pred_points[0].cpu(), torch.tensor([6.0 * 2, 16.0 * 2]), atol=1e-4)
    assert r0.refined.tolist() == [True, False]  # class 1 loses every argmax tie
    assert torch.allclose(r0.pred_points[1], r0.coarse_points[1])
    assert r0.scores[0].item() == pytest.approx(0.5)
    r1 = out[1]["instances"]
    assert len(r1) == 0 and r1.pred_points.shape == (0, 2)
    bags = model.refine(_inputs(device), return_bags=True)[0]["instances"]
    assert bags.bag_points.shape == (2, 4, 2) and bags.bag_keep.shape == (2, 4) and bags.bag_scores.shape == (2, 4)


def test_refine_bag_radius_is_separate_from_training():
    """refine_bag_radius only changes the refinement bags; the losses keep the training R."""
    torch.manual_seed(0)
    train_r1 = make_model().train()
    refine_r2 = make_model(refine_bag_radius=2).train()
    refine_r2.load_state_dict(train_r1.state_dict())
    a, b = train_r1(_inputs("cpu")), refine_r2(_inputs("cpu"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    constant_scores(refine_r2.eval(), 0.0)
    r0 = refine_r2.refine(_inputs("cpu"), return_bags=True)[0]["instances"]
    assert r0.bag_points.shape == (2, 4 + 8, 2)  # circles of 4 and 8 points, a_j apart
    # object 0 at (4, 16) of the 48x32 input, stride 8, every score 0.5. Kept: a_j, the R=1
    # points (12,16) (4,24) (4,8) and the R=2 points (20,16) (4+8v2, 16+8v2) (4,0) (4+8v2, 16-8v2)
    # and (4,32), on the bottom border (inside: closed rule); the rest fall outside the image.
    # Equal weights: the mean is (9.1808, 16.0), x2 to original.
    c = 8 * math.sqrt(2)
    xs = [4, 12, 4, 4, 20, 4 + c, 4, 4 + c, 4]
    ys = [16, 16, 24, 8, 16, 16 + c, 0, 16 - c, 32]
    expected = torch.tensor([2 * sum(xs) / 9, 2 * sum(ys) / 9])
    assert torch.allclose(r0.pred_points[0], expected, atol=1e-4)
    assert int(r0.bag_keep[0].sum()) == 8
    with pytest.raises(ValueError, match="bag radii"):
        make_model(refine_bag_radius=0)


def test_inference_untrained_keeps_points_and_missing_instances_error():
    model = make_model().eval()
    out = model(_inputs("cpu", with_height=False))[0]["instances"]
    assert out.image_size == (32, 48)
    assert torch.equal(out.pred_points, out.coarse_points)  # prior 0.01 < delta_1: nothing kept
    with pytest.raises(ValueError, match="image 5"):
        model([{"image": torch.zeros(3, 16, 16), "image_id": 5}])


def test_build_from_yacs_config_and_p2():
    cfg = get_cfg()
    add_cprnet_config(cfg)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.META_ARCHITECTURE = "CPRNet"
    cfg.MODEL.BACKBONE.NAME = TINY_BACKBONE_NAME
    cfg.MODEL.CPR.NUM_CLASSES = 3
    cfg.MODEL.CPR.IN_FEATURE = "p2"
    cfg.MODEL.CPR.HEAD.CONV_DIMS = 8
    cfg.MODEL.CPR.HEAD.NUM_GROUPS = 4
    cfg.MODEL.CPR.BAG_RADIUS = 2
    model = build_model(cfg)
    assert isinstance(model, CPRNet) and model.stride == 4 and model.bag_offsets.shape == (8 * 3 + 1, 2)
    assert model.refine_bag_radius == 2  # REFINE.BAG_RADIUS None: the training radius
    cfg.MODEL.CPR.REFINE.BAG_RADIUS = 1
    assert build_model(cfg).refine_bag_offsets.shape == (8 + 1, 2)
    assert len(model.head.tower) == 12  # 4 x (conv, GN, ReLU)
    assert model.head.cls_out.bias[0].item() == pytest.approx(-math.log(99), rel=1e-5)
    model.train()
    inputs = _inputs("cpu")
    inputs[0]["instances"].gt_classes = torch.tensor([2, 1])
    losses = model(inputs)
    assert all(torch.isfinite(v) for v in losses.values())
