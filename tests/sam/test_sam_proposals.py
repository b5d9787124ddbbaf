"""Prompted-mask proposals: a tiny randomly initialised SAM (segment-anything's own classes),
batched == one call per prompt, sharded kill-and-resume, merge checks, the classical source."""
import json
import cv2
import numpy as np
import pytest
import torch

from pointdet.data.proposals import ProposalFileError, load_proposals
from pointdet.sam import ClassicalSource, SAMSource, build_sam_from_checkpoint, merge_proposal_parts, parse_shard
from pointdet.sam.generate import generate_proposal_parts, masks_to_proposals, run_proposal_tool
from pointdet.sam.tiny import build_tiny_sam


def tiny_sam(seed=0):
    return build_tiny_sam(seed)


def _image(h=40, w=56, seed=0):
    return np.random.RandomState(seed).randint(0, 255, (h, w, 3)).astype(np.uint8)


def test_batched_equals_one_call_per_prompt():
    src = SAMSource(tiny_sam(), batch_size=2, jitter_px=5.0, seed=3)
    src.set_image(_image())
    pts = np.array([[3.5, 4.5], [20.0, 30.0], [55.9, 39.9], [10.0, 10.0], [40.2, 7.7]])
    keys = [1, 2, 3, 4, 5]
    masks, scores = src.predict(pts, keys)
    assert masks.shape == (5, 6, 40, 56) and scores.shape == (5, 6)
    ref_m, ref_s = src.predict_one_by_one(pts, keys)
    assert np.array_equal(masks, ref_m)
    np.testing.assert_allclose(scores, ref_s, rtol=1e-4, atol=1e-5)
    assert masks.any()  # not trivially equal
    # the auxiliary point is fixed by (seed, annotation id) and jitter_px away
    aux = src.auxiliary_points(pts[:2], keys[:2])
    assert np.allclose(np.linalg.norm(aux - pts[:2], axis=1), 5.0)
    assert np.array_equal(aux, src.auxiliary_points(pts[:2], keys[:2]))
    assert SAMSource(tiny_sam(), second_prompt="none").num_masks == 3


def test_missing_or_wrong_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="SAM checkpoint not found.*nope.pth"):
        build_sam_from_checkpoint("vit_b", str(tmp_path / "nope.pth"))
    bad = tmp_path / "bad.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="bad.pth"):
        build_sam_from_checkpoint("vit_b", str(bad))


def test_masks_to_proposals_tight_boxes():
    m = np.zeros((2, 10, 12), dtype=bool)
    m[0, 2:5, 3:9] = True
    boxes, rles = masks_to_proposals(m)
    assert boxes == [[3.0, 2.0, 6.0, 3.0], [0.0, 0.0, 0.0, 0.0]]
    assert rles[0]["size"] == [10, 12] and isinstance(rles[0]["counts"], str)


def _dataset(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    images, anns = [], []
    aid = 1
    for i in range(1, 5):
        h, w = 40, 48 + 4 * i
        cv2.imwrite(str(root / f"{i}.png"), _image(h, w, seed=i)[:, :, ::-1])
        images.append({"id": i, "file_name": f"{i}.png", "height": h, "width": w})
        for k in range(i % 3):  # image 3 has no point
            anns.append({"id": aid, "image_id": i, "category_id": 1, "iscrowd": 0, "point": [5.0 + 9 * k, 6.0 + 7 * k]})
            aid += 1
    anns.append({"id": aid, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 4, 4]})  # crowd: none
    path = tmp_path / "points.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x"}]}))
    return str(path), str(root)


class _Killed(Exception):
    pass


class _DiesAfter:
    """Wraps a source and raises on the n-th image (a killed run)."""

    def __init__(self, src, n):
        self.src, self.n, self.calls = src, n, 0
        self.name, self.description, self.num_masks = src.name, src.description, src.num_masks

    def params(self):
        return self.src.params()

    def set_image(self, image):
        self.calls += 1
        if self.calls == self.n:
            raise _Killed()
        self.src.set_image(image)

    def predict(self, points, keys):
        return self.src.predict(points, keys)


