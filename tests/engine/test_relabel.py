"""The relabel engine: resume after a kill, atomic output, provenance, id checks."""
import json
import os
from collections import OrderedDict

import pytest

from pointdet.data.coco_io import CocoFormatError, file_sha256
from pointdet.engine.relabel import RelabelProducer, partial_path, relabel_file


def _write_points(folder, name="pts.json"):
    coco = {
        "info": {"generator": "test", "source_sha256": "ab" * 32},
        "images": [{"id": i, "file_name": f"{i}.png", "height": 20, "width": 30} for i in (1, 2, 3, 4)],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {"id": 10 + i, "image_id": i, "category_id": 1, "iscrowd": 0, "point": [float(i), 2.0]} for i in (1, 2, 3)
        ] + [{"id": 20, "image_id": 3, "category_id": 1, "iscrowd": 0, "point": [5.0, 5.0]}],
    }
    path = os.path.join(str(folder), name)
    with open(path, "w") as f:
        json.dump(coco, f)
    return path


class Shift(RelabelProducer):
    """Moves every point by ``dx`` (a pure function of the annotation); records the images it
    processed; raises after ``fail_after`` images (a simulated kill)."""

    generator = "tests.shift"
    seed = 3

    def __init__(self, dx=1.5, fail_after=None, bad_id=None):
        self.dx, self.fail_after, self.bad_id = dx, fail_after, bad_id
        self.processed = []

    def params(self):
        return OrderedDict(dx=self.dx)

    def produce(self, source, image_ids):
        for n, iid in enumerate(image_ids):
            if self.fail_after is not None and n == self.fail_after:
                raise KeyboardInterrupt("killed")
            self.processed.append(iid)
            res = {a["id"]: {"point": [a["point"][0] + self.dx, a["point"][1]], "shift_score": 0.5}
                   for a in source.coco["annotations"] if a["image_id"] == iid}
            if self.bad_id is not None and iid == 2:
                res[self.bad_id] = {"point": [0.0, 0.0]}
            yield iid, res


def _run(producer, src, out, **kw):
    return relabel_file(producer, src, out, keep={"point": "coarse_point"}, progress=False, **kw)


def test_resume_after_a_kill_equals_an_uninterrupted_run(tmp_path):
    src = _write_points(tmp_path)
    ref = str(tmp_path / "ref.json")
    _run(Shift(), src, ref)
    out = str(tmp_path / "out.json")
    with pytest.raises(KeyboardInterrupt):
        _run(Shift(fail_after=2), src, out)
    assert not os.path.exists(out) and os.path.exists(partial_path(out))
    again = Shift()
    _run(again, src, out)
    assert again.processed == [3, 4]  # images 1 and 2 were done before the kill
    assert open(out, "rb").read() == open(ref, "rb").read()
    assert not os.path.exists(partial_path(out))  # removed after the final write


def test_a_half_written_record_line_is_redone(tmp_path):
    src = _write_points(tmp_path)
    out = str(tmp_path / "out.json")
    with pytest.raises(KeyboardInterrupt):
        _run(Shift(fail_after=3), src, out)
    with open(partial_path(out), "a") as f:
        f.write('{"image_id": 4, "resu')  # killed while writing
    again = Shift()
    _run(again, src, out)
    assert again.processed == [4]


def test_changed_parameters_or_input_start_over(tmp_path):
    src = _write_points(tmp_path)
    out = str(tmp_path / "out.json")
    with pytest.raises(KeyboardInterrupt):
        _run(Shift(fail_after=2), src, out)
    other = Shift(dx=2.0)
    _run(other, src, out)
    assert other.processed == [1, 2, 3, 4]
    assert json.load(open(out))["annotations"][0]["point"] == [3.0, 2.0]
    with pytest.raises(KeyboardInterrupt):
        _run(Shift(fail_after=2), src, out)
    with open(src) as f:
        coco = json.load(f)
    coco["annotations"][0]["point"] = [7.0, 2.0]
    with open(src, "w") as f:
        json.dump(coco, f)
    fresh = Shift()
    _run(fresh, src, out)
    assert fresh.processed == [1, 2, 3, 4]
    no_resume = Shift()
    with pytest.raises(KeyboardInterrupt):
        _run(Shift(fail_after=2), src, out)
    _run(no_resume, src, out, resume=False)
    assert no_resume.processed == [1, 2, 3, 4]


