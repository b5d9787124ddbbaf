"""SPLG (SIOD Eq. 3-4), PGCL (Eq. 6), anchor pseudo-label pooling and the DMiner loss against
hand-computed values on constructed feature maps."""
import math

import pytest
import torch

from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from pointdet.modeling.dminer import (
    DMiner,
    anchor_pseudo_objectness,
    class_prototypes,
    merge_pseudo_heatmap,
    pgcl_loss,
    pool_pseudo_labels,
    splg_pseudo_heatmap,
)

F32_06 = torch.tensor(0.6).item()  # 0.6 as float32: 3/5 computed in float32 equals it exactly


def _splg_case():
    """One row of 5 cells, 2 classes; class 0 annotated on cells 0-1 (Y = 1, 0.5), class 1 absent.

    Features: cells 0, 1, 2 = (1, 0); cell 3 = (3, 4) -> cosine 0.6 with the prototype (1, 0);
    cell 4 = (0, 2) -> cosine 0.
    """
    feat = torch.tensor([[1.0, 1.0, 1.0, 3.0, 0.0], [0.0, 0.0, 0.0, 4.0, 2.0]]).view(2, 1, 5)
    y = torch.zeros(2, 1, 5)
    y[0, 0, 0], y[0, 0, 1] = 1.0, 0.5
    return feat, y


def test_class_prototypes_gaussian_weighted_and_absent_zero():
    feat, y = _splg_case()
    y[0, 0, 4] = 1.0  # a second, orthogonal cell of weight 1: sum = (1.5, 0) + (0, 1)
    g = class_prototypes(feat, y)
    assert torch.allclose(g[0], torch.tensor([1.5, 1.0]) / math.sqrt(1.5 ** 2 + 1))
    assert torch.equal(g[1], torch.zeros(2))


def test_splg_pseudo_heatmap_hand_values():
    feat, y = _splg_case()
    pseudo = splg_pseudo_heatmap(feat, y, sim_threshold=F32_06, scale=1.0)
    # labeled cells 0-1 untouched; cell 2 sim 1; cell 3 sim == T_sim kept (>=); cell 4 sim 0 dropped
    assert pseudo[0, 0].tolist() == pytest.approx([0.0, 0.0, 1.0, F32_06, 0.0])
    assert torch.equal(pseudo[1], torch.zeros(1, 5))  # absent class gives zero
    strict = splg_pseudo_heatmap(feat, y, sim_threshold=F32_06, strict=True)
    assert strict[0, 0].tolist() == pytest.approx([0.0, 0.0, 1.0, 0.0, 0.0])
    # eta scales and clamps to 1
    half = splg_pseudo_heatmap(feat, y, sim_threshold=F32_06, scale=0.5)
    assert half[0, 0].tolist() == pytest.approx([0.0, 0.0, 0.5, 0.3, 0.0])
    big = splg_pseudo_heatmap(feat, y, sim_threshold=F32_06, scale=2.0)
    assert big[0, 0].tolist() == pytest.approx([0.0, 0.0, 1.0, 1.0, 0.0])
    # merged target: labeled values unchanged
    merged = merge_pseudo_heatmap(y, pseudo)
    assert merged[0, 0].tolist() == pytest.approx([1.0, 0.5, 1.0, F32_06, 0.0])
    # no annotation in the image: nothing
    assert torch.equal(splg_pseudo_heatmap(feat, torch.zeros_like(y)), torch.zeros_like(y))


def test_splg_picks_the_most_similar_present_class():
    feat = torch.tensor([[1.0, 0.0, 1.0, 0.1], [0.0, 1.0, 0.2, 1.0]]).view(2, 1, 4)
    y = torch.zeros(3, 1, 4)
    y[0, 0, 0] = 1.0  # class 0 prototype (1, 0)
    y[2, 0, 1] = 1.0  # class 2 prototype (0, 1)
    pseudo = splg_pseudo_heatmap(feat, y, sim_threshold=0.5)
    c2, c3 = 1 / math.sqrt(1.04), 1 / math.sqrt(1.01)
    assert pseudo[0, 0].tolist() == pytest.approx([0.0, 0.0, c2, 0.0], rel=1e-5)
    assert pseudo[2, 0].tolist() == pytest.approx([0.0, 0.0, 0.0, c3], rel=1e-5)
    assert pseudo[1].sum().item() == 0.0