def test_sharded_kill_and_resume_loses_and_duplicates_nothing(tmp_path):
    ann, root = _dataset(tmp_path)
    sam = tiny_sam()
    full = str(tmp_path / "full.json")
    run_proposal_tool(ann, root, full, SAMSource(sam, batch_size=1), progress=False)
    sharded = str(tmp_path / "sharded.json")
    parts = sharded + ".parts"
    # shard 0/2 holds images 1 and 3 (3 without points: set_image not called) -> kill at its 1st image
    with pytest.raises(_Killed):
        generate_proposal_parts(ann, root, parts, _DiesAfter(SAMSource(sam, batch_size=3), 1), (0, 2), progress=False)
    # shard 1/2 (images 2 and 4) killed at its 2nd image: image 2's part is written, 4's is not
    with pytest.raises(_Killed):
        generate_proposal_parts(ann, root, parts, _DiesAfter(SAMSource(sam, batch_size=3), 2), (1, 2), progress=False)
    with pytest.raises(ProposalFileError, match=r"no part for 3 images \(image ids \[1, 3, 4\]\)"):
        merge_proposal_parts(ann, parts, sharded, 6)
    assert generate_proposal_parts(ann, root, parts, SAMSource(sam, batch_size=3), (1, 2), progress=False) == 1
    assert generate_proposal_parts(ann, root, parts, SAMSource(sam, batch_size=3), (0, 2), progress=False) == 2
    assert generate_proposal_parts(ann, root, parts, SAMSource(sam, batch_size=3), (0, 2), progress=False) == 0
    merge_proposal_parts(ann, parts, sharded, 6)
    a, b = load_proposals(full, ann), load_proposals(sharded, ann)
    assert list(a.by_annotation) == list(b.by_annotation) == [1, 2, 3, 4]  # 5 is a crowd region
    for k in a.by_annotation:
        assert np.array_equal(a[k].boxes, b[k].boxes) and len(a[k]) == 6
        assert a[k].segmentations == b[k].segmentations
        np.testing.assert_allclose(a[k].scores, b[k].scores, rtol=1e-4, atol=1e-5)
    info = json.load(open(sharded))["info"]
    assert info["generator"] == "segment_anything" and info["masks_per_annotation"] == 6


def test_merge_refuses_wrong_count_and_mixed_sources(tmp_path):
    ann, root = _dataset(tmp_path)
    parts = str(tmp_path / "p")
    generate_proposal_parts(ann, root, parts, ClassicalSource(), (0, 1), progress=False)
    with pytest.raises(ProposalFileError, match="expected 3"):
        merge_proposal_parts(ann, parts, str(tmp_path / "o.json"), 3)
    generate_proposal_parts(ann, root, parts, ClassicalSource(window=16), (0, 2), progress=False)
    with pytest.raises(ProposalFileError, match="image id 1 is also in|do not mix"):
        merge_proposal_parts(ann, parts, str(tmp_path / "o.json"), 6)
    with pytest.raises(ValueError, match="i/n"):
        parse_shard("3")


def test_classical_source_is_labelled_and_grows_with_tolerance(tmp_path):
    img = np.zeros((30, 30, 3), np.uint8)
    img[5:15, 5:15] = 100  # a flat square on black
    img[5:15, 15:25] = 110  # a slightly brighter neighbour
    src = ClassicalSource(tolerances=(4, 16), window=64, blur_sigma=0)
    src.set_image(img)
    masks, scores = src.predict(np.array([[10.5, 10.5]]), [1])
    assert masks[0, 0].sum() == 100 and masks[0, 1].sum() == 200
    assert scores[0, 0] > 0
    ann, root = _dataset(tmp_path)
    out = str(tmp_path / "classical.json")
    run_proposal_tool(ann, root, out, ClassicalSource(), progress=False)
    info = json.load(open(out))["info"]
    assert info["generator"] == "classical_floodfill" and "NOT Segment Anything" in info["mask_source"]
    with pytest.raises(ValueError, match="outputs|input"):
        run_proposal_tool(ann, root, ann, ClassicalSource(), progress=False)


def test_benchmark_reports_all_three_paths():
    from pointdet.sam.benchmark import benchmark_prompting

    out = benchmark_prompting(SAMSource(tiny_sam(), batch_size=2), _image(), num_points=3, repeats=1)
    for name in ("batched", "one_by_one", "naive"):
        assert out[f"{name}_s"] > 0 and out[f"{name}_proposals_per_s"] == pytest.approx(18 / out[f"{name}_s"])
    assert out["speedup_vs_naive"] == pytest.approx(out["naive_s"] / out["batched_s"])


def test_draw_proposal_bag_frames_top1_and_selected():
    from pointdet.sam.visualize import GREEN, YELLOW, draw_proposal_bag

    img = _image(40, 56)
    masks = np.zeros((3, 40, 56), dtype=bool)
    masks[0, 10:20, 10:20] = True
    masks[1, 5:30, 5:30] = True
    out = draw_proposal_bag(img, (15.0, 15.0), masks, [0.5, 0.7, 0.1], top1=1, selected=2, tile=60)
    assert out.shape == (80, 180, 3) and out.dtype == np.uint8
    assert tuple(out[0, 60]) == YELLOW and tuple(out[0, 120]) == GREEN  # the frames of tiles 1 and 2
    assert tuple(out[0, 0]) not in (YELLOW, GREEN)
