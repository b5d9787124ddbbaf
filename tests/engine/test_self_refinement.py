"""pointdet.engine.self_refinement: a point file self-refined with a localizer's predictions
through the relabel engine (provenance, RSV before/after, byte-identical reruns, errors)."""
import json

import pytest

from pointdet.data.coco_io import CocoFormatError
from pointdet.engine.self_refinement import self_refine_file


def _point_file():
    return {
        "info": {"generator": "pointdet.coarse_points", "seed": 0},
        "images": [{"id": 1, "file_name": "a.png", "height": 100, "width": 120},
                   {"id": 2, "file_name": "b.png", "height": 100, "width": 120}],
        "categories": [{"id": 5, "name": "tree"}],
        "annotations": [
            {"id": 11, "image_id": 1, "category_id": 5, "iscrowd": 0, "point": [10.0, 10.0],
             "true_bbox": [0.0, 0.0, 24.0, 24.0]},
            {"id": 12, "image_id": 1, "category_id": 5, "iscrowd": 0, "point": [80.0, 50.0],
             "true_bbox": [60.0, 40.0, 20.0, 20.0]},
            {"id": 13, "image_id": 2, "category_id": 5, "iscrowd": 0, "point": [30.0, 30.0],
             "true_bbox": [20.0, 20.0, 10.0, 10.0]},
        ],
    }


def test_self_refine_file(tmp_path):
    pts = tmp_path / "trees_coarse_points_s0.json"
    pts.write_text(json.dumps(_point_file()))
    preds = [
        {"image_id": 1, "category_id": 5, "score": 0.8, "bbox": [4.0, 4.0, 16.0, 16.0]},  # centre (12, 12)
        {"image_id": 1, "category_id": 5, "score": 0.2, "point": [12.0, 22.0]},
        {"image_id": 1, "category_id": 5, "score": 0.6, "point": [70.0, 50.0]},
    ]
    pred_file = tmp_path / "preds.json"
    pred_file.write_text(json.dumps(preds))
    out = tmp_path / "out" / "refined.json"
    stats = self_refine_file(str(pts), str(pred_file), str(out))
    res = json.loads(out.read_text())
    assert stats == res["info"]["statistics"]
    anns = {a["id"]: a for a in res["annotations"]}
    assert anns[11]["point"] == pytest.approx([12.0, (0.8 * 12 + 0.2 * 22) / 1.0])
    assert anns[11]["coarse_point"] == [10.0, 10.0]
    assert anns[12]["point"] == pytest.approx([70.0, 50.0])
    assert anns[13]["point"] == [30.0, 30.0] and anns[13]["coarse_point"] == [30.0, 30.0]
    assert all("bbox" not in a for a in res["annotations"])
    info = res["info"]
    assert info["generator"] == "pointdet.self_refine_points"
    assert info["params"]["radius"] == 64.0 and info["source_file"] == pts.name
    assert info["statistics"]["refined"] == 2 and info["statistics"]["unchanged"] == 1
    assert info["source_info"]["generator"] == "pointdet.coarse_points"
    # RSV (Eq. 13) of the coarse points: x' = (-1/12, 1/2, 1/2), y' = (-1/12, 0, 1/2);
    # Var(x') = 0.075617, Var(y') = 0.066358 (population) -> sqrt(product) = 0.070837
    assert info["statistics"]["rsv_before"] == pytest.approx(0.070837, abs=1e-6)
    assert info["statistics"]["rsv_after"] < info["statistics"]["rsv_before"]
    # --gt gives the boxes by annotation id instead of true_bbox (here: the same boxes)
    gt = _point_file()
    for a in gt["annotations"]:
        a["bbox"] = a.pop("true_bbox")
        del a["point"]
    gt_file = tmp_path / "gt.json"
    gt_file.write_text(json.dumps(gt))
    out2 = tmp_path / "refined_gt.json"
    self_refine_file(str(pts), str(pred_file), str(out2), gt_json=str(gt_file))
    res2 = json.loads(out2.read_text())
    assert res2["info"]["statistics"]["rsv_before"] == pytest.approx(0.070837, abs=1e-6)
    assert res2["info"]["gt_file"] == "gt.json" and len(res2["info"]["gt_sha256"]) == 64
    assert res2["info"]["predictions_file"] == "preds.json"
    first = out.read_bytes()
    self_refine_file(str(pts), str(pred_file), str(out))
    assert out.read_bytes() == first


def test_errors_name_the_id_and_nothing_is_written(tmp_path):
    pts = tmp_path / "p.json"
    pts.write_text(json.dumps(_point_file()))
    pred_file = tmp_path / "preds.json"
    pred_file.write_text(json.dumps([{"image_id": 99, "category_id": 5, "score": 0.5, "point": [1, 1]}]))
    out = tmp_path / "o.json"
    with pytest.raises(CocoFormatError, match="image_id 99"):
        self_refine_file(str(pts), str(pred_file), str(out))
    assert not out.exists()
    pred_file.write_text(json.dumps([{"image_id": 1, "category_id": 3, "score": 1, "point": [0, 0]}]))
    with pytest.raises(CocoFormatError, match="category_id 3"):
        self_refine_file(str(pts), str(pred_file), str(out))
    before = pts.read_bytes()
    with pytest.raises(ValueError, match="overwrite"):
        self_refine_file(str(pts), str(pred_file), str(pts))
    assert pts.read_bytes() == before
