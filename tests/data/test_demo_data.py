"""The embedded demo data: conversion of the real deepforest / stardist files, splits,
determinism, caching and Detectron2 registration (fetched once per machine, ~37 MB)."""
import json
import os

import numpy as np
import pycocotools.mask as mask_util
import pytest

from detectron2.data import DatasetCatalog, MetadataCatalog

from pointdet.data import demo, demo_convert
from pointdet.data.coco_io import load_coco_dict
from pointdet.data.demo import (
    DEMO_SPLITS,
    clip_box_to_tile,
    mobilenet_v2_imagenet_weights,
    normalize_to_uint8,
    prepare_demo_data,
    register_demo_datasets,
    tile_starts,
)

# images, instances per split for the pinned archives and DEFAULT_PARAMS
EXPECTED_COUNTS = {
    "pointdet_trees_train": (60, 1049),
    "pointdet_trees_val": (20, 410),
    "pointdet_trees_test": (2, 98),  # OSBS_029 61 + SOAP_061 37, whole images
    "pointdet_nuclei_train": (3, 108),
    "pointdet_nuclei_val": (1, 28),
}


@pytest.fixture(scope="session")
def demo_paths():
    return prepare_demo_data()


@pytest.fixture(scope="session")
def coco(demo_paths):
    out = {}
    for name, (sub, _, _) in DEMO_SPLITS.items():
        out[name] = load_coco_dict(demo_paths[name], image_root=demo_paths[f"{sub}_image_root"])
    return out


# ---------------------------------------------------------------- pure helpers
def test_tile_starts_hand_values():
    assert tile_starts(865, 384, 64) == [0, 320, 481]
    assert tile_starts(1035, 384, 64) == [0, 320, 640, 651]
    assert tile_starts(704, 384, 64) == [0, 320]  # exact fit: no extra aligned tile
    assert tile_starts(384, 384, 64) == [0]
    assert tile_starts(100, 384, 64) == [0]
    with pytest.raises(ValueError):
        tile_starts(500, 384, 384)


def test_clip_box_to_tile_hand_values():
    tile = (100, 100, 200, 200)
    assert clip_box_to_tile((110, 120, 130, 150), tile) == (10, 20, 30, 50)  # inside
    # 60% of the area kept (x 100..112 of 92..112): kept, clipped
    assert clip_box_to_tile((92, 120, 112, 130), tile) == (0, 20, 12, 30)
    # 40% kept: dropped
    assert clip_box_to_tile((88, 120, 108, 130), tile) is None
    # >= 50% of area but only 1.5 px high: dropped
    assert clip_box_to_tile((150, 198.5, 160, 200), tile) is None
    assert clip_box_to_tile((0, 0, 50, 50), tile) is None  # outside
    assert clip_box_to_tile((88, 120, 108, 130), tile, min_kept_area_fraction=0.4) == (0, 20, 8, 30)


def test_normalize_to_uint8_hand_values():
    img = np.arange(101, dtype=np.uint16).reshape(1, 101)  # percentiles of 0..100 are exact
    out = normalize_to_uint8(img, 10, 90)
    assert out.dtype == np.uint8
    assert out[0, 0] == 0 and out[0, 10] == 0 and out[0, 90] == 255 and out[0, 100] == 255
    assert out[0, 50] == 128  # (50-10)/80*255 = 127.5 -> 128
    assert out[0, 20] == 32  # 10/80*255 = 31.875
    with pytest.raises(ValueError, match="constant"):
        normalize_to_uint8(np.ones((4, 4)))


# ---------------------------------------------------------------- converted data
def test_counts_per_split(coco):
    got = {k: (len(d["images"]), len(d["annotations"])) for k, d in coco.items()}
    assert got == EXPECTED_COUNTS
    assert demo.demo_summary() == {k: {"images": v[0], "instances": v[1]} for k, v in EXPECTED_COUNTS.items()}


def test_categories_ids_and_info(coco):
    for name, d in coco.items():
        thing = DEMO_SPLITS[name][2]
        assert [c["name"] for c in d["categories"]] == [thing]
        assert [im["id"] for im in d["images"]] == list(range(1, len(d["images"]) + 1))
        assert [a["id"] for a in d["annotations"]] == list(range(1, len(d["annotations"]) + 1))
        assert d["info"]["generator"] == "pointdet.data.demo" and len(d["info"]["source"]["sha256"]) == 64
        assert all(a["iscrowd"] == 0 and a["category_id"] == 1 for a in d["annotations"])


