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


# ---- inputs that used to escape the validator (tracebacks without file or id) ----


def _write_raw(tmp_path, text, name="raw.json"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["annotations"][0].update(bbox=[1e308, 1, 1e308, 2]), "annotation id 7 has malformed bbox"),
        (lambda d: d["annotations"][0].update(bbox=[10**400, 1, 3, 2]), "annotation id 7 has malformed bbox \\[10000"),
        (lambda d: d["images"][0].update(width=10**400), "image id 1 has invalid width <integer of 401 digits>"),
        (lambda d: d["annotations"][0].update(id=10**400, ), "annotation\\[0\\] has id <integer of 401 digits>"),
        (lambda d: d["annotations"][0].update(iscrowd="no"), "annotation id 7 has iscrowd 'no'"),
        (lambda d: d["annotations"][0].update(iscrowd=2), "annotation id 7 has iscrowd 2"),
        (lambda d: d["annotations"][0].update(ignore="yes"), "annotation id 7 has ignore 'yes'"),
        (lambda d: d["annotations"][0].update(segmentation="garbage"), "annotation id 7 has a malformed segmentation 'garbage'"),
        (lambda d: d["annotations"][0].update(segmentation=[[1, 2, "x", 4, 5, 6]]), "annotation id 7 has a malformed segmentation"),
        (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3, 4, float("inf"), 6]]), "annotation id 7 has a malformed segmentation"),
        (lambda d: d["annotations"][0].update(segmentation={"size": [4, 4], "counts": "abc"}),
         "annotation id 7 has an RLE segmentation of size \\[4, 4\\] but its image is"),
        (lambda d: d["annotations"][0].update(segmentation={"size": [8, 10], "counts": [5, 3]}),
         "annotation id 7 has an RLE segmentation with malformed counts"),
        (lambda d: d["annotations"][0].update(point=[1e300, 2.0]), "annotation id 7 has malformed point"),
        (lambda d: d["annotations"][0].update(clicks=[[1.0, 2.0], [3.0, -1e300]]), "annotation id 7 has malformed clicks"),
        (lambda d: d["annotations"][0].update(area=-1.0), "annotation id 7 has invalid area -1.0"),
        (lambda d: d["annotations"][0].update(area="big"), "annotation id 7 has invalid area 'big'"),
        (lambda d: d["annotations"][0].update(true_bbox=[1, 1, float("nan"), 2]), "annotation id 7 has malformed true_bbox"),
    ],
)
def test_hostile_values_name_file_and_id(mutate, message):
    d = _coco()
    mutate(d)
    with pytest.raises(CocoFormatError, match="x.json: " + message):
        validate_coco_dict(d, "x.json")


def test_valid_segmentations_accepted():
    d = _coco()
    d["annotations"][0]["segmentation"] = [[1, 1, 4, 1, 4, 3]]
    validate_coco_dict(d, "x.json")
    d["annotations"][0]["segmentation"] = {"size": [8, 10], "counts": [10, 70]}  # uncompressed RLE, 8*10
    validate_coco_dict(d, "x.json")
    d["annotations"][0]["segmentation"] = []  # files without masks
    validate_coco_dict(d, "x.json")
    d["annotations"][0].update(iscrowd=True, ignore=False)
    validate_coco_dict(d, "x.json")


def test_nan_in_file_names_key_and_id(tmp_path):
    d = _coco()
    text = json.dumps(d).replace('"iscrowd": 0', '"iscrowd": 0, "area": NaN')
    with pytest.raises(CocoFormatError, match="raw.json: annotation id 7, key 'area', is NaN"):
        load_coco_dict(_write_raw(tmp_path, text))
    text = json.dumps(d).replace('"height": 8', '"height": 8, "gsd": Infinity')
    with pytest.raises(CocoFormatError, match="image id 1, key 'gsd', is Infinity"):
        load_coco_dict(_write_raw(tmp_path, text))


def test_huge_integer_in_file(tmp_path):
    text = json.dumps(_coco()).replace("[1, 1, 3, 2]", "[1, 1, 3, 1" + "0" * 400 + "]")
    with pytest.raises(CocoFormatError, match="raw.json: annotation id 7 has malformed bbox"):
        load_coco_dict(_write_raw(tmp_path, text))


# ---- annotations outside their image are counted and reported ----


