"""SAPNet's selection math against hand-computed values: PDG, PPG, NPG, BMS, MPS."""
import math

import pytest
import torch

from pointdet.modeling.sapnet.functions import (
    background_negative_valid,
    box_mining,
    mps_indices,
    part_negatives,
    point_distance_guidance,
    positive_proposals,
    random_negative_boxes,
)

T = torch.tensor


def _sig(x):
    return 1 / (1 + math.exp(-x))


# ------------------------------------------------------------------ PDG (Eq. 2-3)
def test_pdg_hand_computed():
    points = T([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])  # A, B same class; C another class
    classes = T([0, 0, 1])
    boxes = T(
        [
            [[-1, -1, 1, 1], [-1, -1, 5, 5], [-1, -1, 7, 9]],  # A: none; B inside; B and C inside
            [[2, 3, 4, 5], [3, 4, 6, 6], [-1, -1, 7, 9]],  # B: none; A on no box; A inside
            [[5, 7, 7, 9], [-1, -1, 7, 9], [0, 0, 1, 1]],  # C: no point of class 1 elsewhere
        ],
        dtype=torch.float32,
    )
    s_dis, s_raw = point_distance_guidance(boxes, points, classes, exponent=0.015)
    r = _sig(1 / 5)  # ||A - B|| = 5
    assert s_raw.flatten().tolist() == pytest.approx([1, r, r, 1, 1, r, 1, 1, 1], abs=1e-6)
    d = r**0.015
    assert s_dis.flatten().tolist() == pytest.approx([1, d, d, 1, 1, d, 1, 1, 1], abs=1e-6)
    # the reference's square-root distance
    _, s_raw = point_distance_guidance(boxes, points, classes, distance_power=0.5)
    assert s_raw[0, 1].item() == pytest.approx(_sig(1 / math.sqrt(5)), abs=1e-6)


def test_pdg_boundary_point_is_not_inside():
    points = T([[0.0, 0.0], [3.0, 4.0]])
    boxes = T([[[-1, -1, 3, 4]], [[0, 0, 9, 9]]], dtype=torch.float32)  # B on A's box corner; A on B's
    _, s_raw = point_distance_guidance(boxes, points, T([0, 0]))
    assert s_raw.tolist() == [[1.0], [1.0]]


# ------------------------------------------------------------------ PPG (Eq. 4)
def test_positive_proposals_hand_computed():
    box = T([[10.0, 10.0, 30.0, 20.0], [10.0, 10.0, 30.0, 20.0], [0.0, 0.0, 10.0, 10.0]])
    out = positive_proposals(box, T([1.0, 0.5, 1.0]))
    assert out.shape == (3, 20, 4)
    assert out[0, 0].tolist() == pytest.approx([9.9, 9.95, 30.1, 20.05])  # x1.01
    assert out[0, 14].tolist() == pytest.approx([8.5, 9.25, 31.5, 20.75])  # x1.15
    assert out[0, 15].tolist() == pytest.approx([9.2, 9.6, 30.8, 20.4])  # S_raw = 1: x1.08
    assert out[0, 19].tolist() == pytest.approx([9.0, 9.5, 31.0, 20.5])  # x1.10
    assert out[1, 15].tolist() == pytest.approx([10.1, 10.05, 29.9, 19.95])  # S_raw 0.5: x(1 - 0.01)
    assert out[1, 19].tolist() == pytest.approx([10.5, 10.25, 29.5, 19.75])  # x0.95
    assert out[2, 14].tolist() == pytest.approx([0.0, 0.0, 10.75, 10.75])  # clamped at 0