def test_tree_tiles_and_boxes_inside(coco, demo_paths):
    import cv2

    for name in ("pointdet_trees_train", "pointdet_trees_val"):
        d = coco[name]
        for im in d["images"]:
            assert (im["width"], im["height"]) == (384, 384)
            assert im["tile_box"][2:] == [384, 384]
        for a in d["annotations"]:
            x, y, w, h = a["bbox"]
            assert x >= 0 and y >= 0 and x + w <= 384 and y + h <= 384
            assert w >= 2 and h >= 2 and a["area"] == pytest.approx(w * h)
    im = coco["pointdet_trees_val"]["images"][0]
    arr = cv2.imread(os.path.join(demo_paths["trees_image_root"], im["file_name"]))
    assert arr.shape == (384, 384, 3) and arr.std() > 5  # a real image, not blank


def test_tree_tiles_are_crops_of_the_source(coco, demo_paths):
    """A tile's pixels equal the source image at its tile_box, and every source box lying
    fully inside the tile is in the tile's annotations, shifted by the tile origin."""
    import cv2

    archive = demo._find_archive(os.path.join(demo_paths["root"], "archives"), "deepforest")
    members = demo._read_members(archive, "deepforest")
    d = coco["pointdet_trees_val"]
    im = d["images"][5]
    stem = im["source_image"][: -len(".png")]
    src = demo_convert._decode_png(members[demo._DF + stem + ".png"], stem)
    _, _, boxes = demo_convert._parse_voc(members[demo._DF + stem + ".xml"], stem)
    tile = cv2.imread(os.path.join(demo_paths["trees_image_root"], im["file_name"]))
    x0, y0, w, h = im["tile_box"]
    assert np.array_equal(tile, src[y0 : y0 + h, x0 : x0 + w])
    inside = [(b[0] - x0, b[1] - y0, b[2] - b[0], b[3] - b[1]) for b in boxes
              if b[0] >= x0 and b[1] >= y0 and b[2] <= x0 + w and b[3] <= y0 + h]
    got = [tuple(a["bbox"]) for a in d["annotations"] if a["image_id"] == im["id"]]
    assert len(inside) >= 3 and set(inside) <= set(got)
    # the others are clipped remnants keeping >= 50% of their area
    assert len(got) - len(inside) == sum(
        clip_box_to_tile(b, (x0, y0, x0 + w, y0 + h)) is not None for b in boxes
    ) - len(inside)


def test_train_val_spatially_disjoint(coco):
    def regions(name):
        out = {}
        for im in coco[name]["images"]:
            out.setdefault(im["source_image"], []).append(im["tile_box"])
        return out

    train, val = regions("pointdet_trees_train"), regions("pointdet_trees_val")
    assert set(train) == set(val) and len(train) == 2  # both YELL images in both splits
    for src in train:
        val_x0 = min(b[0] for b in val[src])
        for x, y, w, h in train[src]:
            assert x + w <= val_x0, (src, x, w, val_x0)  # no overlap with any val tile
        for x, y, w, h in val[src]:
            assert x >= val_x0


def test_test_split_is_other_sites(coco):
    d = coco["pointdet_trees_test"]
    assert sorted(im["file_name"] for im in d["images"]) == ["OSBS_029.png", "SOAP_061.png"]
    assert all((im["width"], im["height"]) == (400, 400) for im in d["images"])
    per_image = {im["file_name"]: sum(a["image_id"] == im["id"] for a in d["annotations"]) for im in d["images"]}
    assert per_image == {"OSBS_029.png": 61, "SOAP_061.png": 37}  # Alive + Dead merged into "tree"


def test_nuclei_masks_decode_to_their_boxes(coco):
    for name in ("pointdet_nuclei_train", "pointdet_nuclei_val"):
        d = coco[name]
        for im in d["images"]:
            assert (im["width"], im["height"]) == (256, 256)
        union = {}
        for a in d["annotations"]:
            seg = a["segmentation"]
            assert seg["size"] == [256, 256] and isinstance(seg["counts"], str)
            m = mask_util.decode({"size": seg["size"], "counts": seg["counts"].encode()})
            assert m.sum() == a["area"] >= 20
            ys, xs = np.nonzero(m)
            assert a["bbox"] == [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]
            # instances of one tile do not overlap (they come from one label image)
            u = union.setdefault(a["image_id"], np.zeros((256, 256), np.uint8))
            assert not (u & m).any()
            u |= m


