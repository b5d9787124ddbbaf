"""Annotation-quality metrics: RSV (CPR Eq. 13), heat-map, CorLoc / mIoU_box, mined pseudo-label P/R."""
import json
import math

import numpy as np
import pytest

from pointdet.data.coco_io import CocoFormatError
from pointdet.evaluation.annotation_quality import (
    box_iou_xywh,
    compute_rsv,
    corloc_miou,
    evaluate_boxes_file,
    evaluate_mined_file,
    evaluate_rsv_file,
    pseudo_label_precision_recall,
    relative_position_histogram,
    relative_positions,
    rsv,
)

IMAGES = [{"id": 1, "width": 100, "height": 100, "file_name": "a.png"},
          {"id": 2, "width": 100, "height": 100, "file_name": "b.png"}]
CATS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


def _coco(anns):
    return {"images": IMAGES, "categories": CATS, "annotations": anns}


def _ann(aid, bbox=None, cat=1, img=1, crowd=0, **kw):
    a = {"id": aid, "image_id": img, "category_id": cat, "iscrowd": crowd, **kw}
    if bbox is not None:
        a["bbox"] = bbox
    return a


GT = _coco([
    _ann(1, [0, 0, 10, 10]),  # centre (5, 5)
    _ann(2, [0, 0, 20, 10], cat=2),  # centre (10, 5)
    _ann(3, [0, 0, 10, 20]),  # centre (5, 10)
    _ann(4, [50, 50, 10, 10], crowd=1),
])
POINTS = _coco([
    _ann(1, point=[7, 5]),  # (0.2, 0)
    _ann(2, point=[8, 7], cat=2),  # (-0.1, 0.2)
    _ann(3, point=[5, 6]),  # (0, -0.2)
    _ann(4, point=[55, 55], crowd=1),  # crowd: skipped
])


def test_relative_positions_and_rsv_hand_computed():
    rel, cats, ids = relative_positions(POINTS, GT)
    np.testing.assert_allclose(rel, [[0.2, 0.0], [-0.1, 0.2], [0.0, -0.2]], atol=1e-12)
    assert cats.tolist() == [1, 2, 1] and ids.tolist() == [1, 2, 3]
    # Var(x') = 0.05/3 - (0.1/3)^2 = 0.14/9 ; Var(y') = 0.08/3 (population variance)
    expected = math.sqrt(0.14 / 9 * 0.08 / 3)
    assert rsv(rel) == pytest.approx(expected, rel=1e-12)
    out = compute_rsv(POINTS, GT)
    assert out["rsv"] == pytest.approx(0.0203670, abs=1e-7)
    assert out["num"] == 3
    # category 1: x' = (0.2, 0), y' = (0, -0.2): Var = 0.01 each -> RSV 0.01; category 2: one object -> 0
    assert out["per_category"][1]["rsv"] == pytest.approx(0.01, rel=1e-12)
    assert out["per_category"][2] == {"rsv": 0.0, "num": 1}
    assert math.isnan(rsv(np.zeros((0, 2))))


def test_rsv_per_object_size():
    # sizes sqrt(w*h): ann 1 -> 10 px, anns 2 and 3 -> 14.14 px
    out = compute_rsv(POINTS, GT, size_edges=(5, 12))
    per = out["per_size"]
    assert list(per) == ["<5", "5-12", ">=12"]
    assert per["<5"]["num"] == 0 and math.isnan(per["<5"]["rsv"])
    assert per["5-12"] == {"rsv": 0.0, "num": 1}
    # anns 2, 3: x' = (-0.1, 0), y' = (0.2, -0.2): Var 0.0025 and 0.04 -> RSV 0.01
    assert per[">=12"]["num"] == 2 and per[">=12"]["rsv"] == pytest.approx(0.01, rel=1e-12)
    assert "per_size" not in compute_rsv(POINTS, GT)
    for bad in ((12, 5), (0, 5), ()):
        with pytest.raises(ValueError, match="size_edges"):
            compute_rsv(POINTS, GT, size_edges=bad)