def test_failure_leaves_no_half_file_and_the_old_output_untouched(tmp_path):
    src = _write_points(tmp_path)
    out = tmp_path / "out.json"
    out.write_text("previous version")
    with pytest.raises(KeyboardInterrupt):
        _run(Shift(fail_after=1), src, str(out))
    assert out.read_text() == "previous version"
    leftovers = [p for p in os.listdir(tmp_path) if p.startswith(".out.json") and not p.endswith(".partial")]
    assert leftovers == []
    with pytest.raises(ValueError, match="overwrite"):
        _run(Shift(), src, src)
    (tmp_path / ".out.json.tmp-killed").write_text("{")  # left by a write killed with SIGKILL
    _run(Shift(), src, str(out))
    assert json.loads(out.read_text())["info"]["generator"] == "tests.shift"
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith(".")) == []


def test_output_schema_and_provenance(tmp_path):
    src = _write_points(tmp_path)
    out = str(tmp_path / "out.json")
    stats = _run(Shift(), src, out, extra_info={"weights": "w.pth", "config_sha256": "c" * 64})
    d = json.load(open(out))
    info = d["info"]
    assert list(info) == ["description", "generator", "params", "seed", "source_file", "source_sha256",
                          "weights", "config_sha256", "statistics", "source_info"]
    assert info["generator"] == "tests.shift" and info["params"] == {"dx": 1.5} and info["seed"] == 3
    assert info["source_file"] == "pts.json" and info["source_sha256"] == file_sha256(src)
    assert info["source_info"] == {"generator": "test", "source_sha256": "ab" * 32}
    assert info["statistics"] == stats == {"images": 4, "annotations": 4, "relabelled": 4}
    a = {x["id"]: x for x in d["annotations"]}
    assert a[11]["point"] == [2.5, 2.0] and a[11]["coarse_point"] == [1.0, 2.0] and a[11]["shift_score"] == 0.5
    assert list(d) == ["info", "images", "categories", "annotations"]


@pytest.mark.parametrize("bad_id,match", [(99, r"pts.json: the producer returned annotation id 99 \(image id 2\)"),
                                          (13, r"pts.json: annotation id 13 belongs to image id 3, relabelled in image id 2")])
def test_unknown_or_foreign_annotation_id_is_a_clear_error(tmp_path, bad_id, match):
    src = _write_points(tmp_path)
    out = tmp_path / "out.json"
    with pytest.raises(CocoFormatError, match=match):
        _run(Shift(bad_id=bad_id), src, str(out))
    assert not out.exists()


def test_duplicate_image_and_missing_image_are_clear_errors(tmp_path):
    src = _write_points(tmp_path)

    class Twice(Shift):
        def produce(self, source, image_ids):
            yield 1, {11: {"point": [0.0, 0.0]}}
            yield 1, {}

    with pytest.raises(CocoFormatError, match="image id 1 twice"):
        _run(Twice(), src, str(tmp_path / "o.json"))

    class Missing(Shift):
        def produce(self, source, image_ids):
            yield 1, {}

    with pytest.raises(RuntimeError, match="did not process image id 2"):
        _run(Missing(), src, str(tmp_path / "o2.json"))


class Adder(Shift):
    """Shift, and adds ``n`` boxes to every image, visiting the images in reverse order; with
    ``bad`` (a field update) the second box of image 2 is invalid."""

    generator = "tests.adder"
    adds_annotations = True

    def __init__(self, n=2, bad=None, **kw):
        super().__init__(**kw)
        self.n, self.bad = n, bad

    def produce(self, source, image_ids):
        for iid, res in super().produce(source, list(reversed(image_ids))):
            added = [{"category_id": 1, "bbox": [float(iid), float(k), 2.0, 3.0], "mined": True} for k in range(self.n)]
            if self.bad is not None and iid == 2:
                added[1].update(self.bad)
            yield iid, res, added