def test_nuclei_image_is_normalised_rgb(coco, demo_paths):
    import cv2

    im = coco["pointdet_nuclei_train"]["images"][0]
    arr = cv2.imread(os.path.join(demo_paths["nuclei_image_root"], im["file_name"]))
    assert arr.shape == (256, 256, 3) and arr.dtype == np.uint8
    assert np.array_equal(arr[..., 0], arr[..., 1]) and arr.max() == 255 and arr.min() == 0


# ---------------------------------------------------------------- determinism and cache
def test_forced_rebuild_is_byte_identical(demo_paths, tmp_path):
    root = str(tmp_path / "rebuild")
    cache = os.path.join(demo_paths["root"], "archives")  # reuse the downloads
    new = prepare_demo_data(root=root, force=True, cache_dir=cache)
    with open(demo_paths["manifest"]) as f:
        outputs = json.load(f)["outputs"]
    assert len(outputs) == 60 + 20 + 2 + 3 + 1 + 5 + 1
    for rel in outputs:
        with open(os.path.join(demo_paths["root"], rel), "rb") as a, open(os.path.join(root, rel), "rb") as b:
            assert a.read() == b.read(), rel
    assert new["pointdet_trees_train"] == os.path.join(root, "trees", "annotations", "trees_train.json")


def test_second_call_uses_manifest_without_network(demo_paths, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("prepare_demo_data ran a subprocess although the data is ready")

    monkeypatch.setattr(demo.subprocess, "run", no_network)
    monkeypatch.setattr(demo, "convert_trees", no_network)
    assert prepare_demo_data() == demo_paths


def test_weights_path(demo_paths, tmp_path):
    assert mobilenet_v2_imagenet_weights() == os.path.join(demo.demo_root(), "weights", demo.MOBILENET_V2_FILE)
    assert os.path.samefile(mobilenet_v2_imagenet_weights(), demo_paths["weights"])
    with pytest.raises(FileNotFoundError, match="tools/prepare_demo_data.py"):
        mobilenet_v2_imagenet_weights(root=str(tmp_path))


# ---------------------------------------------------------------- registration
def test_registered_datasets_load(demo_paths):
    for name, (n_img, n_inst) in EXPECTED_COUNTS.items():
        dicts = DatasetCatalog.get(name)
        assert len(dicts) == n_img and sum(len(d["annotations"]) for d in dicts) == n_inst
        meta = MetadataCatalog.get(name)
        assert meta.evaluator_type == "coco" and meta.thing_classes == [DEMO_SPLITS[name][2]]
        assert os.path.samefile(meta.json_file, demo_paths[name])
        assert os.path.isfile(dicts[0]["file_name"])


def test_nuclei_through_detectron2_mapper(demo_paths):
    import detectron2.data.transforms as T
    from detectron2.data import DatasetMapper

    mapper = DatasetMapper(
        is_train=True, augmentations=[T.RandomFlip()], image_format="RGB",
        use_instance_mask=True, instance_mask_format="bitmask",
    )
    out = mapper(DatasetCatalog.get("pointdet_nuclei_val")[0])
    inst = out["instances"]
    assert out["image"].shape == (3, 256, 256)
    assert len(inst) == 28 and inst.gt_masks.tensor.shape == (28, 256, 256)
    boxes_from_masks = inst.gt_masks.get_bounding_boxes().tensor
    assert np.allclose(boxes_from_masks.numpy(), inst.gt_boxes.tensor.numpy(), atol=1.0)


def test_unprepared_root_fails_clearly_then_restore(tmp_path):
    try:
        register_demo_datasets(root=str(tmp_path))
        assert MetadataCatalog.get("pointdet_trees_val").json_file.startswith(str(tmp_path))
        with pytest.raises(FileNotFoundError, match="pointdet_trees_val.*prepare_demo_data.py"):
            DatasetCatalog.get("pointdet_trees_val")
    finally:
        register_demo_datasets()
    assert not MetadataCatalog.get("pointdet_trees_val").json_file.startswith(str(tmp_path))