def test_rsv_clicks_every_click_is_a_sample():
    clicks = _coco([_ann(1, clicks=[[5, 5], [7, 5]]), _ann(3, clicks=[[5, 10], [5, 6]])])
    rel, _, ids = relative_positions(clicks, GT, point_key="clicks")
    np.testing.assert_allclose(rel, [[0, 0], [0.2, 0], [0, 0], [0, -0.2]], atol=1e-12)
    assert ids.tolist() == [1, 1, 3, 3]


def test_rsv_errors_name_file_and_id(tmp_path):
    with pytest.raises(CocoFormatError, match="annotation id 9 is not in the GT file"):
        relative_positions(_coco([_ann(9, point=[1, 1])]), GT)
    with pytest.raises(CocoFormatError, match="annotation id 1 has no 'point'"):
        relative_positions(_coco([_ann(1, clicks=[[1, 1]])]), GT)
    with pytest.raises(CocoFormatError, match="annotation id 1 has no 'bbox'"):
        relative_positions(POINTS, POINTS)
    bad = tmp_path / "weak.json"
    bad.write_text("{not json")
    with pytest.raises(CocoFormatError, match="weak.json: not valid JSON"):
        relative_positions(str(bad), GT)


def test_relative_position_histogram():
    rel = np.array([[0.25, -0.45], [0.25, -0.45], [-0.05, 0.05], [3.0, 0.0]])  # last: clipped to the border
    hist, xe, ye = relative_position_histogram(rel, bins=10)
    assert hist.shape == (10, 10) and hist.sum() == pytest.approx(1.0)
    assert hist[0, 7] == pytest.approx(0.5)  # row = y bin, column = x bin
    assert hist[5, 4] == pytest.approx(0.25)
    assert hist[5, 9] == pytest.approx(0.25)
    assert xe[0] == -0.5 and xe[-1] == 0.5


def test_box_iou_hand_computed():
    iou = box_iou_xywh([[0, 0, 10, 10], [0, 0, 4, 4]], [[5, 0, 10, 10], [0, 0, 10, 10], [20, 20, 5, 5]])
    np.testing.assert_allclose(iou, [[50 / 150, 1.0, 0.0], [0.0, 16 / 100, 0.0]], atol=1e-12)


def test_corloc_and_miou_hand_computed():
    gt = _coco([
        _ann(1, [0, 0, 10, 10]),
        _ann(2, [20, 20, 10, 10]),
        _ann(3, [0, 0, 40, 40]),
        _ann(4, [60, 60, 10, 10], crowd=1),
    ])
    pseudo = _coco([
        _ann(1, [0, 0, 10, 10]),  # IoU 1
        _ann(2, [25, 20, 10, 10]),  # IoU 50 / 150
        _ann(4, [0, 0, 5, 5]),  # crowd GT: not counted
    ])  # id 3 has no pseudo box: IoU 0
    out = corloc_miou(pseudo, gt)
    assert out["corloc"] == pytest.approx(1 / 3)
    assert out["miou_box"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert out["num_gt"] == 3 and out["num_missing"] == 1
    assert out["miou_by_size"]["s"] == (pytest.approx(2 / 3), 2)  # areas 100, 100 < 32^2
    assert out["miou_by_size"]["m"] == (0.0, 1)  # area 1600
    assert math.isnan(out["miou_by_size"]["h"][0])
    # CorLoc threshold is inclusive: IoU exactly 0.5
    half = _coco([_ann(1, [0, 0, 10, 5])])
    assert corloc_miou(half, _coco([_ann(1, [0, 0, 10, 10])]))["corloc"] == 1.0
    with pytest.raises(CocoFormatError, match="annotation id 7 is not in the GT file"):
        corloc_miou(_coco([_ann(7, [0, 0, 1, 1])]), gt)
    with pytest.raises(CocoFormatError, match="annotation id 1 has no pseudo 'bbox'"):
        corloc_miou(_coco([_ann(1, point=[1, 1])]), gt)


ERASED = _coco([
    _ann(11, [0, 0, 10, 10]),
    _ann(12, [50, 50, 10, 10]),
    _ann(13, [20, 20, 10, 10], cat=2),
])


def test_pseudo_label_precision_recall_hand_computed():
    pseudo = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},  # TP (11)
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8},  # duplicate: FP
        {"image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10], "score": 0.7},  # wrong class: FP
        {"image_id": 1, "category_id": 1, "bbox": [52, 50, 10, 10], "score": 0.6},  # IoU 80/120 with 12: TP
        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.95},  # other image: FP
    ]
    out = pseudo_label_precision_recall(pseudo, ERASED)
    assert out == {"precision": 2 / 5, "recall": 2 / 3, "tp": 2, "num_pseudo": 5, "num_erased": 3}
    out = pseudo_label_precision_recall(pseudo, ERASED, score_threshold=0.85)
    assert out["tp"] == 1 and out["num_pseudo"] == 2 and out["recall"] == pytest.approx(1 / 3)


