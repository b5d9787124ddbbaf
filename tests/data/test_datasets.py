"""Tests of pointdet.data.datasets: the weak-annotation loader and dataset registration."""
import json
import os
import shlex
import subprocess
import sys
import uuid

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import transforms as T
from detectron2.structures import BoxMode
from PIL import Image

import pointdet  # noqa: F401  (registration at import)
from pointdet.data.coco_io import CocoFormatError
from pointdet.data.dataset_mapper import PointDatasetMapper
from pointdet.data.datasets import (
    detect_annotation_type,
    load_point_coco_json,
    register_all_weak_datasets,
    register_point_coco_instances,
    weak_dataset_variants,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _images(root, n=3, size=(24, 32)):
    os.makedirs(root, exist_ok=True)
    imgs = []
    for i in range(1, n + 1):
        name = f"im{i}.png"
        Image.fromarray(np.full((size[0], size[1], 3), 40 * i, dtype=np.uint8)).save(os.path.join(root, name))
        imgs.append({"id": i, "file_name": name, "width": size[1], "height": size[0]})
    return imgs


def _point_coco(images):
    cats = [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}]
    anns = [
        {"id": 10, "image_id": 1, "category_id": 7, "iscrowd": 0, "point": [4.5, 5.5],
         "true_bbox": [2, 3, 5, 5], "true_segmentation": [[2, 3, 7, 3, 7, 8]], "true_area": 12.5},
        {"id": 11, "image_id": 1, "category_id": 3, "iscrowd": 0, "point": [20.0, 10.0],
         "true_bbox": [18, 8, 4, 4], "true_area": 16.0},
        {"id": 12, "image_id": 2, "category_id": 3, "iscrowd": 1, "point": [1.0, 1.0]},
    ]  # image 3 has no annotation
    return {"info": {"generator": "test"}, "images": images, "annotations": anns, "categories": cats}


