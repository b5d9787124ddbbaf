"""Tests of the weak-annotation generators (pointdet/data/annotations)."""
import copy
import json
import math
import os
from collections import Counter, defaultdict

import numpy as np
import pytest

from pointdet.data.annotations import (
    box_local_mask,
    center_clicks,
    make_center_clicks,
    make_coarse_points,
    make_keep1,
    make_quasi_center_points,
    make_sparse,
    num_to_erase,
    rectified_gaussian_weights,
    run_center_clicks,
    run_coarse_points,
    run_keep1,
    run_quasi_center_points,
    run_sparse,
    sample_coarse_point,
    sample_pixel,
    sample_rectified_gaussian_pixel,
)
from pointdet.data.coco_io import CocoFormatError, file_sha256


def _ann(aid, img, cat, box, crowd=0, seg=None):
    a = {"id": aid, "image_id": img, "category_id": cat, "bbox": list(box), "area": float(box[2] * box[3]), "iscrowd": crowd}
    if seg is not None:
        a["segmentation"] = seg
    return a


def _rect_poly(x, y, w, h):
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def synthetic_coco(num_images=12, seed=0, width=96, height=80):
    """Images with 0..6 objects of 3 categories, some crowd, polygon / RLE / no masks."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    images, anns = [], []
    aid = 1
    for i in range(1, num_images + 1):
        images.append({"id": i, "file_name": f"img{i}.png", "width": width, "height": height})
        for k in range(int(rng.integers(0, 7)) if i > 1 else 0):  # image 1 stays empty
            w, h = float(rng.uniform(4, 40)), float(rng.uniform(4, 40))
            x, y = float(rng.uniform(0, width - w)), float(rng.uniform(0, height - h))
            cat = int(rng.integers(1, 4))
            kind = k % 3
            if kind == 0:  # triangle polygon
                seg = [[x, y + h, x + w / 2, y, x + w, y + h]]
            elif kind == 1:  # RLE of an inner rectangle
                m = np.zeros((height, width), dtype=np.uint8, order="F")
                m[int(y + h / 4): int(math.ceil(y + 3 * h / 4)), int(x + w / 4): int(math.ceil(x + 3 * w / 4))] = 1
                rle = mask_utils.encode(m)
                seg = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            else:
                seg = None
            crowd = 1 if rng.random() < 0.1 else 0
            anns.append(_ann(aid, i, cat, [x, y, w, h], crowd, seg))
            aid += 1
    cats = [{"id": 1, "name": "tree"}, {"id": 2, "name": "cell"}, {"id": 3, "name": "car"}]
    return {"info": {"description": "synthetic"}, "images": images, "annotations": anns, "categories": cats}


def write_json(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f)
    return str(path)


# ----------------------------------------------------------------------------- math by hand


def test_rectified_gaussian_weights_hand_values():
    # box [0,0,4,2]: pixel centres x = .5..3.5, y = .5, 1.5; centre (2, 1); sigma = (1, 0.5) px
    wts = rectified_gaussian_weights([0, 0, 4, 2], (0, 0), (2, 4))
    gx = np.exp(-0.5 * np.array([1.5, 0.5, 0.5, 1.5]) ** 2)
    gy = np.exp(-0.5 * np.array([1.0, 1.0]) ** 2)
    np.testing.assert_allclose(wts, gy[:, None] * gx[None, :], rtol=1e-12)
    mask = np.array([[1, 0, 0, 1], [0, 0, 1, 0]])
    np.testing.assert_allclose(rectified_gaussian_weights([0, 0, 4, 2], (0, 0), (2, 4), mask), wts * mask)
    # mu shifts the centre by mu * w: centre x = 2 + 0.25*4 = 3
    shifted = rectified_gaussian_weights([0, 0, 4, 2], (0, 0), (2, 4), mu=(0.25, 0.0))
    np.testing.assert_allclose(shifted[0], np.exp(-0.5) * np.exp(-0.5 * np.array([2.5, 1.5, 0.5, 0.5]) ** 2))
    # origin offset: box [10, 20, 4, 2] on grid at (10, 20) gives the same weights
    np.testing.assert_allclose(rectified_gaussian_weights([10, 20, 4, 2], (10, 20), (2, 4)), wts)


def test_quasi_center_ellipse_hand_values():
    # box [0,0,8,8], semi-axes (1.5, 1.5) around (4, 4): pixel centres 3.5 and 4.5 in each axis
    wts = rectified_gaussian_weights([0, 0, 8, 8], (0, 0), (8, 8), center_semi_axes=(1.5, 1.5))
    nz = np.argwhere(wts > 0)
    assert sorted(map(tuple, nz.tolist())) == [(r, c) for r in (2, 3, 4, 5) for c in (2, 3, 4, 5) if (r + 0.5 - 4) ** 2 + (c + 0.5 - 4) ** 2 <= 2.25]
    # ellipse outside the mask: skipped (reference behaviour), weights = Gaussian x mask
    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[0, 0] = 1
    wts = rectified_gaussian_weights([0, 0, 8, 8], (0, 0), (8, 8), mask, center_semi_axes=(1.5, 1.5))
    assert wts[0, 0] > 0 and (wts > 0).sum() == 1


def test_sample_pixel_inverse_cdf():
    w = np.array([[0.0, 1.0], [1.0, 2.0]])  # cdf 0, 1, 2, 4
    assert sample_pixel(w, 0.0) == (0, 1)
    assert sample_pixel(w, 0.2) == (0, 1)  # 0.8 < 1
    assert sample_pixel(w, 0.3) == (1, 0)  # 1.2
    assert sample_pixel(w, 0.5) == (1, 1)  # 2.0: first cdf > 2 is index 3
    assert sample_pixel(w, 0.999999) == (1, 1)
    with pytest.raises(ValueError):
        sample_pixel(np.zeros((2, 2)), 0.5)


def test_two_stage_sampler_equals_flat_inverse_cdf():
    rng = np.random.default_rng(0)
    n_same = 0
    for _ in range(300):
        hl, wl = int(rng.integers(2, 12)), int(rng.integers(2, 12))
        origin = (int(rng.integers(0, 5)), int(rng.integers(0, 5)))
        box = [origin[0] + rng.uniform(0, 0.9), origin[1] + rng.uniform(0, 0.9), wl - 1.0, hl - 1.0]
        mask = (rng.random((hl, wl)) < rng.uniform(0.05, 1.0)).astype(np.uint8)
        axes = None if rng.random() < 0.5 else (rng.uniform(0.3, 3), rng.uniform(0.3, 3))
        mu, sig = (rng.uniform(-0.2, 0.2), 0.0), (rng.uniform(0.1, 0.5), 0.25)
        r = rng.random()
        fast = sample_rectified_gaussian_pixel(box, origin, mask, r, mu, sig, axes)
        wts = rectified_gaussian_weights(box, origin, (hl, wl), mask, mu, sig, axes)
        if not mask.any():
            assert fast is None
            continue
        assert fast == sample_pixel(wts, r)
        n_same += 1
    assert n_same > 250


def test_sample_coarse_point_hand_cases():
    mask = np.zeros((4, 6), dtype=np.uint8)
    mask[2, 3] = 1  # only pixel: image col 10+3 = 13, row 20+2 = 22
    x, y, st = sample_coarse_point([10.0, 20.0, 6.0, 4.0], mask, (10, 20), [0.7, 0.25, 0.75])
    assert st == "sampled"
    assert x == pytest.approx(13.25) and y == pytest.approx(22.75)  # pixel centre + (u - 0.5)
    # clipped to the box: box starts at 10.6, pixel 10 ([10, 11)), jitter to 10.0 -> clipped to 10.6
    m1 = np.ones((2, 3), dtype=np.uint8)
    m1[:, 1:] = 0
    x, y, st = sample_coarse_point([10.6, 20.0, 2.2, 2.0], m1, (10, 20), [0.0, 0.0, 0.5])
    assert (x, st) == (pytest.approx(10.6), "sampled") and math.floor(x) == 10
    # degenerate: small box, empty mask, no pixel
    assert sample_coarse_point([5, 5, 1.5, 10], None, (0, 0), [0.5] * 3) == (5.75, 10.0, "fallback_small_box")
    assert sample_coarse_point([5, 5, 4, 4], np.zeros((4, 4)), (5, 5), [0.5] * 3) == (7.0, 7.0, "fallback_empty_mask")
    assert sample_coarse_point([5, 5, 4, 4], None, (5, 5), [0.5] * 3) == (7.0, 7.0, "fallback_box_outside_image")


def test_box_local_mask_matches_full_image_rasterisation():
    from pycocotools import mask as mask_utils

    poly = [[12.3, 7.7, 40.2, 9.1, 30.5, 33.9, 14.0, 28.2]]
    box = [12.3, 7.7, 40.2 - 12.3, 33.9 - 7.7]
    m, (x0, y0) = box_local_mask(poly, box, (48, 64))
    full = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(poly, 48, 64)))
    assert (x0, y0) == (12, 7) and m.shape == (34 - 7, 41 - 12)
    np.testing.assert_array_equal(m, full[7:34, 12:41])
    assert full.sum() == m.sum()  # the polygon lies inside its box's pixels
    rle = mask_utils.encode(np.asfortranarray(full))
    m2, _ = box_local_mask(rle, box, (48, 64))
    np.testing.assert_array_equal(m2, m)
    with pytest.raises(CocoFormatError, match="annotation id 7"):
        box_local_mask(rle, box, (40, 64), ann_id=7)


def test_center_clicks_hand_values():
    boxes = np.array([[10.0, 20.0, 40.0, 10.0]])
    noise = np.array([[[1.0, -2.0], [10.0, 0.0]]])
    c = center_clicks(boxes, noise, alpha=0.1)
    np.testing.assert_allclose(c, [[[30.0 + 4.0, 25.0 - 2.0], [50.0, 25.0]]])  # second clipped to x + w


def test_num_to_erase_hand_values():
    assert [num_to_erase("easy", n) for n in range(5)] == [0, 0, 1, 1, 1]
    assert [num_to_erase("hard", n) for n in range(6)] == [0, 0, 1, 1, 2, 2]
    assert [num_to_erase("extreme", n) for n in range(5)] == [0, 0, 1, 2, 3]
    assert [num_to_erase("50miss", n) for n in range(6)] == [0, 0, 1, 1, 2, 2]
    assert num_to_erase("50miss", 10, 0.3) == 3
    with pytest.raises(ValueError, match="unknown sparse level"):
        num_to_erase("medium", 3)


# ----------------------------------------------------------------------------- Keep1


def _noncrowd_groups(anns):
    g = defaultdict(list)
    for a in anns:
        if not a.get("iscrowd", 0):
            g[(a["image_id"], a["category_id"])].append(a["id"])
    return g


@pytest.mark.parametrize("keep_first", [False, True])
def test_keep1_one_per_image_and_category(keep_first):
    coco = synthetic_coco(30)
    orig = copy.deepcopy(coco)
    kept, erased = make_keep1(coco, seed=3, keep_first=keep_first)
    assert coco == orig  # pure
    in_groups = _noncrowd_groups(coco["annotations"])
    out_groups = _noncrowd_groups(kept["annotations"])
    assert set(out_groups) == set(in_groups)
    assert all(len(v) == 1 for v in out_groups.values())
    for key, ids in out_groups.items():
        assert ids[0] in in_groups[key]
        if keep_first:
            assert ids[0] == in_groups[key][0]
    crowd = [a["id"] for a in coco["annotations"] if a["iscrowd"]]
    assert crowd and set(crowd) <= {a["id"] for a in kept["annotations"]}
    ids_k = [a["id"] for a in kept["annotations"]]
    ids_e = [a["id"] for a in erased["annotations"]]
    assert sorted(ids_k + ids_e) == sorted(a["id"] for a in coco["annotations"]) and not set(ids_k) & set(ids_e)
    assert ids_k == sorted(ids_k, key=[a["id"] for a in coco["annotations"]].index)  # JSON order kept
    assert kept["images"] == coco["images"] and erased["images"] == coco["images"]
    s = kept["info"]["statistics"]
    assert s["annotations_kept"] == len(ids_k) and s["annotations_erased"] == len(ids_e)
    assert s["crowd_kept"] == len(crowd)
    assert sum(d["kept"] for d in s["per_category"].values()) == len(out_groups)


def test_keep1_random_is_not_always_first_and_all_crowd_category():
    coco = synthetic_coco(30)
    in_groups = _noncrowd_groups(coco["annotations"])
    kept, _ = make_keep1(coco, seed=0)
    firsts = {v[0] for v in in_groups.values()}
    chosen = {v[0] for v in _noncrowd_groups(kept["annotations"]).values()}
    assert chosen != firsts  # many groups with >1 member: a random pick differs somewhere
    # a category present only as crowd keeps nothing but the crowd annotation
    c = {"images": [{"id": 1, "file_name": "a", "width": 10, "height": 10}], "categories": [{"id": 1, "name": "a"}],
         "annotations": [_ann(1, 1, 1, [0, 0, 2, 2], crowd=1), _ann(2, 1, 1, [0, 0, 2, 2], crowd=1)]}
    k, e = make_keep1(c, seed=0)
    assert [a["id"] for a in k["annotations"]] == [1, 2] and e["annotations"] == []


# ----------------------------------------------------------------------------- sparse


@pytest.mark.parametrize("level", ["easy", "hard", "extreme"])
def test_sparse_per_image_counts_exact(level):
    coco = synthetic_coco(40)
    orig = copy.deepcopy(coco)
    kept, erased = make_sparse(coco, seed=1, level=level)
    assert coco == orig
    n_in = Counter(a["image_id"] for a in coco["annotations"] if not a["iscrowd"])
    n_kept = Counter(a["image_id"] for a in kept["annotations"] if not a["iscrowd"])
    assert any(n >= 2 for n in n_in.values()) and any(n == 1 for n in n_in.values())
    for img in coco["images"]:
        n = n_in.get(img["id"], 0)
        expected = {"easy": n - 1 if n >= 2 else n, "hard": n - n // 2, "extreme": min(n, 1)}[level]
        assert n_kept.get(img["id"], 0) == expected, (img["id"], n)
    assert all(not a["iscrowd"] for a in erased["annotations"])
    crowd = {a["id"] for a in coco["annotations"] if a["iscrowd"]}
    assert crowd <= {a["id"] for a in kept["annotations"]}
    ids = sorted(a["id"] for a in kept["annotations"] + erased["annotations"])
    assert ids == sorted(a["id"] for a in coco["annotations"])
    assert kept["info"]["params"]["level"] == level


def test_sparse_50miss_per_category_exact():
    coco = synthetic_coco(40)
    kept, erased = make_sparse(coco, seed=5, level="50miss")
    n_in = Counter(a["category_id"] for a in coco["annotations"] if not a["iscrowd"])
    n_er = Counter(a["category_id"] for a in erased["annotations"])
    assert all(n_er[c] == n // 2 for c, n in n_in.items())
    # not per image: some image loses more than half of its objects or none at all
    per_img_in = Counter(a["image_id"] for a in coco["annotations"] if not a["iscrowd"])
    per_img_er = Counter(a["image_id"] for a in erased["annotations"])
    assert any(per_img_er.get(i, 0) != per_img_in[i] // 2 for i in per_img_in)
    k30, e30 = make_sparse(coco, seed=5, level="50miss", miss_fraction=0.3)
    n_er30 = Counter(a["category_id"] for a in e30["annotations"])
    assert all(n_er30[c] == int(math.floor(0.3 * n + 1e-9)) for c, n in n_in.items())


def test_sparse_seed_changes_choice():
    coco = synthetic_coco(30)
    a = [x["id"] for x in make_sparse(coco, seed=0, level="hard")[1]["annotations"]]
    b = [x["id"] for x in make_sparse(coco, seed=1, level="hard")[1]["annotations"]]
    assert len(a) == len(b) and a != b


# ----------------------------------------------------------------------------- coarse points


def test_coarse_points_inside_mask_and_box():
    coco = synthetic_coco(40)
    orig = copy.deepcopy(coco)
    out = make_coarse_points(coco, seed=0)
    assert coco == orig
    images = {i["id"]: i for i in coco["images"]}
    n_checked = 0
    for a, p in zip(coco["annotations"], out["annotations"]):
        assert p["id"] == a["id"]
        x, y = p["point"]
        bx, by, bw, bh = a["bbox"]
        assert bx <= x <= bx + bw and by <= y <= by + bh
        img = images[a["image_id"]]
        m, (x0, y0) = box_local_mask(a.get("segmentation"), a["bbox"], (img["height"], img["width"]))
        if bw >= 2 and bh >= 2 and m is not None and m.any():
            assert m[int(math.floor(y)) - y0, int(math.floor(x)) - x0] == 1, a["id"]
            n_checked += 1
    assert n_checked > 50
    st = out["info"]["statistics"]
    assert st["sampled"] == n_checked and st["annotations"] == len(coco["annotations"])


def test_coarse_points_degenerate_fall_back_to_centre():
    c = {"images": [{"id": 1, "file_name": "a", "width": 50, "height": 50}], "categories": [{"id": 1, "name": "a"}],
         "annotations": [
             _ann(1, 1, 1, [10, 10, 1.5, 8]),  # box < 2 px
             _ann(2, 1, 1, [10, 10, 8, 8], seg=[[30, 30, 40, 30, 40, 40]]),  # polygon outside its box: empty mask
             _ann(3, 1, 1, [10, 10, 8, 8], seg=[[10, 10, 12, 12, 14, 14]]),  # zero-area polygon
         ]}
    out = make_coarse_points(c, seed=0)
    assert [a["point"] for a in out["annotations"]] == [[10.75, 14.0], [14.0, 14.0], [14.0, 14.0]]
    st = out["info"]["statistics"]
    assert st["fallback_small_box"] == 1 and st["fallback_empty_mask"] == 2 and st["sampled"] == 0


def _many_copies(box, n, width=256, height=256, seg=None):
    return {"images": [{"id": 1, "file_name": "a", "width": width, "height": height}],
            "categories": [{"id": 1, "name": "a"}],
            "annotations": [_ann(i + 1, 1, 1, box, seg=seg) for i in range(n)]}


def test_coarse_points_gaussian_spread_sigma_quarter_box():
    # 3000 draws on a 160 x 80 box without mask. RG(0, 1/4) truncated by the box at +-2 sigma:
    # std = sigma * sqrt(1 - 2*2*phi(2) / (2*Phi(2) - 1)) = 0.8796 sigma (hand-computed), sigma = w/4
    box = [40.0, 60.0, 160.0, 80.0]
    out = make_coarse_points(_many_copies(box, 3000), seed=0)
    pts = np.array([a["point"] for a in out["annotations"]])
    trunc = math.sqrt(1 - 4 * 0.05399096651 / 0.95449973610)
    assert trunc == pytest.approx(0.8796, abs=1e-4)
    np.testing.assert_allclose(pts.std(0), [trunc * 160 / 4, trunc * 80 / 4], rtol=0.05)
    np.testing.assert_allclose(pts.mean(0), [120.0, 100.0], atol=1.0)
    # sigma is a parameter: sigma = w/2 is truncated at +-1 sigma:
    # std = sqrt(1 - 2*phi(1) / (2*Phi(1) - 1)) sigma = 0.5395 sigma
    wide = make_coarse_points(_many_copies(box, 3000), seed=0, sigma=(0.5, 0.5))
    trunc1 = math.sqrt(1 - 2 * 0.24197072452 / 0.68268949214)
    assert trunc1 == pytest.approx(0.5395, abs=1e-4)
    wp = np.array([a["point"] for a in wide["annotations"]])
    np.testing.assert_allclose(wp.std(0), [trunc1 * 160 / 2, trunc1 * 80 / 2], rtol=0.05)


def test_quasi_center_points_inside_ellipse():
    box = [10.0, 20.0, 200.0, 120.0]  # semi-axes min(96, 0.125 * w|h) = 25, 15
    out = make_quasi_center_points(_many_copies(box, 500), seed=0)
    pts = np.array([a["point"] for a in out["annotations"]])
    d = ((pts[:, 0] - 110.0) / (25 + 1)) ** 2 + ((pts[:, 1] - 80.0) / (15 + 1)) ** 2  # +1 px: jitter in the pixel
    assert (d <= 1.0).all()
    assert pts[:, 0].std() > 5  # still random
    big = make_quasi_center_points(_many_copies([0.0, 0.0, 1000.0, 900.0], 60, 1000, 900), seed=0)
    bp = np.array([a["point"] for a in big["annotations"]])
    assert (np.abs(bp - [500, 450]) <= 97).all()  # capped at 96 px
    assert np.abs(bp[:, 0] - 500).max() > 60  # the cap, not 0.125*w (=125) nor a tiny ellipse
    assert out["info"]["generator"] == "pointdet.quasi_center_points"
    assert out["info"]["params"]["center_max_semi_axis"] == 96.0


def test_point_and_click_files_drop_full_annotation():
    coco = synthetic_coco(10)
    for out, key in ((make_coarse_points(coco, 0), "point"), (make_center_clicks(coco, 0), "clicks"),
                     (make_center_clicks(coco, 0, num_annotators=2), "clicks")):
        for a, src in zip(out["annotations"], coco["annotations"]):
            assert not {"bbox", "segmentation", "area"} & set(a)
            assert {"id", "image_id", "category_id", "iscrowd", key} <= set(a)
            assert a["true_bbox"] == src["bbox"] and a["true_area"] == src["area"]
            assert ("true_segmentation" in a) == ("segmentation" in src)
    c2 = make_center_clicks(coco, 0, num_annotators=2)
    assert all(np.shape(a["clicks"]) == (2, 2) for a in c2["annotations"])
    c1 = make_center_clicks(coco, 0)
    assert all(np.shape(a["clicks"]) == (1, 2) for a in c1["annotations"])


def test_clicks_inside_box_and_spread():
    box = [20.0, 30.0, 100.0, 50.0]
    out = make_center_clicks(_many_copies(box, 2000), seed=0, alpha=0.1, num_annotators=2)
    c = np.array([a["clicks"] for a in out["annotations"]])  # (N, 2, 2)
    assert ((c[..., 0] >= 20) & (c[..., 0] <= 120) & (c[..., 1] >= 30) & (c[..., 1] <= 80)).all()
    np.testing.assert_allclose(c.reshape(-1, 2).std(0), [10.0, 5.0], rtol=0.06)
    assert not np.allclose(c[:, 0], c[:, 1])  # two independent annotators
    with pytest.raises(ValueError, match="num_annotators"):
        make_center_clicks(_many_copies(box, 2), 0, num_annotators=3)


# ----------------------------------------------------------------------------- files: determinism, info, errors

RUNNERS = {
    "coarse": (run_coarse_points, {}, "coarse_points_s{}"),
    "qc": (run_quasi_center_points, {}, "quasi_center_points_s{}"),
    "clicks1": (run_center_clicks, {}, "clicks1_s{}"),
    "clicks2": (run_center_clicks, {"num_annotators": 2}, "clicks2_s{}"),
    "keep1": (run_keep1, {}, "keep1_s{}"),
    "sparse_easy": (run_sparse, {"level": "easy"}, "sparse_easy_s{}"),
    "sparse_50miss": (run_sparse, {"level": "50miss"}, "sparse_50miss_s{}"),
}


def _out_paths(res):
    return [res] if isinstance(res, str) else list(res)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_same_seed_byte_identical_different_seed_differs(tmp_path, name):
    fn, kw, suffix = RUNNERS[name]
    src = write_json(synthetic_coco(15), tmp_path / "train.json")
    p1 = _out_paths(fn(src, seed=7, verbose=False, **kw))
    assert os.path.basename(p1[0]) == f"train_{suffix.format(7)}.json"
    assert os.path.dirname(p1[0]) == str(tmp_path)
    other = tmp_path / "again"
    p2 = _out_paths(fn(src, str(other / "x.json"), seed=7, verbose=False, **kw))
    for a, b in zip(p1, p2):
        assert open(a, "rb").read() == open(b, "rb").read()
    p3 = _out_paths(fn(src, seed=8, verbose=False, **kw))
    assert open(p1[0], "rb").read() != open(p3[0], "rb").read()
    if len(p1) == 2:
        assert p1[1].endswith(f"train_{suffix.format(7)}_erased.json")


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_info_recorded(tmp_path, name, capsys):
    fn, kw, _ = RUNNERS[name]
    src = write_json(synthetic_coco(8), tmp_path / "train.json")
    out = _out_paths(fn(src, seed=3, **kw))
    printed = capsys.readouterr().out
    assert "images: 8" in printed and "per category" in printed
    for p in out:
        info = json.load(open(p))["info"]
        assert info["generator"].startswith("pointdet.")
        assert info["seed"] == 3 and "params" in info
        assert info["source_file"] == "train.json" and info["source_sha256"] == file_sha256(src)
        assert info["statistics"]["images"] == 8 and "per_category" in info["statistics"]
        assert info["source_info"] == {"description": "synthetic"}
    for k, v in kw.items():
        assert json.load(open(out[0]))["info"]["params"][k] == v


def _bad_inputs(tmp_path):
    good = synthetic_coco(4, width=64, height=64)
    assert len(good["annotations"]) >= 3
    cases = {}
    p = tmp_path / "malformed.json"
    p.write_text('{"images": [')
    cases["malformed"] = (str(p), "not valid JSON")
    cases["non_coco"] = (write_json({"foo": 1}, tmp_path / "noncoco.json"), "missing top-level 'images'")
    c = copy.deepcopy(good)
    c["annotations"][1]["id"] = 0
    cases["zero_based"] = (write_json(c, tmp_path / "zero.json"), "annotation id 0")
    c = copy.deepcopy(good)
    c["annotations"][2]["id"] = c["annotations"][0]["id"]
    cases["duplicate"] = (write_json(c, tmp_path / "dup.json"), f"duplicate annotation id {c['annotations'][0]['id']}")
    c = copy.deepcopy(good)
    c["annotations"][1]["bbox"][2] = 0
    cases["degenerate"] = (write_json(c, tmp_path / "degen.json"), f"annotation id {c['annotations'][1]['id']} has a degenerate bbox")
    c = copy.deepcopy(good)
    c["annotations"][1]["category_id"] = 99
    cases["unknown_cat"] = (write_json(c, tmp_path / "cat.json"), f"annotation id {c['annotations'][1]['id']} has unknown category id 99")
    return cases


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_bad_input_clear_error_and_no_output(tmp_path, name):
    fn, kw, _ = RUNNERS[name]
    for case, (path, msg) in _bad_inputs(tmp_path).items():
        before = set(os.listdir(tmp_path))
        with pytest.raises(CocoFormatError) as e:
            fn(path, seed=0, verbose=False, **kw)
        assert path in str(e.value) and msg in str(e.value), (case, str(e.value))
        assert set(os.listdir(tmp_path)) == before, case


def test_point_file_as_input_is_rejected(tmp_path):
    src = write_json(synthetic_coco(5), tmp_path / "t.json")
    pts = run_coarse_points(src, seed=0, verbose=False)
    before = set(os.listdir(tmp_path))
    for fn in (run_coarse_points, run_center_clicks):
        with pytest.raises(CocoFormatError, match="annotation id 1 has no 'bbox'"):
            fn(pts, seed=1, verbose=False)
    assert set(os.listdir(tmp_path)) == before


def test_image_root_checked_and_output_never_overwrites_input(tmp_path):
    src = write_json(synthetic_coco(3), tmp_path / "t.json")
    with pytest.raises(CocoFormatError, match="image id 1 file not found"):
        run_keep1(src, seed=0, image_root=str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="overwrite the input"):
        run_sparse(src, src, seed=0, level="easy", verbose=False)
    assert os.listdir(tmp_path) == ["t.json"]


# ----------------------------------------------------------------------------- two outputs: both or neither


@pytest.mark.parametrize("runner,kw", [(run_keep1, {}), (run_sparse, {"level": "hard"})])
def test_failed_second_write_keeps_previous_versions(tmp_path, monkeypatch, runner, kw):
    """Keep1/sparse write a main file and its _erased.json: a failure while putting the second
    in place must neither leave a new first file nor delete its previous version."""
    from pointdet.utils import file_io

    src = write_json(synthetic_coco(10), tmp_path / "train.json")
    main, erased = runner(src, seed=0, verbose=False, **kw)
    old = {p: open(p, "rb").read() for p in (main, erased)}
    real_replace = os.replace

    def replace(a, b):
        if os.path.abspath(b) == os.path.abspath(main):  # renamed last, after the erased file
            raise OSError("injected failure")
        return real_replace(a, b)

    monkeypatch.setattr(file_io.os, "replace", replace)
    with pytest.raises(OSError, match="injected failure"):
        runner(src, main, seed=1, verbose=False, **kw)  # another seed, same output names
    monkeypatch.undo()
    assert {p: open(p, "rb").read() for p in (main, erased)} == old
    assert sorted(os.listdir(tmp_path)) == sorted(["train.json", os.path.basename(main), os.path.basename(erased)])

    # first run: neither file appears
    for p in (main, erased):
        os.remove(p)
    monkeypatch.setattr(file_io.os, "replace", replace)
    with pytest.raises(OSError):
        runner(src, main, seed=1, verbose=False, **kw)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["train.json"]


def test_generator_removes_stale_temp_files_of_its_outputs(tmp_path):
    src = write_json(synthetic_coco(4), tmp_path / "train.json")
    stale = [tmp_path / ".train_keep1_s0.json.tmp-dead01", tmp_path / ".train_keep1_s0_erased.json.tmp-dead02"]
    other = tmp_path / ".train_clicks1_s0.json.tmp-alive"  # another writer's output: untouched
    for f in stale + [other]:
        f.write_text("{\"partial")
    run_keep1(src, seed=0, verbose=False)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["train.json", "train_keep1_s0.json", "train_keep1_s0_erased.json", other.name]
    )


# ----------------------------------------------------------------------------- declared image sizes


def _png(path, hw):
    from PIL import Image

    Image.fromarray(np.zeros((hw[0], hw[1], 3), dtype=np.uint8)).save(path)


@pytest.mark.parametrize("name", ["coarse", "keep1"])
def test_declared_size_checked_against_image_files(tmp_path, name):
    """A file that declares 100x100 for larger images used to turn every point into a box centre."""
    fn, kw, _ = RUNNERS[name]
    coco = synthetic_coco(3, width=100, height=100)
    for img in coco["images"]:
        _png(tmp_path / img["file_name"], (68, 102))  # actual size differs
    src = write_json(coco, tmp_path / "t.json")
    before = set(os.listdir(tmp_path))
    with pytest.raises(CocoFormatError, match="t.json: image id 1 is 102x68 on disk .* but 100x100 in the file"):
        fn(src, seed=0, image_root=str(tmp_path), verbose=False, **kw)
    assert set(os.listdir(tmp_path)) == before


def test_declared_size_too_small_warns_without_image_root(tmp_path, caplog):
    coco = synthetic_coco(6, width=96, height=80)
    for img in coco["images"]:
        img.update(width=20, height=20)  # most boxes now extend beyond, or lie outside, the declared size
    for a in coco["annotations"]:
        a.pop("segmentation", None)  # (an RLE of the real size would be refused outright)
    src = write_json(coco, tmp_path / "t.json")
    with caplog.at_level("WARNING", logger="pointdet.data.coco_io"):
        run_coarse_points(src, seed=0, verbose=False)
    assert "t.json:" in caplog.text and "(are the images' width/height right?)" in caplog.text


def test_file_name_outside_image_root_refused_by_generators(tmp_path):
    coco = synthetic_coco(2)
    (tmp_path / "img").mkdir()
    for img in coco["images"]:
        _png(tmp_path / img["file_name"], (80, 96))
        img["file_name"] = "../" + img["file_name"]
    src = write_json(coco, tmp_path / "t.json")
    with pytest.raises(CocoFormatError, match="image id 1 has file_name '../img1.png'.*refused"):
        run_center_clicks(src, seed=0, image_root=str(tmp_path / "img"), verbose=False)
    out = run_center_clicks(src, seed=0, image_root=str(tmp_path / "img"), verbose=False, allow_outside_image_root=True)
    assert os.path.isfile(out)
