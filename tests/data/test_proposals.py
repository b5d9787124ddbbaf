"""Tests of pointdet.data.proposals: the proposal-file format, its validation, Detectron2's
precomputed-proposals format both ways, dataset registration and the mapper's Instances."""
import json
import os
import pickle
import uuid

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from detectron2.data import DatasetCatalog
from detectron2.data import transforms as T
from detectron2.structures import BoxMode
from PIL import Image

from pointdet.data.dataset_mapper import PointDatasetMapper
from pointdet.data.datasets import load_point_coco_json, register_point_coco_instances
from pointdet.data.proposals import (
    AnnotationProposals,
    ProposalFileError,
    ProposalSet,
    attach_proposals,
    detectron2_image_proposals,
    detectron2_proposal_fields,
    from_detectron2_proposals,
    load_detectron2_proposals,
    load_proposals,
    proposal_info,
    save_detectron2_proposals,
    save_proposals,
    to_detectron2_proposals,
)

W, H = 20, 10  # image size of the fixture (width, height)


def _rle(x0, y0, x1, y1):
    m = np.zeros((H, W), dtype=np.uint8, order="F")
    m[y0:y1, x0:x1] = 1
    r = mask_util.encode(m)
    r["counts"] = r["counts"].decode("ascii")
    return r


def _coco():
    """Image 1 (points 10, 11 and a crowd 12), image 2 (point 13), image 3 empty; categories 3 and 7."""
    imgs = [{"id": i, "file_name": f"im{i}.png", "width": W, "height": H} for i in (1, 2, 3)]
    anns = [
        {"id": 10, "image_id": 1, "category_id": 7, "iscrowd": 0, "point": [4.0, 5.0]},
        {"id": 11, "image_id": 1, "category_id": 3, "iscrowd": 0, "point": [15.0, 2.0]},
        {"id": 12, "image_id": 1, "category_id": 3, "iscrowd": 1, "point": [1.0, 1.0]},
        {"id": 13, "image_id": 2, "category_id": 3, "iscrowd": 0, "point": [10.0, 5.0]},
    ]
    return {"images": imgs, "annotations": anns, "categories": [{"id": 3, "name": "a"}, {"id": 7, "name": "b"}]}


def _proposals():
    return {
        "info": {"generator": "test", "params": {"m": 2}},
        "proposals": [
            {"image_id": 1, "annotation_id": 10, "boxes": [[2, 3, 4, 4], [0, 0, 10, 10]], "scores": [0.9, 0.2],
             "segmentations": [_rle(2, 3, 6, 7), _rle(0, 0, 10, 10)]},
            {"image_id": 1, "annotation_id": 11, "boxes": [[12, 0, 6, 4]], "scores": [0.5],
             "segmentations": [_rle(12, 0, 18, 4)]},
            {"image_id": 2, "annotation_id": 13, "boxes": [], "scores": [], "segmentations": []},
        ],
    }


def _write(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f)
    return str(path)


@pytest.fixture
def files(tmp_path):
    img_dir = tmp_path / "images"
    img_dir.mkdir()
    for i in (1, 2, 3):
        a = np.zeros((H, W, 3), dtype=np.uint8)
        a[:, :, 0] = np.arange(W, dtype=np.uint8)[None, :] * 10  # left-right gradient: flips are visible
        Image.fromarray(a).save(img_dir / f"im{i}.png")
    return _write(_coco(), tmp_path / "points.json"), _write(_proposals(), tmp_path / "props.json"), str(img_dir)


# ------------------------------------------------------------------ format and validation


def test_load_save_roundtrip(files, tmp_path):
    coco_path, prop_path, _ = files
    ps = load_proposals(prop_path, coco_path)
    assert list(ps.by_annotation) == [10, 11, 13] and ps.image_ids == [1, 2, 3]
    p = ps[10]
    assert p.image_id == 1 and len(p) == 2
    np.testing.assert_array_equal(p.boxes, [[2, 3, 4, 4], [0, 0, 10, 10]])
    np.testing.assert_array_equal(p.scores, [0.9, 0.2])
    assert len(ps[13]) == 0 and ps.info["generator"] == "test"
    out = str(tmp_path / "again.json")
    save_proposals(ps, out)
    assert json.load(open(out)) == json.load(open(prop_path))
    info = proposal_info("pointdet.sam_proposals", {"m": 6}, coco_path)
    assert info["source_file"] == "points.json" and len(info["source_sha256"]) == 64