def test_pseudo_label_precision_recall_on_a_subset_of_images():
    # image 2 holds one more erased box; scoring image 1 alone leaves it out of the recall
    erased = _coco([_ann(11, [0, 0, 10, 10]), _ann(12, [50, 50, 10, 10]), _ann(21, [0, 0, 10, 10], img=2)])
    pseudo = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]
    assert pseudo_label_precision_recall(pseudo, erased)["recall"] == pytest.approx(1 / 3)
    out = pseudo_label_precision_recall(pseudo, erased, image_ids=[1])
    assert out == {"precision": 1.0, "recall": 0.5, "tp": 1, "num_pseudo": 1, "num_erased": 2}
    with pytest.raises(CocoFormatError, match="restricted to the scored images"):
        pseudo_label_precision_recall(pseudo, erased, image_ids=[2])
    with pytest.raises(CocoFormatError, match=r"image ids \[9\] are not in the file"):
        pseudo_label_precision_recall(pseudo, erased, image_ids=[1, 9])


def test_pseudo_label_greedy_by_score():
    erased = _coco([_ann(11, [0, 0, 10, 10])])
    # the higher-scored box (IoU 0.6) takes the GT although the lower one fits better
    pseudo = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 6], "score": 0.9},
    ]
    out = pseudo_label_precision_recall(pseudo, erased)
    assert out["tp"] == 1 and out["precision"] == 0.5
    # with a stricter IoU the 0.6 box fails and the exact one matches
    assert pseudo_label_precision_recall(pseudo, erased, iou_threshold=0.7)["tp"] == 1


def test_pseudo_label_errors(tmp_path):
    with pytest.raises(CocoFormatError, match="non-finite score"):
        pseudo_label_precision_recall([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                                        "score": float("nan")}], ERASED)
    with pytest.raises(CocoFormatError, match="image id 5"):
        pseudo_label_precision_recall([{"image_id": 5, "category_id": 1, "bbox": [0, 0, 1, 1]}], ERASED)
    with pytest.raises(CocoFormatError, match="malformed bbox"):
        pseudo_label_precision_recall([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1]}], ERASED)
    bad = tmp_path / "mined.json"
    bad.write_text("[")
    with pytest.raises(CocoFormatError, match="mined.json: not valid JSON"):
        pseudo_label_precision_recall(str(bad), ERASED)


def _write_inputs(tmp_path):
    for name, obj in (("gt.json", GT), ("pts.json", POINTS), ("erased.json", ERASED)):
        (tmp_path / name).write_text(json.dumps(obj))
    return tuple(str(tmp_path / n) for n in ("pts.json", "gt.json", "erased.json"))