def test_added_annotations_get_ids_in_image_order_then_producer_order(tmp_path):
    src = _write_points(tmp_path)
    out = str(tmp_path / "out.json")
    stats = _run(Adder(), src, out)
    d = json.load(open(out))
    assert stats == d["info"]["statistics"] == {"images": 4, "annotations": 4, "relabelled": 4, "added": 8}
    old, new = d["annotations"][:4], d["annotations"][4:]
    assert [a["id"] for a in old] == [11, 12, 13, 20] and old[0]["point"] == [2.5, 2.0]  # still relabelled
    # ids after the largest (20); images 1..4 in the file's order although produced 4..1
    assert [(a["id"], a["image_id"], a["bbox"][1]) for a in new] == [
        (21, 1, 0.0), (22, 1, 1.0), (23, 2, 0.0), (24, 2, 1.0), (25, 3, 0.0), (26, 3, 1.0), (27, 4, 0.0), (28, 4, 1.0)]
    assert new[0] == {"id": 21, "image_id": 1, "category_id": 1, "bbox": [1.0, 0.0, 2.0, 3.0], "mined": True}
    assert list(new[0]) == ["id", "image_id", "category_id", "bbox", "mined"]
    assert "coarse_point" not in new[0]  # `keep` applies to the input's annotations only
    # a producer that adds nothing: no `added` statistic (its files are unchanged)
    assert "added" not in _run(Shift(), src, str(tmp_path / "plain.json"))


@pytest.mark.parametrize("bad,match", [
    ({"category_id": 7}, r"pts.json: annotation #1 added to image id 2 has unknown category id 7"),
    ({"bbox": [1.0, float("nan"), 2.0, 3.0]}, r"pts.json: annotation #1 added to image id 2 has malformed bbox"),
    ({"bbox": [1.0, 1.0, 1e9, 3.0]}, r"pts.json: annotation #1 added to image id 2 has malformed bbox"),
    ({"bbox": [1.0, 1.0, 0.0, 3.0]}, r"pts.json: annotation #1 added to image id 2 has a degenerate bbox"),
    ({"image_id": 3}, r"pts.json: annotation #1 added to image id 2 has image id 3"),
    ({"id": 5}, r"pts.json: annotation #1 added to image id 2 has id 5"),
])  # fmt: skip
def test_invalid_added_annotation_is_a_clear_error(tmp_path, bad, match):
    src = _write_points(tmp_path)
    out = tmp_path / "out.json"
    with pytest.raises(CocoFormatError, match=match):
        _run(Adder(bad=bad), src, str(out))
    assert not out.exists()


def test_additions_need_adds_annotations(tmp_path):
    src = _write_points(tmp_path)

    class Undeclared(Adder):
        adds_annotations = False

    with pytest.raises(TypeError, match="adds_annotations"):
        _run(Undeclared(), src, str(tmp_path / "o.json"))


def test_resume_after_a_kill_with_additions_equals_an_uninterrupted_run(tmp_path):
    src = _write_points(tmp_path)
    ref = str(tmp_path / "ref.json")
    _run(Adder(), src, ref)
    out = str(tmp_path / "out.json")
    with pytest.raises(KeyboardInterrupt):
        _run(Adder(fail_after=2), src, out)
    with open(partial_path(out)) as f:
        recs = [json.loads(line) for line in f.read().splitlines()[1:]]
    assert [(r["image_id"], len(r["added"])) for r in recs] == [(4, 2), (3, 2)]  # the additions are recorded
    again = Adder()
    _run(again, src, out)
    assert again.processed == [2, 1]
    assert open(out, "rb").read() == open(ref, "rb").read()
    assert not os.path.exists(partial_path(out))