def _mutated(tmp_path, fn, name="bad.json"):
    d = _proposals()
    fn(d)
    return _write(d, tmp_path / name)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["proposals"].pop(1), "bad.json: missing proposals for 1 annotations of .*points.json: annotation ids 11"),
        (lambda d: d["proposals"][0]["boxes"].__setitem__(1, [15, 0, 10, 4]),
         "bad.json: annotation id 10 \\(image id 1\\): box 1 \\[15, 0, 10, 4\\] \\(XYWH\\) lies outside the image \\(20x10"),
        (lambda d: d["proposals"][0]["boxes"].__setitem__(0, [-3, 0, 2, 2]), "annotation id 10 \\(image id 1\\): box 0 .* lies outside"),
        (lambda d: d["proposals"].append({"image_id": 2, "annotation_id": 99, "boxes": [], "scores": [], "segmentations": []}),
         "bad.json: annotation id 99 \\(image id 2\\): unknown annotation id 99 \\(not in .*points.json\\)"),
        (lambda d: d["proposals"][2].update(image_id=42), "bad.json: annotation id 13 \\(image id 42\\): unknown image id 42"),
        (lambda d: d["proposals"][2].update(image_id=3), "annotation id 13 \\(image id 3\\): the annotation belongs to image id 2"),
        (lambda d: d["proposals"].append(dict(d["proposals"][1])), "bad.json: duplicate entry for annotation id 11"),
        (lambda d: d["proposals"][0].update(scores=[0.9]), "annotation id 10 \\(image id 1\\): 'scores' must be 2 finite numbers"),
        (lambda d: d["proposals"][0].update(segmentations=d["proposals"][0]["segmentations"][:1]),
         "annotation id 10 \\(image id 1\\): 'segmentations' must be a list of 2 RLE dicts"),
        (lambda d: d["proposals"][1].pop("scores"), "annotation id 11 \\(image id 1\\): 'scores' must be given for every entry or for none"),
        (lambda d: d["proposals"][0]["boxes"].__setitem__(0, [1e300, 0, 1, 1]), "annotation id 10 \\(image id 1\\): box 0 .* not 4 finite"),
        (lambda d: d["proposals"][0]["boxes"].__setitem__(0, [1, 1, -1, 1]), "annotation id 10 \\(image id 1\\): box 0 .* w, h >= 0"),
        (lambda d: d["proposals"][1].update(segmentations=[{"size": [5, 5], "counts": "abc"}]),
         "annotation id 11 .* has an RLE proposal segmentation 0 of size \\[5, 5\\] but its image is"),
        (lambda d: d["proposals"][1].update(segmentations=["garbage"]), "annotation id 11 \\(image id 1\\): segmentation 0 is not an RLE dict"),
        (lambda d: d.pop("proposals"), "bad.json: not a proposal file"),
        (lambda d: d["proposals"][0].update(annotation_id="10"), "bad.json: proposals\\[0\\] needs integer 'image_id' and 'annotation_id'"),
    ],
)
def test_bad_proposal_files_name_file_and_id(files, tmp_path, mutate, message):
    coco_path, _, _ = files
    with pytest.raises(ProposalFileError, match=message):
        load_proposals(_mutated(tmp_path, mutate), coco_path)


def test_non_finite_score_names_file_and_id(files, tmp_path):
    coco_path, prop_path, _ = files
    text = open(prop_path).read().replace("0.9", "NaN", 1)
    with pytest.raises(ProposalFileError, match="nan.json: .*is NaN"):
        load_proposals(_write_text(tmp_path / "nan.json", text), coco_path)
    d = _proposals()
    d["proposals"][0]["scores"] = [0.9, 1e400]  # json.dumps writes Infinity
    with pytest.raises(ProposalFileError, match="inf.json: .*is Infinity"):
        load_proposals(_write(d, tmp_path / "inf.json"), coco_path)


