"""Tests of pointdet.data.dataset_mapper: points through flip/resize/crop, no box leakage, two views."""
import copy

import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import DatasetMapper
from detectron2.data import transforms as T
from detectron2.structures import BoxMode
from PIL import Image

from pointdet.data.dataset_mapper import (
    PointDatasetMapper,
    TwoViewDatasetMapper,
    add_point_data_config,
    color_jitter,
)

W, H = 40, 30


@pytest.fixture
def image_file(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    img[:, :, 0] = np.linspace(10, 240, W, dtype=np.uint8)[None, :]  # a horizontal gradient: flips show
    path = tmp_path / "img.png"
    Image.fromarray(img).save(path)
    return str(path)


def _point_dict(image_file, extra_keys=False):
    anns = [
        {"id": 7, "category_id": 0, "iscrowd": 0, "point": [10.5, 5.25]},
        {"id": 8, "category_id": 1, "iscrowd": 0, "point": [30.0, 20.0]},
        {"id": 9, "category_id": 0, "iscrowd": 1, "point": [1.0, 1.0]},
    ]
    if extra_keys:
        for a in anns:
            x, y = a["point"]
            a.update(
                bbox=[x - 2, y - 2, 4, 4],
                bbox_mode=BoxMode.XYWH_ABS,
                segmentation=[[x - 2, y - 2, x + 2, y - 2, x + 2, y + 2]],
                area=16.0,
                keypoints=[x, y, 2],
                true_bbox=[x - 2, y - 2, 4, 4],
                true_segmentation=[[x - 2, y - 2, x + 2, y - 2, x + 2, y + 2]],
                true_area=16.0,
            )
    return {"file_name": image_file, "height": H, "width": W, "image_id": 3, "annotations": anns}


def _mapper(augs, **kwargs):
    kwargs.setdefault("is_train", True)
    return PointDatasetMapper(augmentations=augs, image_format="RGB", **kwargs)


def _points(out):
    return out["instances"].gt_points.numpy().tolist()


def test_identity_keeps_points_ids_classes_and_drops_crowd(image_file):
    out = _mapper([])(_point_dict(image_file))
    inst = out["instances"]
    assert inst.gt_points.dtype == torch.float32 and inst.gt_points.shape == (2, 2)
    assert _points(out) == [[10.5, 5.25], [30.0, 20.0]]
    assert inst.gt_classes.tolist() == [0, 1] and inst.gt_classes.dtype == torch.int64
    assert inst.gt_ann_ids.tolist() == [7, 8] and inst.gt_ann_ids.dtype == torch.int64
    assert inst.image_size == (H, W) and tuple(out["image"].shape) == (3, H, W)
    assert not inst.has("gt_point_valid") and not inst.has("gt_point_ignore")


def test_keep_crowd_flags_ignore(image_file):
    inst = _mapper([], keep_crowd=True)(_point_dict(image_file))["instances"]
    assert inst.gt_ann_ids.tolist() == [7, 8, 9]
    assert inst.gt_point_ignore.tolist() == [False, False, True]


def test_hflip_points(image_file):
    out = _mapper([T.RandomFlip(prob=1.0, horizontal=True)])(_point_dict(image_file))
    assert _points(out) == [[40 - 10.5, 5.25], [10.0, 20.0]]


def test_vflip_points(image_file):
    out = _mapper([T.RandomFlip(prob=1.0, horizontal=False, vertical=True)])(_point_dict(image_file))
    assert _points(out) == [[10.5, 30 - 5.25], [30.0, 10.0]]


def test_resize_points(image_file):
    out = _mapper([T.Resize((60, 80))])(_point_dict(image_file))  # x2 in both axes
    assert _points(out) == [[21.0, 10.5], [60.0, 40.0]]
    assert out["instances"].image_size == (60, 80)
    out = _mapper([T.Resize((15, 10))])(_point_dict(image_file))  # x 1/4, y 1/2
    assert np.allclose(_points(out), [[2.625, 2.625], [7.5, 10.0]])


def test_crop_points_drop_and_mark(image_file):
    crop = T.CropTransform(5, 2, 20, 20)  # x0, y0, w, h
    out = _mapper([crop])(_point_dict(image_file))
    assert _points(out) == [[5.5, 3.25]]  # (30, 20) -> (25, 18) is outside the 20x20 crop
    assert out["instances"].gt_ann_ids.tolist() == [7]
    out = _mapper([crop], out_of_image="mark")(_point_dict(image_file))
    assert _points(out) == [[5.5, 3.25], [25.0, 18.0]]
    assert out["instances"].gt_point_valid.tolist() == [True, False]


def test_point_on_border_is_inside(image_file):
    d = _point_dict(image_file)
    d["annotations"] = [{"id": 1, "category_id": 0, "iscrowd": 0, "point": [40.0, 0.0]}]
    assert _points(_mapper([])(d)) == [[40.0, 0.0]]
    d["annotations"][0]["point"] = [40.01, 0.0]
    assert _points(_mapper([])(d)) == []


def test_chain_resize_flip_crop(image_file):
    augs = [T.Resize((60, 80)), T.RandomFlip(prob=1.0), T.CropTransform(10, 0, 60, 50)]
    out = _mapper(augs)(_point_dict(image_file))
    # (10.5, 5.25) -> (21, 10.5) -> (59, 10.5) -> (49, 10.5); (30, 20) -> (60, 40) -> (20, 40) -> (10, 40)
    assert _points(out) == [[49.0, 10.5], [10.0, 40.0]]


def test_pseudo_boxes_scale_with_resize_and_clip(image_file):
    out = _mapper([T.Resize((60, 80))], pseudo_box_size=16)(_point_dict(image_file))
    boxes = out["instances"].gt_boxes.tensor.numpy()
    # original (10.5, 5.25) +-8 = [2.5, -2.75, 18.5, 13.25], x2 = [5, -5.5, 37, 26.5], clipped at y=0
    # original (30, 20) +-8 = [22, 12, 38, 28], x2 = [44, 24, 76, 56]
    assert np.allclose(boxes, [[5, 0, 37, 26.5], [44, 24, 76, 56]])
    centres = out["instances"].gt_boxes.get_centers().numpy()
    assert np.allclose(centres[1], _points(out)[1])


def test_no_box_mask_or_analysis_leak(image_file):
    augs = [T.Resize((60, 80)), T.RandomFlip(prob=1.0)]
    mapper = _mapper(augs, keep_crowd=True)
    with_keys = _point_dict(image_file, extra_keys=True)
    before = copy.deepcopy(with_keys)
    out_with = mapper(with_keys)
    out_without = mapper(_point_dict(image_file))
    assert with_keys == before  # the input dict is not mutated
    inst_w, inst_wo = out_with["instances"], out_without["instances"]
    assert set(inst_w.get_fields()) == {"gt_points", "gt_classes", "gt_ann_ids", "gt_point_ignore"}
    assert not inst_w.has("gt_boxes") and not inst_w.has("gt_masks") and not inst_w.has("gt_keypoints")
    assert set(inst_w.get_fields()) == set(inst_wo.get_fields())
    for k in inst_w.get_fields():
        assert torch.equal(inst_w.get(k), inst_wo.get(k)), k
    assert torch.equal(out_with["image"], out_without["image"])
    assert set(out_with) == set(out_without)
    assert "annotations" not in out_with


def test_empty_image_has_fields(image_file):
    d = _point_dict(image_file)
    d["annotations"] = []
    inst = _mapper([], pseudo_box_size=16)(d)["instances"]
    assert inst.gt_points.shape == (0, 2) and inst.gt_points.dtype == torch.float32
    assert inst.gt_classes.shape == (0,) and inst.gt_ann_ids.shape == (0,)
    assert inst.gt_boxes.tensor.shape == (0, 4)
    d["annotations"] = [{"id": 9, "category_id": 0, "iscrowd": 1}]  # a crowd region only
    inst = _mapper([], out_of_image="mark")(d)["instances"]
    assert inst.gt_points.shape == (0, 2) and inst.gt_point_valid.shape == (0,)


def test_box_file_given_to_points_mapper_raises(image_file):
    d = _point_dict(image_file)
    d["annotations"] = [{"id": 11, "category_id": 0, "iscrowd": 0, "bbox": [1, 1, 5, 5], "bbox_mode": BoxMode.XYWH_ABS}]
    with pytest.raises(ValueError, match=r"image id 3, annotation id 11: supervision='points' needs a 'point'"):
        _mapper([])(d)


def test_clicks(image_file):
    d = _point_dict(image_file)
    d["annotations"] = [
        {"id": 1, "category_id": 0, "iscrowd": 0, "clicks": [[10.0, 5.0], [12.0, 6.0]]},
        {"id": 2, "category_id": 0, "iscrowd": 0, "clicks": [[38.0, 5.0], [42.0, 6.0]]},  # a click outside
    ]
    out = _mapper([T.RandomFlip(prob=1.0)], supervision="clicks")(d)
    inst = out["instances"]
    assert not inst.has("gt_points")
    assert inst.gt_clicks.shape == (1, 2, 2)
    assert inst.gt_clicks.tolist() == [[[30.0, 5.0], [28.0, 6.0]]]
    inst = _mapper([], supervision="clicks", out_of_image="mark")(d)["instances"]
    assert inst.gt_point_valid.tolist() == [True, False]
    d["annotations"] = []
    assert _mapper([], supervision="clicks", num_clicks=2)(d)["instances"].gt_clicks.shape == (0, 2, 2)
    d["annotations"] = [{"id": 1, "category_id": 0, "iscrowd": 0, "point": [1.0, 1.0]}]
    with pytest.raises(ValueError, match="annotation id 1: supervision='clicks' needs a 'clicks'"):
        _mapper([], supervision="clicks")(d)


def test_boxes_supervision_equals_detectron2(image_file):
    d = _point_dict(image_file, extra_keys=True)
    for a in d["annotations"]:
        del a["keypoints"]
    augs = [T.Resize((60, 80)), T.RandomFlip(prob=1.0)]
    out = _mapper(augs, supervision="boxes")(copy.deepcopy(d))
    ref = DatasetMapper(True, augmentations=augs, image_format="RGB")(copy.deepcopy(d))
    assert torch.equal(out["instances"].gt_boxes.tensor, ref["instances"].gt_boxes.tensor)
    # boxes [8.5,3.25,12.5,7.25] and [28,18,32,22] x2 then flipped in an 80-wide image
    assert np.allclose(out["instances"].gt_boxes.tensor.numpy(), [[55, 6.5, 63, 14.5], [16, 36, 24, 44]])


def test_inference_keeps_only_image(image_file):
    out = _mapper([T.Resize((60, 80))], is_train=False)(_point_dict(image_file))
    assert "instances" not in out and "annotations" not in out and out["image"].shape == (3, 60, 80)
    out = _mapper([T.Resize((60, 80))], is_train=False, keep_points_in_inference=True)(_point_dict(image_file))
    assert _points(out) == [[21.0, 10.5], [60.0, 40.0]]


def test_bad_options():
    with pytest.raises(ValueError, match="supervision"):
        _mapper([], supervision="masks")
    with pytest.raises(ValueError, match="out_of_image"):
        _mapper([], out_of_image="clip")
    with pytest.raises(ValueError, match="pseudo_box_size"):
        _mapper([], supervision="clicks", pseudo_box_size=16)
    with pytest.raises(ValueError, match="instance masks"):
        _mapper([], use_instance_mask=True)


def test_from_config():
    cfg = add_point_data_config(get_cfg())
    cfg.MODEL.MASK_ON = True  # e.g. SAPNet: masks are predicted, never read from a point file
    cfg.INPUT.PSEUDO_BOX_SIZE = 16
    m = PointDatasetMapper(cfg, is_train=True)
    assert (m.supervision, m.out_of_image, m.pseudo_box_size, m.use_instance_mask) == ("points", "drop", 16, False)
    cfg.INPUT.POINT_SUPERVISION = "boxes"
    with pytest.raises(ValueError, match="pseudo_box_size"):  # contradictory keys fail loudly
        PointDatasetMapper(cfg, is_train=True)
    cfg.INPUT.PSEUDO_BOX_SIZE = 0
    assert PointDatasetMapper(cfg, is_train=True).use_instance_mask
    cfg.INPUT.COLOR_JITTER.SEED = 5
    tv = TwoViewDatasetMapper(cfg, is_train=True)
    assert tv.jitter_params == dict(brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2, prob=0.8)
    assert tv.generator is not None


# ---- Co-mining's two views ----


def _box_dict(image_file):
    d = _point_dict(image_file, extra_keys=True)
    for a in d["annotations"]:
        for k in ("keypoints", "point", "true_bbox", "true_segmentation", "true_area"):
            del a[k]
    return d


def test_two_view_shares_geometry_and_differs_in_colour(image_file):
    augs = [T.Resize((60, 80)), T.RandomFlip(prob=1.0)]
    kw = dict(is_train=True, augmentations=augs, image_format="RGB")
    plain = PointDatasetMapper(supervision="boxes", **kw)(_box_dict(image_file))
    out = TwoViewDatasetMapper(seed=0, contrast=0, saturation=0, hue=0, jitter_prob=1.0, **kw)(_box_dict(image_file))
    assert torch.equal(out["image"], plain["image"])
    assert torch.equal(out["instances"].gt_boxes.tensor, plain["instances"].gt_boxes.tensor)
    img, jit = out["image"].double(), out["image_jittered"].double()
    assert jit.shape == img.shape and out["image_jittered"].dtype == torch.uint8
    assert not torch.equal(img, jit)
    # brightness only: every pixel is the same view scaled by one factor f (truncated to uint8)
    mask = (img > 50) & (jit < 250)
    f = (jit[mask] / img[mask]).median()
    assert 0.2 <= f <= 1.8
    expected = (img * f).clamp(0, 255).floor()
    assert (expected - jit).abs().max() <= 1.0


def test_two_view_seeded_determinism_and_bgr(image_file):
    kw = dict(is_train=True, augmentations=[T.RandomFlip(prob=1.0)])
    a = TwoViewDatasetMapper(seed=3, image_format="RGB", **kw)
    b = TwoViewDatasetMapper(seed=3, image_format="RGB", **kw)
    c = TwoViewDatasetMapper(seed=4, image_format="RGB", **kw)
    bgr = TwoViewDatasetMapper(seed=3, image_format="BGR", **kw)
    outs_a = [a(_box_dict(image_file))["image_jittered"] for _ in range(3)]
    outs_b = [b(_box_dict(image_file))["image_jittered"] for _ in range(3)]
    outs_c = [c(_box_dict(image_file))["image_jittered"] for _ in range(3)]
    outs_bgr = [bgr(_box_dict(image_file))["image_jittered"] for _ in range(3)]
    assert all(torch.equal(x, y) for x, y in zip(outs_a, outs_b))
    assert not all(torch.equal(x, y) for x, y in zip(outs_a, outs_c))
    # jitter happens in RGB whatever the input format
    assert all(torch.equal(x, y.flip(0)) for x, y in zip(outs_a, outs_bgr))
    assert "image_jittered" not in TwoViewDatasetMapper(seed=3, image_format="RGB", is_train=False, augmentations=[])(
        _box_dict(image_file)
    )


def test_color_jitter_probability_and_strengths():
    img = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(color_jitter(img, prob=0.0, generator=g), img)
    assert torch.equal(color_jitter(img, brightness=0, contrast=0, saturation=0, hue=0, prob=1.0, generator=g), img)
    g = torch.Generator().manual_seed(0)
    applied = sum(not torch.equal(color_jitter(img, generator=g), img) for _ in range(100))
    assert 65 <= applied <= 95  # p = 0.8 (binomial sd 4)
    with pytest.raises(ValueError, match="RGB"):
        color_jitter(img[:1])


def test_lazyconfig_instantiate(image_file):
    from detectron2.config import LazyCall as L
    from detectron2.config import instantiate

    cfg = L(TwoViewDatasetMapper)(
        is_train=True, augmentations=[L(T.RandomFlip)(prob=1.0)], image_format="RGB", seed=0, hue=0.1
    )
    m = instantiate(cfg)
    assert isinstance(m, TwoViewDatasetMapper) and m.jitter_params["hue"] == 0.1 and m.supervision == "boxes"
    assert "image_jittered" in m(_box_dict(image_file))
    m = instantiate(L(PointDatasetMapper)(is_train=True, augmentations=[], image_format="RGB", pseudo_box_size=16))
    assert m(_point_dict(image_file))["instances"].gt_boxes.tensor.shape == (2, 4)