def _pgcl_case():
    # 1 x 4 cells; class 0 annotated at cell 0 (Y = 1 there only); class 1 absent
    feat = torch.tensor([[1.0, 0.0, 1.0, 0.6], [0.0, 1.0, 0.0, 0.8]]).view(2, 1, 4)
    scores = torch.tensor([[0.9, 0.2, 0.8, 0.0], [0.0, 0.9, 0.0, 0.5]]).view(2, 1, 4)
    y = torch.zeros(2, 1, 4)
    y[0, 0, 0] = 1.0
    return feat, scores, y, torch.tensor([[0, 0]]), torch.tensor([0])


def test_pgcl_reference_and_paper_normalisation_hand_values():
    feat, scores, y, centers, classes = _pgcl_case()
    # top-2 unlabeled cells by the annotated classes' scores: cell 2 (0.8), cell 1 (0.2);
    # class 1's 0.9 / 0.5 do not count (absent). keys f2 = (1, 0), f1 = (0, 1), k0 = (1, 0);
    # query f0 = (1, 0); tau = 1: logits 1, 0, 1; Z = 2e + 1; all three keys are class-0 positives
    log_z = math.log(2 * math.e + 1)
    ref = pgcl_loss(feat, scores, y, centers, classes, top_m=2, tau=1.0)
    assert ref.loss_sum.item() == pytest.approx(log_z - 2 / 3, rel=1e-6) and ref.num_terms == 1
    assert ref.selected.view(-1).tolist() == [False, True, True, False]
    paper = pgcl_loss(feat, scores, y, centers, classes, top_m=2, tau=1.0, normalization="paper")
    assert paper.loss_sum.item() == pytest.approx(0.5 * ((log_z - 1) + log_z) + (log_z - 1), rel=1e-6)
    # m = 3 adds cell 3 whose score (annotated classes) is 0: an invalid key, same loss
    ref3 = pgcl_loss(feat, scores, y, centers, classes, top_m=3, tau=1.0)
    assert ref3.loss_sum.item() == pytest.approx(ref.loss_sum.item(), rel=1e-6)
    # tau scales the logits: tau = 0.5 -> logits 2, 0, 2
    half = pgcl_loss(feat, scores, y, centers, classes, top_m=2, tau=0.5)
    assert half.loss_sum.item() == pytest.approx(math.log(2 * math.e ** 2 + 1) - 4 / 3, rel=1e-6)


def test_pgcl_negatives_of_another_class_and_gradient():
    feat, scores, y, centers, classes = _pgcl_case()
    y[1, 0, 3] = 1.0  # class 1 annotated at cell 3: prototype (0.6, 0.8), its own query
    feat = feat.clone().requires_grad_(True)
    terms = pgcl_loss(feat, scores, y, torch.tensor([[0, 0], [3, 0]]), torch.tensor([0, 1]), top_m=2, tau=1.0)
    # unlabeled cells now 1, 2; cell 1's best annotated score is class 1 (0.9), cell 2's class 0 (0.8)
    # keys: f1 (0,1) class 1, f2 (1,0) class 0, k0_0 (1,0), k0_1 (0.6,0.8)
    q0 = [0.0, 1.0, 1.0, 0.6]  # q0 = (1, 0) against the keys
    q1 = [0.8, 0.6, 0.6, 1.0]  # q1 = (0.6, 0.8)
    lz0 = math.log(sum(math.exp(v) for v in q0))
    lz1 = math.log(sum(math.exp(v) for v in q1))
    expected = (lz0 - (1.0 + 1.0) / 2) + (lz1 - (0.8 + 1.0) / 2)
    assert terms.loss_sum.item() == pytest.approx(expected, rel=1e-5) and terms.num_terms == 2
    terms.loss_sum.backward()
    assert feat.grad is not None and feat.grad.abs().sum() > 0