def _write_text(path, text):
    path.write_text(text)
    return str(path)


def test_missing_allowed_when_not_required_and_crowd_never_required(files, tmp_path):
    coco_path, _, _ = files
    path = _mutated(tmp_path, lambda d: d["proposals"].pop(1))
    ps = load_proposals(path, coco_path, require_all=False)
    assert list(ps.by_annotation) == [10, 13]  # crowd annotation 12 is never required


# ------------------------------------------------------------------ Detectron2's precomputed format


def test_to_detectron2_hand_values_and_detectron2_reads_it(files, tmp_path):
    from detectron2.data.build import load_proposals_into_dataset

    coco_path, prop_path, img_dir = files
    ps = load_proposals(prop_path, coco_path)
    d2 = to_detectron2_proposals(ps)
    assert d2["ids"] == [1, 2, 3] and d2["bbox_mode"] == BoxMode.XYXY_ABS
    np.testing.assert_array_equal(d2["boxes"][0], [[2, 3, 6, 7], [0, 0, 10, 10], [12, 0, 18, 4]])
    np.testing.assert_allclose(d2["objectness_logits"][0], [0.9, 0.2, 0.5])
    assert d2["boxes"][1].shape == (0, 4) and d2["boxes"][2].shape == (0, 4)
    pkl = str(tmp_path / "d2.pkl")
    save_detectron2_proposals(d2, pkl)
    dicts = load_proposals_into_dataset(load_point_coco_json(coco_path, img_dir), pkl)  # Detectron2's own loader
    np.testing.assert_array_equal(dicts[0]["proposal_boxes"], [[2, 3, 6, 7], [12, 0, 18, 4], [0, 0, 10, 10]])
    back = load_detectron2_proposals(pkl)
    assert back["ids"] == [1, 2, 3] and back["bbox_mode"] == int(BoxMode.XYXY_ABS)


def test_from_detectron2_assigns_by_point_inside(files):
    coco_path, _, _ = files
    d2 = {
        "ids": [1, 2],
        "boxes": [
            np.array([[0, 0, 8, 8], [3, 4, 5, 6], [10, 0, 25, 5], [0, 0, 20, 10], [5, 5, 6, 6]], dtype=np.float32),
            np.array([[9, 4, 11, 6]], dtype=np.float32),
        ],
        "objectness_logits": [np.array([0.1, 2.0, 0.7, -1.0, 5.0]), np.array([0.3])],
    }
    ps = from_detectron2_proposals(d2, coco_path)
    # annotation 10 at (4, 5): inside boxes 0, 1 (border x1 = 3 <= 4), 3; sorted by logit 2.0, 0.1, -1.0
    np.testing.assert_array_equal(ps[10].boxes, [[3, 4, 2, 2], [0, 0, 8, 8], [0, 0, 20, 10]])
    np.testing.assert_allclose(ps[10].scores, [2.0, 0.1, -1.0])
    # annotation 11 at (15, 2): box 2 clipped to the image (x2 25 -> 20), box 3
    np.testing.assert_array_equal(ps[11].boxes, [[10, 0, 10, 5], [0, 0, 20, 10]])
    assert 12 not in ps.by_annotation  # crowd
    np.testing.assert_array_equal(ps[13].boxes, [[9, 4, 2, 2]])
    top1 = from_detectron2_proposals(d2, coco_path, max_per_annotation=1)
    np.testing.assert_array_equal(top1[10].boxes, [[3, 4, 2, 2]])
    # XYWH input and the round trip through our format
    xywh = dict(d2, boxes=[BoxMode.convert(b, BoxMode.XYXY_ABS, BoxMode.XYWH_ABS) for b in d2["boxes"]],
                bbox_mode=BoxMode.XYWH_ABS)
    np.testing.assert_allclose(from_detectron2_proposals(xywh, coco_path)[10].boxes, ps[10].boxes)
    again = to_detectron2_proposals(ps)
    np.testing.assert_array_equal(again["boxes"][1], [[9, 4, 11, 6]])