def _write(obj, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def _name():
    return "test_pointdet_" + uuid.uuid4().hex[:8]


def test_loader_keeps_point_and_id_drops_analysis_keys(tmp_path):
    imgs = _images(str(tmp_path / "images"))
    js = _write(_point_coco(imgs), str(tmp_path / "points.json"))
    name = _name()
    dicts = load_point_coco_json(js, str(tmp_path / "images"), name)
    assert [d["image_id"] for d in dicts] == [1, 2, 3]
    assert dicts[2]["annotations"] == []  # images without annotations are kept
    assert dicts[0]["file_name"] == os.path.join(str(tmp_path / "images"), "im1.png")
    a0, a1 = dicts[0]["annotations"]
    assert a0 == {"id": 10, "iscrowd": 0, "category_id": 1, "point": [4.5, 5.5]}  # 7 -> contiguous 1
    assert a1["category_id"] == 0 and a1["id"] == 11
    assert dicts[1]["annotations"][0]["iscrowd"] == 1
    meta = MetadataCatalog.get(name)
    assert meta.thing_classes == ["cat", "dog"]
    assert meta.thing_dataset_id_to_contiguous_id == {3: 0, 7: 1}
    assert meta.annotation_type == "points" and meta.evaluator_type == "point"

    full = load_point_coco_json(js, str(tmp_path / "images"), keep_analysis_keys=True)
    assert full[0]["annotations"][0]["true_bbox"] == [2, 3, 5, 5]
    assert full[0]["annotations"][0]["category_id"] == 7  # no dataset_name: ids unmapped, as Detectron2
    assert "true_segmentation" not in full[0]["annotations"][1]


def test_loader_clicks_and_boxes(tmp_path):
    imgs = _images(str(tmp_path / "images"), n=1)
    cats = [{"id": 1, "name": "a"}]
    clicks = {"images": imgs, "categories": cats, "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "clicks": [[1.0, 2.0], [3.0, 4.0]]}]}
    d = load_point_coco_json(_write(clicks, str(tmp_path / "c.json")), str(tmp_path / "images"))
    assert d[0]["annotations"][0]["clicks"] == [[1.0, 2.0], [3.0, 4.0]]
    boxes = {"images": imgs, "categories": cats, "annotations": [
        {"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [1, 2, 3, 4], "area": 12,
         "segmentation": [[1, 2, 4, 2, 4, 6]]},
        {"id": 6, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [1, 2, 3, 4],
         "segmentation": [[1, 2, 4, 2]]}]}  # invalid polygon: dropped, as Detectron2
    name = _name()
    d = load_point_coco_json(_write(boxes, str(tmp_path / "b.json")), str(tmp_path / "images"), name)
    assert d[0]["annotations"] == [{"id": 5, "iscrowd": 0, "category_id": 0, "bbox": [1, 2, 3, 4],
                                    "bbox_mode": BoxMode.XYWH_ABS, "segmentation": [[1, 2, 4, 2, 4, 6]]}]
    assert MetadataCatalog.get(name).annotation_type == "boxes"
    assert MetadataCatalog.get(name).evaluator_type == "coco"


def test_detect_annotation_type_errors():
    assert detect_annotation_type({"annotations": []}) is None
    assert detect_annotation_type({"annotations": [{"id": 1, "point": [0, 0]}, {"id": 2, "iscrowd": 1}]}) == "points"
    with pytest.raises(CocoFormatError, match=r"f\.json: mixed annotation types: annotation id 2 has no 'point'"):
        detect_annotation_type({"annotations": [{"id": 1, "point": [0, 0]}, {"id": 2, "bbox": [0, 0, 1, 1]}]}, "f.json")
    with pytest.raises(CocoFormatError, match="annotation id 4 has none of"):
        detect_annotation_type({"annotations": [{"id": 4, "category_id": 1}]}, "f.json")


def test_loader_bad_file_names_file_and_id(tmp_path):
    imgs = _images(str(tmp_path / "images"), n=1)
    coco = _point_coco(imgs)
    coco["annotations"] = coco["annotations"][:1]
    coco["annotations"][0]["point"] = [1.0, 2.0, 3.0]
    js = _write(coco, str(tmp_path / "bad.json"))
    with pytest.raises(CocoFormatError, match=r"bad\.json: annotation id 10 has malformed point"):
        load_point_coco_json(js, str(tmp_path / "images"))
    with pytest.raises(FileNotFoundError, match="nothere.json"):
        load_point_coco_json(str(tmp_path / "nothere.json"), str(tmp_path))


def test_register_point_coco_instances_lazy_and_type_check(tmp_path):
    imgs = _images(str(tmp_path / "images"))
    js = str(tmp_path / "later.json")
    name = _name()
    register_point_coco_instances(name, {}, js, str(tmp_path / "images"))  # file does not exist yet: fine
    meta = MetadataCatalog.get(name)
    assert meta.json_file == js and meta.image_root == str(tmp_path / "images")
    assert not hasattr(meta, "annotation_type")
    _write(_point_coco(imgs), js)
    assert len(DatasetCatalog.get(name)) == 3
    assert meta.annotation_type == "points"

    # a box file registered as points: clear error naming the file
    boxes = {"images": imgs, "categories": [{"id": 1, "name": "a"}], "annotations": [
        {"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [1, 2, 3, 4]}]}
    bjs = _write(boxes, str(tmp_path / "boxes.json"))
    name2 = _name()
    register_point_coco_instances(name2, {"annotation_type": "points", "thing_classes": ["a"]}, bjs, str(tmp_path))
    assert MetadataCatalog.get(name2).evaluator_type == "point"
    with pytest.raises(ValueError, match=r"boxes\.json: dataset '.*' is registered with annotation_type='points'"):
        DatasetCatalog.get(name2)
    with pytest.raises(ValueError, match="annotation_type"):
        register_point_coco_instances(_name(), {"annotation_type": "masks"}, bjs, str(tmp_path))


def test_loaded_dataset_through_mapper_has_no_boxes(tmp_path):
    imgs = _images(str(tmp_path / "images"))
    js = _write(_point_coco(imgs), str(tmp_path / "points.json"))
    dicts = load_point_coco_json(js, str(tmp_path / "images"), keep_analysis_keys=True)
    mapper = PointDatasetMapper(True, augmentations=[T.RandomFlip(prob=1.0)], image_format="BGR")
    out = [mapper(d) for d in dicts]
    assert out[0]["instances"].gt_points.tolist() == [[32 - 4.5, 5.5], [12.0, 10.0]]
    assert out[0]["instances"].gt_ann_ids.tolist() == [10, 11]
    assert [len(o["instances"]) for o in out] == [2, 0, 0]
    assert all(set(o["instances"].get_fields()) == {"gt_points", "gt_classes", "gt_ann_ids"} for o in out)


@pytest.fixture
def weak_root(tmp_path, monkeypatch):
    root = str(tmp_path / "d2data")
    monkeypatch.setenv("DETECTRON2_DATASETS", root)
    yield root
    monkeypatch.delenv("DETECTRON2_DATASETS")
    register_all_weak_datasets()  # point the names back at the default root for other tests


def test_derived_names_resolve_under_root(weak_root):
    names = register_all_weak_datasets()  # root from $DETECTRON2_DATASETS
    assert len(names) == len(set(names)) == 6 * len(weak_dataset_variants())
    expected = {
        "coco_2017_train_coarse_points_s0": ("coco/annotations/instances_train2017_coarse_points_s0.json", "coco/train2017", "points"),
        "coco_2017_train_quasi_center_points_s2": ("coco/annotations/instances_train2017_quasi_center_points_s2.json", "coco/train2017", "points"),
        "coco_2017_train_clicks2_s1": ("coco/annotations/instances_train2017_clicks2_s1.json", "coco/train2017", "clicks"),
        "coco_2017_train_keep1_first": ("coco/annotations/instances_train2017_keep1_first.json", "coco/train2017", "boxes"),
        "coco_2017_train_sparse_50miss_s2": ("coco/annotations/instances_train2017_sparse_50miss_s2.json", "coco/train2017", "boxes"),
        "pointdet_trees_train_coarse_points_s0": ("pointdet_demo/trees/annotations/trees_train_coarse_points_s0.json", "pointdet_demo/trees/images", "points"),
        "pointdet_trees_val_clicks1_s0": ("pointdet_demo/trees/annotations/trees_val_clicks1_s0.json", "pointdet_demo/trees/images", "clicks"),
        "pointdet_nuclei_train_keep1_s1": ("pointdet_demo/nuclei/annotations/nuclei_train_keep1_s1.json", "pointdet_demo/nuclei/images", "boxes"),
        "pointdet_nuclei_val_sparse_extreme_s0": ("pointdet_demo/nuclei/annotations/nuclei_val_sparse_extreme_s0.json", "pointdet_demo/nuclei/images", "boxes"),
    }
    for name, (js, img_root, ann_type) in expected.items():
        assert name in names
        meta = MetadataCatalog.get(name)
        assert meta.json_file == os.path.join(weak_root, js), name
        assert meta.image_root == os.path.join(weak_root, img_root), name
        assert meta.annotation_type == ann_type
        assert meta.evaluator_type == ("coco" if ann_type == "boxes" else "point")
    assert len(MetadataCatalog.get("coco_2017_train_keep1_s0").thing_classes) == 80
    assert MetadataCatalog.get("pointdet_trees_train_keep1_s0").thing_classes == ["tree"]
    assert MetadataCatalog.get("pointdet_nuclei_train_coarse_points_s0").thing_classes == ["nucleus"]
    # an explicit root wins
    other = os.path.join(weak_root, "other")
    register_all_weak_datasets(other)
    assert MetadataCatalog.get("pointdet_trees_train_coarse_points_s0").json_file == os.path.join(
        other, "pointdet_demo/trees/annotations/trees_train_coarse_points_s0.json")


def test_missing_derived_file_names_file_and_command(weak_root):
    register_all_weak_datasets(weak_root)
    base = os.path.join(weak_root, "pointdet_demo/trees/annotations/trees_train.json")
    missing = os.path.join(weak_root, "pointdet_demo/trees/annotations/trees_train_clicks2_s1.json")
    with pytest.raises(FileNotFoundError) as e:
        DatasetCatalog.get("pointdet_trees_train_clicks2_s1")
    msg = str(e.value)
    assert missing in msg
    cmd = (f"python tools/make_weak_annotations.py clicks --input {base} --output {missing} "
           f"--num-annotators 2 --seed 1")
    assert cmd in msg
    with pytest.raises(FileNotFoundError, match=r"keep1 --input .*coco/annotations/instances_train2017\.json "
                                                r"--output .*instances_train2017_keep1_first\.json --keep-first"):
        DatasetCatalog.get("coco_2017_train_keep1_first")


def test_derived_file_loads_and_wrong_type_fails(weak_root):
    register_all_weak_datasets(weak_root)
    img_root = os.path.join(weak_root, "pointdet_demo/trees/images")
    imgs = _images(img_root, n=2)
    ann_dir = os.path.join(weak_root, "pointdet_demo/trees/annotations")
    cats = [{"id": 1, "name": "tree"}]
    _write({"images": imgs, "categories": cats, "annotations": [
        {"id": 1, "image_id": 2, "category_id": 1, "iscrowd": 0, "point": [3.0, 4.0], "true_bbox": [1, 2, 4, 4]}]},
        os.path.join(ann_dir, "trees_train_coarse_points_s0.json"))
    dicts = DatasetCatalog.get("pointdet_trees_train_coarse_points_s0")
    assert [len(d["annotations"]) for d in dicts] == [0, 1]
    assert dicts[1]["annotations"][0] == {"id": 1, "iscrowd": 0, "category_id": 0, "point": [3.0, 4.0]}
    assert dicts[1]["file_name"] == os.path.join(img_root, "im2.png")
    # a point file placed where a Keep1 (box) file is expected
    _write({"images": imgs, "categories": cats, "annotations": [
        {"id": 1, "image_id": 2, "category_id": 1, "iscrowd": 0, "point": [3.0, 4.0]}]},
        os.path.join(ann_dir, "trees_train_keep1_s0.json"))
    with pytest.raises(ValueError, match="registered with annotation_type='boxes' but the file holds points"):
        DatasetCatalog.get("pointdet_trees_train_keep1_s0")


def test_hint_command_creates_the_missing_file(weak_root):
    """The command printed for a missing file really creates it (end to end with the generator tool)."""
    register_all_weak_datasets(weak_root)
    img_root = os.path.join(weak_root, "pointdet_demo/nuclei/images")
    imgs = _images(img_root, n=2)
    _write({"images": imgs, "categories": [{"id": 1, "name": "nucleus"}], "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [2, 2, 10, 8], "area": 80},
        {"id": 2, "image_id": 2, "category_id": 1, "iscrowd": 0, "bbox": [5, 5, 6, 6], "area": 36}]},
        os.path.join(weak_root, "pointdet_demo/nuclei/annotations/nuclei_train.json"))
    name = "pointdet_nuclei_train_coarse_points_s2"
    with pytest.raises(FileNotFoundError) as e:
        DatasetCatalog.get(name)
    cmd = str(e.value).splitlines()[-1].strip()
    argv = shlex.split(cmd)
    assert argv[:2] == ["python", "tools/make_weak_annotations.py"]
    subprocess.run([sys.executable] + argv[1:], cwd=REPO, check=True, capture_output=True, timeout=300)
    dicts = DatasetCatalog.get(name)
    pts = [a["point"] for d in dicts for a in d["annotations"]]
    assert len(pts) == 2
    assert 2 <= pts[0][0] <= 12 and 2 <= pts[0][1] <= 10


def test_file_name_outside_image_root_refused_unless_allowed(tmp_path):
    imgs = _images(str(tmp_path / "images"))
    _images(str(tmp_path / "elsewhere"), n=1)
    coco = _point_coco(imgs)
    coco["images"][0]["file_name"] = "../elsewhere/im1.png"
    js = _write(coco, str(tmp_path / "points.json"))
    with pytest.raises(CocoFormatError, match="points.json: image id 1 has file_name '../elsewhere/im1.png'.*refused"):
        load_point_coco_json(js, str(tmp_path / "images"))
    coco["images"][0]["file_name"] = str(tmp_path / "elsewhere" / "im1.png")  # absolute
    js = _write(coco, str(tmp_path / "points.json"))
    with pytest.raises(CocoFormatError, match="image id 1 has file_name .* absolute or leaves the image root"):
        load_point_coco_json(js, str(tmp_path / "images"))
    name = _name()
    register_point_coco_instances(name, {}, js, str(tmp_path / "images"), allow_outside_image_root=True)
    assert DatasetCatalog.get(name)[0]["file_name"] == str(tmp_path / "elsewhere" / "im1.png")
    name = _name()
    register_point_coco_instances(name, {}, js, str(tmp_path / "images"))
    with pytest.raises(CocoFormatError, match="refused"):
        DatasetCatalog.get(name)