def test_pgcl_no_query_is_zero_with_graph():
    feat, scores, y, _, _ = _pgcl_case()
    feat.requires_grad_(True)
    terms = pgcl_loss(feat, scores, torch.zeros_like(y), torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    assert terms.loss_sum.item() == 0.0 and terms.num_terms == 0 and not terms.selected.any()
    terms.loss_sum.backward()


def test_pool_pseudo_labels_hand_values_and_anchor_order():
    pseudo = torch.zeros(1, 2, 3, 3)
    pseudo[0, 0, 1, 1] = 0.9
    pseudo[0, 1, 0, 0] = 0.45
    pooled = pool_pseudo_labels(pseudo, (1, 3))
    assert pooled.shape == (1, 2, 3, 3)
    assert pooled[0, 0, 1, 1].item() == pytest.approx(0.9) and pooled[0, 0, 0, 0].item() == pytest.approx(0.45)
    # 3x3 mean with zero padding counted: class 0 gives 0.1 wherever (1, 1) is in the window,
    # class 1 gives 0.05 near (0, 0); max over classes
    assert pooled[0, 1, 0, 0].item() == pytest.approx(0.1)
    assert pooled[0, 1, 2, 2].item() == pytest.approx(0.1)
    with pytest.raises(ValueError, match="odd"):
        pool_pseudo_labels(pseudo, (2,))

    # anchors: Detectron2's generator, sizes (32, 64) x 3 ratios on a 1 x 2 map; each anchor takes
    # the pooled value of its own size at its own cell
    pooled = torch.tensor([[[[0.1, 0.2]], [[0.3, 0.4]]]])  # (1, S=2, 1, 2)
    per_anchor = anchor_pseudo_objectness(pooled, num_aspect_ratios=3)
    gen = DefaultAnchorGenerator(sizes=[[32, 64]], aspect_ratios=[[0.5, 1.0, 2.0]], strides=[16], offset=0.0)
    anchors = gen([torch.zeros(1, 1, 1, 2)])[0].tensor
    size = ((anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1])).sqrt().round()
    cell = ((anchors[:, 0] + anchors[:, 2]) / 2 / 16).round().long()
    expect = torch.stack([pooled[0, 0 if s == 32 else 1, 0, c] for s, c in zip(size.tolist(), cell.tolist())])
    assert torch.allclose(per_anchor[0], expect)


def test_dminer_losses_soft_pseudo_never_positive():
    # class 0 annotated at cell 0; cell 2 has the same feature: SPLG value 1.0 there
    feat = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 2, 1, 3)
    y = torch.zeros(1, 1, 1, 3)
    y[0, 0, 0, 0] = 1.0
    logits = torch.zeros(1, 1, 1, 3)
    t = math.log(0.5) * 0.25
    base = DMiner(use_splg=False, use_pgcl=False).losses(feat, logits, y, [torch.tensor([[0, 0]])], [torch.tensor([0])])
    assert set(base) == {"loss_hm"} and base["loss_hm"].item() == pytest.approx(-3 * t, rel=1e-5)
    splg = DMiner(use_pgcl=False).losses(feat, logits, y, [torch.tensor([[0, 0]])], [torch.tensor([0])])
    # cell 2: pseudo 1.0 -> negative weight 0 and still not a positive (1 positive, cell 1 a full negative)
    assert splg["loss_hm"].item() == pytest.approx(-2 * t, rel=1e-5)
    both = DMiner(top_m=1, tau=1.0, pgcl_weight=0.5, loss_mask=True, use_splg=False).losses(
        feat, logits, y, [torch.tensor([[0, 0]])], [torch.tensor([0])], prefix="rpn_")
    # top-1 unlabeled cell by score: all 0.5, the first max -> a class-0 key; the mask drops its negative term
    assert set(both) == {"rpn_loss_hm", "rpn_loss_pgcl"}
    assert both["rpn_loss_hm"].item() == pytest.approx(-2 * t, rel=1e-5)
    assert both["rpn_loss_pgcl"].item() > 0


def test_dminer_logs_pseudo_statistics_inside_a_trainer():
    from detectron2.utils.events import EventStorage

    feat = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 2, 1, 3)
    y = torch.zeros(1, 1, 1, 3)
    y[0, 0, 0, 0] = 1.0
    with EventStorage() as storage:
        DMiner(use_pgcl=False).losses(feat, torch.zeros(1, 1, 1, 3), y, [torch.tensor([[0, 0]])], [torch.tensor([0])])
    assert storage.latest()["dminer/pseudo_cells_per_image"][0] == 1.0  # cell 2 (cosine 1); cell 1 cosine 0
    assert storage.latest()["dminer/pseudo_mean_value"][0] == pytest.approx(1.0)