def test_out_of_image_annotations_are_reported(caplog):
    from pointdet.data.coco_io import out_of_image_report

    d = _coco()  # image 10 x 8
    base = d["annotations"][0]
    d["annotations"] = [
        dict(base, id=1, bbox=[1, 1, 3, 2]),  # fine
        dict(base, id=2, bbox=[20, 1, 3, 2]),  # entirely right of the image
        dict(base, id=3, bbox=[-5, -5, 4, 4]),  # entirely above-left
        dict(base, id=4, bbox=[8, 6, 5, 5]),  # overlaps, extends 3 px beyond
        dict(base, id=5, bbox=[0, 0, 10.5, 8.5]),  # within the 1 px tolerance
    ]
    assert out_of_image_report(d) == {"box_outside_image": [2, 3], "box_beyond_image": [4]}
    with caplog.at_level("WARNING", logger="pointdet.data.coco_io"):
        validate_coco_dict(d, "x.json")
    assert "x.json: 2 boxes lie entirely outside their image (are the images' width/height right?): " \
        "annotation ids 2, 3" in caplog.text
    assert "x.json: 1 boxes extend beyond their image's declared width/height" in caplog.text

    p = {k: v for k, v in base.items() if k != "bbox"}
    d["annotations"] = [dict(p, id=1, point=[10.0, 8.0]), dict(p, id=2, point=[10.01, 3.0]), dict(p, id=3, point=[-1.0, 3.0])]
    assert out_of_image_report(d) == {"point_outside_image": [2, 3]}  # closed interval: x == W is inside
    d["annotations"] = [dict(p, id=1, clicks=[[1.0, 1.0], [1.0, 9.0]])]
    assert out_of_image_report(d) == {"click_outside_image": [1]}
    caplog.clear()
    with caplog.at_level("WARNING", logger="pointdet.data.coco_io"):
        validate_coco_dict(d, "x.json")
    assert "1 click annotations have a click outside their image: annotation ids 1" in caplog.text


def test_declared_size_smaller_than_the_boxes_warns(caplog):
    # a file declaring 100x100 for a 1024x682 image: most boxes extend beyond the declared size
    d = _coco()
    d["images"][0].update(width=100, height=100)
    base = d["annotations"][0]
    d["annotations"] = [dict(base, id=i, bbox=[50.0 * i, 40.0 * i, 60, 50]) for i in range(1, 8)]
    with caplog.at_level("WARNING", logger="pointdet.data.coco_io"):
        validate_coco_dict(d, "x.json")
    assert "x.json: 6 boxes lie entirely outside their image (are the images' width/height right?): " \
        "annotation ids 2, 3, 4, 5, 6, ..." in caplog.text
    assert "1 boxes extend beyond their image's declared width/height" in caplog.text


# ---- image files: size on disk and paths outside the image root ----


def _image_file(folder, name="a.png", hw=(8, 10)):
    import numpy as np
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    Image.fromarray(np.zeros((hw[0], hw[1], 3), dtype=np.uint8)).save(os.path.join(folder, name))


def test_image_size_on_disk_must_match(tmp_path):
    _image_file(str(tmp_path / "img"), hw=(682, 1024))
    d = _coco()
    d["images"][0].update(width=100, height=100)
    with pytest.raises(CocoFormatError, match="x.json: image id 1 is 1024x682 on disk .* but 100x100 in the file"):
        validate_coco_dict(d, "x.json", image_root=str(tmp_path / "img"))
    validate_coco_dict(d, "x.json", image_root=str(tmp_path / "img"), check_image_sizes=False)
    d["images"][0].update(width=1024, height=682)
    validate_coco_dict(d, "x.json", image_root=str(tmp_path / "img"))


@pytest.mark.parametrize("file_name", ["../secret.png", "sub/../../secret.png", "/etc/secret.png"])
def test_file_name_outside_image_root_refused(tmp_path, file_name):
    from pointdet.data.coco_io import resolve_image_path

    root = tmp_path / "img"
    _image_file(str(root))
    os.makedirs(root / "sub")
    _image_file(str(tmp_path), "secret.png")
    d = _coco()
    d["images"][0]["file_name"] = str(tmp_path / "secret.png") if file_name.startswith("/") else file_name
    with pytest.raises(CocoFormatError, match="x.json: image id 1 has file_name .* refused"):
        validate_coco_dict(d, "x.json", image_root=str(root))
    validate_coco_dict(d, "x.json", image_root=str(root), allow_outside_image_root=True)
    assert resolve_image_path(str(root), "sub/../a.png") == os.path.join(str(root), "sub/../a.png")
