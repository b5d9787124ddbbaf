import json

import pytest
import torch

from pointdet.data.coco_io import CocoFormatError
from pointdet.engine.self_refinement import self_refine_file
from pointdet.modeling.p2pnet.self_refinement import prediction_point, self_refine_points
from tools.self_refine_points import main

ANN = torch.tensor([[10.0, 10.0], [100.0, 10.0], [10.0, 10.0]])
ANN_CLS = torch.tensor([0, 0, 1])
PRED = torch.tensor([[14.0, 10.0], [10.0, 16.0], [60.0, 10.0], [12.0, 10.0], [10.0, 10.0], [200.0, 10.0]])
PRED_S = torch.tensor([0.5, 0.25, 0.9, 0.01, 0.4, 0.9])
PRED_CLS = torch.tensor([0, 0, 0, 0, 1, 0])


def test_weighted_mean_hand_values():
    r, w, n = self_refine_points(ANN, ANN_CLS, PRED, PRED_S, PRED_CLS)
    # a0 <- p0 (0.5) and p1 (0.25); p2 is nearer a1; p3 below 0.05; p5 beyond 64 px of a1
    assert r[0].tolist() == pytest.approx([(7 + 2.5) / 0.75, (5 + 4) / 0.75])
    assert r[1].tolist() == pytest.approx([60.0, 10.0])
    assert r[2].tolist() == pytest.approx([10.0, 10.0])  # class-1 prediction only
    assert w.tolist() == pytest.approx([0.75, 0.9, 0.4])
    assert n.tolist() == [2, 1, 1]


def test_options():
    r, _, n = self_refine_points(ANN, ANN_CLS, PRED, PRED_S, PRED_CLS, nearest_filter=False)
    # p2 (50 px from a0) now also supports a0
    assert r[0].tolist() == pytest.approx([63.5 / 1.65, 18.0 / 1.65])
    assert n.tolist() == [3, 1, 1]
    r, _, _ = self_refine_points(ANN, ANN_CLS, PRED, PRED_S, PRED_CLS, ann_weight=1.0)
    assert r[0].tolist() == pytest.approx([19.5 / 1.75, 19.0 / 1.75])
    r, w, _ = self_refine_points(ANN, ANN_CLS, PRED, PRED_S, PRED_CLS, radius=3.0, score_thresh=0.0)
    # only p3 (2 px, score 0.01) supports a0, p4 supports a2; a1 unsupported -> unchanged
    assert r[0].tolist() == pytest.approx([12.0, 10.0])
    assert r[1].tolist() == [100.0, 10.0] and w[1].item() == 0.0


def test_empty_inputs_keep_points():
    r, w, n = self_refine_points(ANN, ANN_CLS, torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    assert r.tolist() == ANN.tolist() and w.tolist() == [0, 0, 0] and n.tolist() == [0, 0, 0]
    r, _, _ = self_refine_points(torch.zeros(0, 2), torch.zeros(0), PRED, PRED_S, PRED_CLS)
    assert r.shape == (0, 2)
    with pytest.raises(ValueError):
        self_refine_points(ANN, ANN_CLS[:2], PRED, PRED_S, PRED_CLS)


def test_prediction_point_bbox_centre():
    assert prediction_point({"point": [3, 4]}) == (3.0, 4.0)
    assert prediction_point({"bbox": [10, 20, 16, 8]}) == (18.0, 24.0)
    with pytest.raises(ValueError, match="image_id 7"):
        prediction_point({"image_id": 7, "score": 1.0})


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


def test_self_refine_coco_and_tool(tmp_path):
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
    assert main(["--points", str(pts), "--predictions", str(pred_file), "--output", str(out), "--quiet"]) == 0
    res = json.loads(out.read_text())
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
    assert main(["--points", str(pts), "--predictions", str(pred_file), "--output", str(out2), "--quiet",
                 "--gt", str(gt_file)]) == 0
    res2 = json.loads(out2.read_text())
    assert res2["info"]["statistics"]["rsv_before"] == pytest.approx(0.070837, abs=1e-6)
    assert res2["info"]["gt_file"] == "gt.json" and len(res2["info"]["gt_sha256"]) == 64
    assert res2["info"]["predictions_file"] == "preds.json"
    first = out.read_bytes()
    assert main(["--points", str(pts), "--predictions", str(pred_file), "--output", str(out), "--quiet"]) == 0
    assert out.read_bytes() == first


def test_tool_errors_name_the_id(tmp_path, capsys):
    pts = tmp_path / "p.json"
    pts.write_text(json.dumps(_point_file()))
    pred_file = tmp_path / "preds.json"
    pred_file.write_text(json.dumps([{"image_id": 99, "category_id": 5, "score": 0.5, "point": [1, 1]}]))
    out = tmp_path / "o.json"
    assert main(["--points", str(pts), "--predictions", str(pred_file), "--output", str(out)]) == 1
    assert "image_id 99" in capsys.readouterr().err
    assert not out.exists()
    pred_file.write_text(json.dumps([{"image_id": 1, "category_id": 3, "score": 1, "point": [0, 0]}]))
    with pytest.raises(CocoFormatError, match="category_id 3"):
        self_refine_file(str(pts), str(pred_file), str(out))
    assert main(["--points", str(pts), "--predictions", str(pred_file), "--output", str(pts)]) == 1