def test_from_detectron2_unknown_image_and_lengths(files):
    coco_path, _, _ = files
    with pytest.raises(ProposalFileError, match="unknown image id 77"):
        from_detectron2_proposals({"ids": [77], "boxes": [np.zeros((0, 4))], "objectness_logits": [np.zeros(0)]}, coco_path)
    with pytest.raises(ProposalFileError, match="image id 1: 1 boxes but 2 objectness logits"):
        from_detectron2_proposals({"ids": [1], "boxes": [np.zeros((1, 4))], "objectness_logits": [np.zeros(2)]}, coco_path)


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_detectron2_pickle_loader_refuses_code(tmp_path):
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"ids": [1], "boxes": [_Evil()]}))
    with pytest.raises(ProposalFileError, match="evil.pkl: not a Detectron2 proposal pickle .*refusing to load"):
        load_detectron2_proposals(str(p))


# ------------------------------------------------------------------ registration and mapper


def test_load_point_coco_json_attaches_by_annotation_id(files):
    coco_path, prop_path, img_dir = files
    dicts = load_point_coco_json(coco_path, img_dir, proposal_file=prop_path)
    a10, a11, a12 = dicts[0]["annotations"]
    np.testing.assert_array_equal(a10["proposal_boxes"], [[2, 3, 6, 7], [0, 0, 10, 10]])  # XYXY
    assert a10["proposal_bbox_mode"] == BoxMode.XYXY_ABS and a10["proposal_boxes"].dtype == np.float32
    np.testing.assert_allclose(a10["proposal_scores"], [0.9, 0.2])
    assert len(a11["proposal_segmentations"]) == 1 and "proposal_boxes" not in a12  # crowd
    assert dicts[1]["annotations"][0]["proposal_boxes"].shape == (0, 4)

    name = "test_props_" + uuid.uuid4().hex[:8]
    register_point_coco_instances(name, {}, coco_path, img_dir, proposal_file=prop_path)
    assert DatasetCatalog.get(name)[0]["annotations"][0]["proposal_boxes"].shape == (2, 4)
    bad = _write({"info": {}, "proposals": _proposals()["proposals"][:1]}, os.path.join(os.path.dirname(prop_path), "few.json"))
    with pytest.raises(ProposalFileError, match="few.json: missing proposals for 2 annotations of .*points.json: annotation ids 11, 13"):
        load_point_coco_json(coco_path, img_dir, proposal_file=bad)


def _mapper(augs, **kw):
    return PointDatasetMapper(True, augmentations=augs, image_format="RGB", object_proposals=True, **kw)


def test_mapper_resize_and_flip_proposals_consistently(files):
    coco_path, prop_path, img_dir = files
    d = load_point_coco_json(coco_path, img_dir, proposal_file=prop_path)[0]
    out = _mapper([T.Resize((2 * H, 2 * W)), T.RandomFlip(prob=1.0)], object_proposal_masks=True)(d)
    inst = out["instances"]
    assert inst.gt_proposal_boxes.shape == (2, 2, 4)  # crowd removed, padded to M = 2
    # x -> 2 * W - 2x (flip after the x2 resize), y -> 2y
    expected = torch.tensor([[[28, 6, 36, 14], [20, 0, 40, 20]], [[4, 0, 16, 8], [0, 0, 0, 0]]], dtype=torch.float32)
    torch.testing.assert_close(inst.gt_proposal_boxes, expected)
    assert inst.gt_proposal_valid.tolist() == [[True, True], [True, False]]
    torch.testing.assert_close(inst.gt_proposal_scores, torch.tensor([[0.9, 0.2], [0.5, 0.0]]))
    torch.testing.assert_close(inst.gt_points, torch.tensor([[32.0, 10.0], [10.0, 4.0]]))
    m = inst.gt_proposal_masks
    assert m.shape == (2, 2, 2 * H, 2 * W) and m.dtype == torch.bool
    ys, xs = torch.nonzero(m[0, 0], as_tuple=True)  # mask of box 0 lands in its transformed box
    assert (xs.min().item(), xs.max().item() + 1, ys.min().item(), ys.max().item() + 1) == (28, 36, 6, 14)
    assert not m[1, 1].any()
    # the image moved the same way (left-right gradient reversed)
    assert out["image"][0, 0, 0] > out["image"][0, 0, -1]


