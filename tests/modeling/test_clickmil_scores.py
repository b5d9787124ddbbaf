"""Click scores (pointdet.modeling.clickmil.scores) against hand-computed values."""
import math

import numpy as np
import pytest

from pointdet.modeling.clickmil.scores import (
    AreaFromClickDistance,
    box_area_score,
    box_center_score,
    click_center,
    fit_area_from_click_distance,
    initial_window,
    objectness_mix,
    rank_objectness,
    relocalization_scores,
    select_proposal,
)


def test_box_center_score_one_click():
    # centre (5, 5), click (8, 9): d^2 = 9 + 16 = 25; sigma 5 -> exp(-25 / 50)
    s = box_center_score([[0, 0, 10, 10], [3, 4, 10, 10]], [8, 9], sigma_bc=5.0)
    assert s == pytest.approx([math.exp(-0.5), 1.0])


def test_box_center_score_two_clicks_uses_their_mean():
    assert click_center([[6, 5], [10, 13]]) == pytest.approx([8, 9])
    s = box_center_score([[0, 0, 10, 10]], [[6, 5], [10, 13]], sigma_bc=5.0)
    assert s == pytest.approx([math.exp(-0.5)])
    # sigma 10: exp(-25 / 200)
    assert box_center_score([[0, 0, 10, 10]], [[6, 5], [10, 13]], 10.0) == pytest.approx([math.exp(-0.125)])
    with pytest.raises(ValueError):
        box_center_score([[0, 0, 1, 1]], [0, 0], 0.0)


def test_box_area_score_with_mu_of_click_distance():
    mu = AreaFromClickDistance(intercept=2.0, slope=2.0, offset=1.0)
    clicks = [[0.0, 0.0], [math.e - 1.0, 0.0]]  # log(d + 1) = 1 -> mu = 4
    assert float(mu(math.e - 1.0)) == pytest.approx(4.0)
    side4, side5 = math.exp(2.0), math.exp(2.5)  # log areas 4 and 5
    s = box_area_score([[0, 0, side4, side4], [0, 0, side5, side5]], clicks, mu, sigma_ba=1.0)
    assert s == pytest.approx([1.0, math.exp(-0.5)])
    s = box_area_score([[0, 0, side5, side5]], clicks, mu, sigma_ba=0.5)  # 1 / (2 * 0.25)
    assert s == pytest.approx([math.exp(-2.0)])
    with pytest.raises(ValueError, match="two clicks"):
        box_area_score([[0, 0, 1, 1]], [[0, 0]], mu, 1.0)


def test_mu_fit_exact_line():
    # log(d + 1) = 0, 1, 2 and log area = 1 + 2 * that
    d = [0.0, math.e - 1, math.e**2 - 1]
    a = [math.e, math.e**3, math.e**5]
    mu = fit_area_from_click_distance(d, a)
    assert (mu.intercept, mu.slope) == pytest.approx((1.0, 2.0))
    assert mu.fit["r2"] == pytest.approx(1.0)
    assert mu.fit["residual_std"] == pytest.approx(0.0, abs=1e-9)
    assert mu.fit["n"] == 3


def test_mu_fit_least_squares_by_hand(tmp_path):
    # x = 0, 1, 2; y = 0, 1, 1 -> slope 1/2, intercept 1/6, SSR 1/6, SST 2/3
    d = [0.0, math.e - 1, math.e**2 - 1]
    a = [1.0, math.e, math.e]
    mu = fit_area_from_click_distance(d, a)
    assert mu.slope == pytest.approx(0.5)
    assert mu.intercept == pytest.approx(1.0 / 6.0)
    assert mu.fit["r2"] == pytest.approx(0.75)
    assert mu.fit["residual_std"] == pytest.approx(math.sqrt(1.0 / 6.0))
    mu.save(str(tmp_path / "mu.json"))
    back = AreaFromClickDistance.load(str(tmp_path / "mu.json"))
    assert (back.intercept, back.slope, back.offset) == pytest.approx((mu.intercept, mu.slope, 1.0))
    with pytest.raises(ValueError, match="at least 2"):
        fit_area_from_click_distance([1.0], [2.0])
    with pytest.raises(ValueError):
        fit_area_from_click_distance([1.0, 2.0], [2.0, 0.0])


def test_objectness_mix_and_rank_objectness():
    assert objectness_mix([0.2, 1.0], [0.6, 0.0]) == pytest.approx([0.4, 0.5])
    assert objectness_mix([0.2, 1.0], [0.6, 0.0], appearance_weight=1.0) == pytest.approx([0.2, 1.0])
    assert rank_objectness(4) == pytest.approx([1.0, 0.75, 0.5, 0.25])
    assert rank_objectness(0).shape == (0,)


def test_initial_window_is_the_largest_centred_window_inside_the_image():
    # W = 100, H = 40, click (30, 10): half sizes min(30, 70) = 30, min(10, 30) = 10
    assert initial_window([30, 10], (40, 100)) == pytest.approx([0, 0, 60, 20])
    assert initial_window([50, 20], (40, 100)) == pytest.approx([0, 0, 100, 40])  # the whole image
    assert initial_window([90, 35], (40, 100)) == pytest.approx([80, 30, 20, 10])
    with pytest.raises(ValueError, match="outside the image"):
        initial_window([101, 10], (40, 100))


def _constructed_bag():
    # P0: big, high objectness, centre (20, 20); P1: centre (10, 10), area 100; P2: centre (10, 10), area 36
    boxes = np.array([[0, 0, 40, 40], [5, 5, 10, 10], [7, 7, 6, 6]], dtype=float)
    A = np.array([0.9, 0.5, 0.6])
    O = np.array([1.0, 0.2, 0.2])  # S_ap = 0.95, 0.35, 0.40
    return boxes, A, O


def test_relocalization_choice_reference_one_click_two_clicks():
    boxes, A, O = _constructed_bag()
    ref = relocalization_scores(boxes, A, O)
    assert ref == pytest.approx([0.95, 0.35, 0.40])
    assert select_proposal(ref) == 0  # no clicks: the big, objectness-rich window
    one = relocalization_scores(boxes, A, O, [10, 10], sigma_bc=5.0)
    # s_bc(P0) = exp(-200 / 50) = exp(-4)
    assert one == pytest.approx([0.95 * math.exp(-4), 0.35, 0.40])
    assert select_proposal(one) == 2  # P2: centred and higher S_ap than P1
    mu = AreaFromClickDistance(intercept=math.log(100.0), slope=0.0)  # predicts area 100
    two = relocalization_scores(boxes, A, O, [[8, 10], [12, 10]], sigma_bc=5.0, mu=mu, sigma_ba=0.5)
    s_ba_p2 = math.exp(-(math.log(36.0) - math.log(100.0)) ** 2 / (2 * 0.25))
    s_ba_p0 = math.exp(-(math.log(1600.0) - math.log(100.0)) ** 2 / (2 * 0.25))
    assert two == pytest.approx([0.95 * math.exp(-4) * s_ba_p0, 0.35, 0.40 * s_ba_p2])
    assert select_proposal(two) == 1  # the area of P1 matches mu
    assert select_proposal([]) == -1
    with pytest.raises(ValueError, match="sigma_ba"):
        relocalization_scores(boxes, A, O, [[8, 10], [12, 10]], sigma_bc=5.0, mu=mu)
