import json
import os

import pytest

from pointdet.data.coco_io import CocoFormatError, atomic_write_json, load_coco_dict, validate_coco_dict


def _coco():
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 8}],
        "categories": [{"id": 1, "name": "tree"}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [1, 1, 3, 2], "iscrowd": 0}],
    }


def test_valid_file_loads(tmp_path):
    p = tmp_path / "ok.json"
    p.write_text(json.dumps(_coco()))
    assert load_coco_dict(str(p))["annotations"][0]["id"] == 7


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("annotations"), "missing top-level 'annotations'"),
        (lambda d: d["images"][0].update(id=0), "image id 0 is < 1"),
        (lambda d: d["annotations"].append(dict(d["annotations"][0])), "duplicate annotation id 7"),
        (lambda d: d["annotations"][0].update(bbox=[1, 1, 0, 2]), "annotation id 7 has a degenerate bbox"),
        (lambda d: d["annotations"][0].update(category_id=5), "annotation id 7 has unknown category id 5"),
        (lambda d: d["annotations"][0].update(image_id=3), "annotation id 7 refers to unknown image id 3"),
        (lambda d: d["annotations"][0].update(point=[1.0, float("nan")]), "annotation id 7 has malformed point"),
        (lambda d: d["images"][0].update(width=-1), "image id 1 has invalid width"),
    ],
)
def test_bad_input_names_file_and_id(tmp_path, mutate, message):
    d = _coco()
    mutate(d)
    with pytest.raises(CocoFormatError, match=message):
        validate_coco_dict(d, "x.json")


def test_malformed_and_non_coco_json(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(CocoFormatError, match="bad.json: not valid JSON"):
        load_coco_dict(str(p))
    p.write_text("[1, 2]")
    with pytest.raises(CocoFormatError, match="expected a COCO JSON object"):
        load_coco_dict(str(p))


def test_missing_image_file(tmp_path):
    with pytest.raises(CocoFormatError, match="image id 1 file not found"):
        validate_coco_dict(_coco(), "x.json", image_root=str(tmp_path))


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "out.json"
    atomic_write_json({"a": 1}, str(out))
    before = out.read_bytes()
    with pytest.raises(ValueError):
        atomic_write_json({"a": float("nan")}, str(out))  # NaN is not JSON
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["out.json"]