def test_file_commands_print_and_write_their_outputs(tmp_path):
    pts, gt, erased = _write_inputs(tmp_path)
    lines = []
    out = evaluate_rsv_file(pts, gt, size_edges=(5, 12), heatmap=str(tmp_path / "heat.png"),
                            output_json=str(tmp_path / "rsv.json"), print_fn=lines.append)
    assert out["rsv"] == pytest.approx(0.0203670, abs=1e-7)
    assert lines[:3] == ["RSV = 0.0204 over 3 objects", "  category 1: RSV = 0.0100 (n=2)",
                         "  category 2: RSV = 0.0000 (n=1)"]
    assert "  size <5 px: RSV = nan (n=0)" in lines
    with open(tmp_path / "heat.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "rsv.json").read_text())  # strict JSON: NaN as null, keys as strings
    assert saved["num"] == 3 and saved["per_category"]["1"]["num"] == 2 and saved["per_size"]["<5"]["rsv"] is None

    lines = []
    out = evaluate_boxes_file(gt, gt, output_json=str(tmp_path / "b.json"), print_fn=lines.append)
    assert out["corloc"] == 1.0 and out["miou_box"] == 1.0
    assert lines[0] == "CorLoc = 1.0000  mIoU_box = 1.0000  (GT objects 3, without pseudo box 0)"
    assert json.loads((tmp_path / "b.json").read_text())["miou_by_size"]["s"] == [1.0, 3]

    (tmp_path / "mined.json").write_text(json.dumps([{"image_id": 1, "category_id": 2, "bbox": [20, 20, 10, 10],
                                                      "score": 0.3}]))
    lines = []
    out = evaluate_mined_file(str(tmp_path / "mined.json"), erased, output_json=str(tmp_path / "m.json"),
                              print_fn=lines.append)
    assert out["precision"] == 1.0 and out["recall"] == pytest.approx(1 / 3)
    assert lines == ["precision = 1.0000  recall = 0.3333  (TP 1 / pseudo 1 / erased 3)"]
    assert json.loads((tmp_path / "m.json").read_text())["tp"] == 1


def test_unrelated_files_are_refused_with_the_first_mismatching_id(tmp_path):
    other_image = _coco([_ann(1, point=[7, 5]), _ann(2, point=[8, 7], cat=2, img=2), _ann(3, point=[5, 6])])
    with pytest.raises(CocoFormatError, match=r"annotation id 2 has image_id 2, the GT file .* has 1"):
        compute_rsv(other_image, GT)
    other_cat = _coco([_ann(1, point=[7, 5], cat=2), _ann(2, point=[8, 7], cat=2)])
    with pytest.raises(CocoFormatError, match=r"annotation id 1 has category_id 2"):
        relative_positions(other_cat, GT)
    boxes = _coco([_ann(1, [0, 0, 10, 10]), _ann(3, [0, 0, 10, 20], img=2)])
    with pytest.raises(CocoFormatError, match=r"annotation id 3 has image_id 2"):
        corloc_miou(boxes, GT)
    # the weak file's provenance names its source by checksum: another GT file is refused
    gt_path, other_path = tmp_path / "gt.json", tmp_path / "other.json"
    gt_path.write_text(json.dumps(GT))
    other_path.write_text(json.dumps(GT, indent=1))
    from pointdet.data.coco_io import file_sha256

    derived = dict(POINTS, info={"generator": "pointdet.coarse_points", "source_sha256": file_sha256(str(gt_path))})
    assert compute_rsv(derived, str(gt_path))["num"] == 3
    refined = dict(POINTS, info={"source_sha256": "0" * 64, "source_info": derived["info"]})  # chain: ok
    assert compute_rsv(refined, str(gt_path))["num"] == 3
    with pytest.raises(CocoFormatError, match="not from the GT file .*other.json"):
        compute_rsv(derived, str(other_path))
    with pytest.raises(CocoFormatError, match="not from the GT file"):
        corloc_miou(dict(GT, info=derived["info"]), str(other_path))


def test_rsv_from_the_files_own_true_boxes():
    pts = _coco([_ann(1, point=[7, 5], true_bbox=[0, 0, 10, 10]), _ann(3, point=[5, 6], true_bbox=[0, 0, 10, 20]),
                 _ann(5, point=[1, 1]), _ann(4, point=[55, 55], crowd=1, true_bbox=[50, 50, 10, 10])])
    rel, _, ids = relative_positions(pts, None, point_key="point")
    np.testing.assert_allclose(rel, [[0.2, 0.0], [0.0, -0.2]], atol=1e-12)
    assert ids.tolist() == [1, 3]


def test_file_commands_refuse_to_overwrite_an_input(tmp_path):
    pts, gt, erased = _write_inputs(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls = (
        lambda: evaluate_rsv_file(pts, gt, output_json=gt),
        lambda: evaluate_rsv_file(pts, gt, heatmap=pts),
        lambda: evaluate_boxes_file(gt, gt, output_json=gt),
        lambda: evaluate_mined_file(gt, erased, output_json=erased),
    )
    for call in calls:
        with pytest.raises(ValueError, match="would overwrite the input file"):
            call()
    with pytest.raises(ValueError, match="two outputs name the same file"):
        evaluate_rsv_file(pts, gt, output_json=str(tmp_path / "o"), heatmap=str(tmp_path / "o"))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