# ------------------------------------------------------------------ NPG
def test_negatives():
    g = torch.Generator().manual_seed(0)
    neg = random_negative_boxes((50, 100), 500, generator=g)
    assert neg.shape == (500, 4)
    assert (neg[:, 0] >= -20).all() and (neg[:, 1] >= -10).all()
    assert (neg[:, 2] >= neg[:, 0]).all() and (neg[:, 2] <= 120).all() and (neg[:, 3] <= 60).all()
    n = T([[0.0, 0.0, 10.0, 10.0]] * 3)
    props = [T([[0.0, 0, 10, 10]]), T([[5.0, 0, 15, 10]]), T([[6.0, 0, 16, 10]])]  # IoU 1, 1/3, 1/4
    assert [background_negative_valid(n[:1], p).item() for p in props] == [False, False, True]
    parts, keep = part_negatives(T([[0.0, 0.0, 100.0, 60.0], [0.0, 0.0, 60.0, 60.0]]))
    assert parts[0].tolist() == [25.0, 15.0, 75.0, 45.0]
    assert keep.tolist() == [True, False]  # 6000 > 64^2 and IoU 0.25 < 0.5; 3600 too small


# ------------------------------------------------------------------ BMS (Supp. Alg. 2)
SEL = T([[0.0, 0.0, 10.0, 10.0]])


def _bms(*cands, **kw):
    return box_mining(SEL, T([list(cands)], dtype=torch.float32), **kw)[0].tolist()


def test_bms_first_branch_merges_and_raises_threshold():
    iou = 100 / 120
    assert _bms([0, 0, 10, 12]) == pytest.approx([0, 0, 10, (12 + iou * 10) / (1 + iou)])
    iou2 = 100 / 110  # a later candidate with a higher IoU than the new T_min1 replaces it
    assert _bms([0, 0, 10, 12], [0, 0, 10, 11]) == pytest.approx([0, 0, 10, (11 + iou2 * 10) / (1 + iou2)])
    # a lower IoU after it does not (T_min1 is now 0.909)
    assert _bms([0, 0, 10, 11], [0, 0, 10, 12]) == pytest.approx([0, 0, 10, (11 + iou2 * 10) / (1 + iou2)])


def test_bms_second_branch_containing_box():
    iou = 100 / 196
    expected = [(iou * -2) / (1 + iou)] * 2 + [(iou * 12 + 10) / (1 + iou)] * 2
    assert _bms([-2, -2, 12, 12]) == pytest.approx(expected)
    # blocked once the first branch fired (count > 0); overridden when the first branch fires later
    c1 = [0, 0, 10, (12 + 100 / 120 * 10) / (1 + 100 / 120)]
    assert _bms([0, 0, 10, 12], [-2, -2, 12, 12]) == pytest.approx(c1)
    assert _bms([-2, -2, 12, 12], [0, 0, 10, 12]) == pytest.approx(c1)


def test_bms_leaves_box_otherwise():
    assert _bms([0, 0, 9, 9]) == [0, 0, 10, 10]  # smaller
    assert _bms([5, 0, 20, 10]) == [0, 0, 10, 10]  # IoU 1/3 but does not contain the box
    assert _bms([-1, -1, 20, 20]) == [0, 0, 10, 10]  # contains it, IoU 100/441 < 0.3
    assert _bms([0, 0, 10, 12], candidate_valid=T([[False]])) == [0, 0, 10, 10]
    # the reference's 2 px slack makes a nearly containing box count
    iou = 81 / 140  # intersection 9 x 9, union 100 + 121 - 81
    out = _bms([1, 1, 12, 12], contain_slack=2.0)
    assert out[2] == pytest.approx((iou * 12 + 10) / (1 + iou)) and _bms([1, 1, 12, 12]) == [0, 0, 10, 10]


# ------------------------------------------------------------------ MPS
def test_mps_indices():
    scores = T([[0.1, 0.5, 0.3, 0.9, 0.2, 0.4]])
    # paper: others of Mask_prm (index 1) by score: 3, 5, 2, 4, 0 -> highest, median, lowest
    assert mps_indices(scores, T([1])).tolist() == [[3, 2, 0]]
    # reference: ranks 1/3/5 of all six (3, 1, 5, 2, 4, 0)
    assert mps_indices(scores, T([1]), mode="reference").tolist() == [[1, 2, 0]]
    valid = T([[True, True, False, True, False, False]])  # others of 1: 3, 0
    assert mps_indices(scores, T([1]), valid).tolist() == [[3, 3, 0]]
    assert mps_indices(scores[:, :1], T([0])).tolist() == [[-1, -1, -1]]
    with pytest.raises(ValueError):
        mps_indices(scores, T([1]), mode="other")