def test_mapper_empty_bags_crop_and_errors(files):
    coco_path, prop_path, img_dir = files
    dicts = load_point_coco_json(coco_path, img_dir, proposal_file=prop_path)
    inst = _mapper([])(dicts[1])["instances"]  # one object, empty bag
    assert inst.gt_proposal_boxes.shape == (1, 0, 4) and inst.gt_proposal_valid.shape == (1, 0)
    inst = _mapper([])(dicts[2])["instances"]  # no objects
    assert inst.gt_proposal_boxes.shape == (0, 0, 4) and not inst.has("gt_proposal_scores")
    # a crop keeps only object 10 (point 4, 5); its boxes are clipped, the one left empty is invalid
    crop = T.CropTransform(0, 0, 8, 10)
    inst = PointDatasetMapper(True, augmentations=[], image_format="RGB", object_proposals=True)._annotations_to_instances(
        dicts[0]["annotations"], T.TransformList([crop]), (10, 8), 1)
    assert inst.gt_ann_ids.tolist() == [10]
    torch.testing.assert_close(inst.gt_proposal_boxes, torch.tensor([[[2.0, 3, 6, 7], [0, 0, 8, 10]]]))
    no_props = [{k: v for k, v in a.items() if not k.startswith("proposal_")} for a in dicts[0]["annotations"]]
    with pytest.raises(ValueError, match="image id 1, annotation id 10: object_proposals is on but the annotation has no 'proposal_boxes'"):
        _mapper([])(dict(dicts[0], annotations=no_props))
    with pytest.raises(ValueError, match="supervision='points' or 'clicks'"):
        PointDatasetMapper(True, augmentations=[], image_format="RGB", supervision="boxes", object_proposals=True)


def test_mapper_from_config_keys():
    from detectron2.config import get_cfg

    from pointdet.data.dataset_mapper import add_point_data_config

    cfg = add_point_data_config(get_cfg())
    assert cfg.INPUT.OBJECT_PROPOSALS.ENABLED is False and cfg.INPUT.OBJECT_PROPOSALS.MASKS is False
    cfg.INPUT.OBJECT_PROPOSALS.ENABLED = True
    cfg.INPUT.OBJECT_PROPOSALS.MASKS = True
    m = PointDatasetMapper(cfg, True)
    assert m.object_proposals and m.object_proposal_masks


def test_detectron2_fields_and_image_proposals():
    from detectron2.structures import BoxMode

    d2 = detectron2_proposal_fields({"indexes": [1], "boxes": [[]], "scores": [[]]}, "d1.pkl")
    assert sorted(d2) == ["bbox_mode", "boxes", "ids", "objectness_logits"] and d2["bbox_mode"] == BoxMode.XYXY_ABS
    with pytest.raises(ProposalFileError, match="d1.pkl: Detectron2 proposals need 'boxes'"):
        detectron2_proposal_fields({"ids": [1], "objectness_logits": [[]]}, "d1.pkl")
    # XYWH boxes, logits with a tie: sorted by descending logit (tie in file order), clipped to (H, W) = (10, 20)
    xywh = [[0, 0, 5, 5], [-4, 2, 30, 3], [1, 1, 2, 2]]
    xyxy, s = detectron2_image_proposals(xywh, [0.5, 2.0, 0.5], BoxMode.XYWH_ABS, "f: image id 1", (10, 20))
    assert s.tolist() == [2.0, 0.5, 0.5]
    assert xyxy.tolist() == [[0, 2, 20, 5], [0, 0, 5, 5], [1, 1, 3, 3]]
    xyxy, _ = detectron2_image_proposals(xywh, [0.5, 2.0, 0.5], BoxMode.XYWH_ABS, "f: image id 1")
    assert xyxy[0].tolist() == [-4, 2, 26, 5]  # no clipping without the image size
    with pytest.raises(ProposalFileError, match="f: image id 1: non-finite"):
        detectron2_image_proposals([[0, 0, np.nan, 1]], [0.0], BoxMode.XYXY_ABS, "f: image id 1")
