"""Before/after guard of CPR refinement: the same checkpoint and the same input file give a
byte-identical refined file (``data/tiny_refined_golden.json`` was written by the refinement
code as it stood before the relabel engine, from ``data/tiny_cprnet.pth``)."""
import hashlib
import os

from tests.engine.tiny_cpr import DATA, tiny_cprnet, tiny_mapper, write_tiny_dataset

GOLDEN = os.path.join(DATA, "tiny_refined_golden.json")
GOLDEN_SHA256 = "81b1590215d9d1fa4751a7d6f66cc90ef9ac769cb8d31bbc1eb57328c6d097ac"


def _refine(tmp_path):
    from pointdet.engine.refinement import refine_annotation_file

    src, root = write_tiny_dataset(tmp_path)
    out = str(tmp_path / "refined.json")
    refine_annotation_file(tiny_cprnet(), src, root, out, mapper=tiny_mapper(), progress=False,
                           info={"weights": "tiny_cprnet.pth"})
    with open(out, "rb") as f:
        return f.read()


def test_refined_file_is_byte_identical_to_the_golden(tmp_path):
    with open(GOLDEN, "rb") as f:
        golden = f.read()
    assert hashlib.sha256(golden).hexdigest() == GOLDEN_SHA256
    got = _refine(tmp_path)
    assert got == golden, "refined file differs from tests/engine/data/tiny_refined_golden.json"


def test_killed_refinement_resumes_to_the_same_file(tmp_path):
    from pointdet.engine.refinement import refine_annotation_file
    from pointdet.engine.relabel import partial_path

    src, root = write_tiny_dataset(tmp_path)
    out = str(tmp_path / "refined.json")
    seen = []

    def kill_at_third_image(x, inst):
        if len(seen) == 2:
            raise KeyboardInterrupt("killed")
        seen.append(x["image_id"])

    args = dict(mapper=tiny_mapper(), progress=False, info={"weights": "tiny_cprnet.pth"})
    try:
        refine_annotation_file(tiny_cprnet(), src, root, out, callback=kill_at_third_image, **args)
    except KeyboardInterrupt:
        pass
    assert seen == [1, 2] and not os.path.exists(out) and os.path.exists(partial_path(out))
    rest = []
    refine_annotation_file(tiny_cprnet(), src, root, out, callback=lambda x, inst: rest.append(x["image_id"]), **args)
    assert rest == [3, 4]
    with open(out, "rb") as f, open(GOLDEN, "rb") as g:
        assert f.read() == g.read()


def test_points_outside_the_image_are_counted_and_reported(tmp_path, caplog):
    import json

    from pointdet.engine.refinement import refine_annotation_file
    from tests.engine.tiny_cpr import point_annotations

    anns = point_annotations()
    anns[0]["point"] = [70.0, 10.0]  # image 1 is 56 px wide
    src, root = write_tiny_dataset(tmp_path, anns)
    out = str(tmp_path / "refined.json")
    stats = refine_annotation_file(tiny_cprnet(), src, root, out, mapper=tiny_mapper(), progress=False)
    assert stats["outside_image"] == 1 and stats["seen"] == 10
    assert "1 point(s) outside their image were not refined (first: annotation id 101)" in caplog.text
    d = json.load(open(out))
    assert d["info"]["statistics"]["outside_image"] == 1
    a = {x["id"]: x for x in d["annotations"]}[101]
    assert a["point"] == a["coarse_point"] == [70.0, 10.0] and "cpr_score" not in a


def test_rsv_against_an_unrelated_gt_file_fails_before_refining(tmp_path):
    import json

    import pytest

    from pointdet.data.coco_io import CocoFormatError
    from pointdet.engine.refinement import refine_annotation_file

    src, root = write_tiny_dataset(tmp_path)
    gt = json.load(open(src))
    for a in gt["annotations"]:
        a["bbox"] = a.pop("true_bbox")
        del a["point"]
    gt["annotations"][1]["category_id"] = 3  # annotation 102 is of category 7 in the point file
    gt_path = tmp_path / "unrelated_gt.json"
    gt_path.write_text(json.dumps(gt))
    calls = []
    with pytest.raises(CocoFormatError, match="annotation id 102 has category_id 7, the GT file .*unrelated_gt.json has 3"):
        refine_annotation_file(tiny_cprnet(), src, root, str(tmp_path / "o.json"), mapper=tiny_mapper(),
                               progress=False, gt_json=str(gt_path), callback=lambda x, i: calls.append(x))
    assert calls == [] and not (tmp_path / "o.json").exists()
