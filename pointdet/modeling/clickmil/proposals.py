"""Proposal sources for click-supervised MIL (click supervision, Sec. 2: each image is a bag of
object proposals, each with an objectness O(p)).

A source maps an image to candidate boxes and their objectness O(p) in [0, 1]:

* :class:`SelectiveSearchSource` (the default): OpenCV's selective search
  (``cv2.ximgproc.segmentation``, opencv-contrib). It ranks its proposals but gives no score,
  so O(p) = 1 - r / M for the proposal of rank r among M (:func:`rank_objectness`).
* :class:`PrecomputedSource`: an existing Detectron2 precomputed-proposal file (``ids``,
  ``boxes``, ``objectness_logits``, e.g. dumped from an RPN); O(p) = sigmoid(logit) (default),
  the rank rule, or the values as given (already in [0, 1]).

:func:`make_click_proposals` runs a source over a click file's images and writes both proposal
formats of pointdet: the per-image Detectron2 pickle (``objectness_logits`` holding O(p)) and
the per-annotation file of :mod:`pointdet.data.proposals` (each click's bag: the proposals that
contain its click, or the mean of its clicks, via ``from_detectron2_proposals``). Progress is
shown per image and a killed run resumes from ``.<pickle name>.partial``.
The MIL loop reads the per-image proposals (:func:`load_image_proposals`): an image is the bag.
"""
import hashlib
import json
import logging
import math
import os
from collections import OrderedDict
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
from detectron2.structures import BoxMode

from pointdet.data.coco_io import CocoFormatError, check_outputs_not_inputs, file_sha256, load_coco_dict, resolve_image_path
from pointdet.data.proposals import (
    ProposalFileError,
    detectron2_image_proposals,
    detectron2_proposal_fields,
    from_detectron2_proposals,
    load_detectron2_proposals,
    load_proposals,
    save_detectron2_proposals,
    save_proposals,
    to_detectron2_proposals,
)
from pointdet.utils.file_io import atomic_open

from .scores import rank_objectness

__all__ = [
    "ProposalSource",
    "SelectiveSearchSource",
    "PrecomputedSource",
    "build_proposal_source",
    "make_click_proposals",
    "load_image_proposals",
]

logger = logging.getLogger(__name__)

#: image id -> ((M, 4) float64 XYWH boxes, (M,) float64 objectness O in [0, 1])
ImageProposals = Dict[int, Tuple[np.ndarray, np.ndarray]]


class ProposalSource:
    """Boxes and objectness of one image. Subclasses implement :meth:`__call__` and :meth:`params`."""

    name = "proposals"

    def params(self) -> Mapping[str, Any]:
        return OrderedDict()

    def __call__(self, image_id: int, image_path: str, image_hw: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
        """Returns ``(boxes (M, 4) XYWH float64, objectness (M,) float64 in [0, 1])``."""
        raise NotImplementedError


def _seed_c_rand(seed: int) -> bool:
    """Seed the C library's ``rand()``: OpenCV's selective search draws its ranking noise from it
    (the "RND x level" ranking of Uijlings et al. IJCV 2013, Sec. 3.3), so without this the order
    of the proposals, and hence the rank objectness, changes from call to call. Returns whether
    the C library was found."""
    import ctypes

    try:
        libc = ctypes.CDLL(None) if os.name != "nt" else ctypes.cdll.msvcrt
        libc.srand(ctypes.c_uint(seed))
        return True
    except (OSError, AttributeError):  # pragma: no cover  (no C library reachable)
        return False


def _filter_small(boxes: np.ndarray, scores: np.ndarray, min_side: float) -> Tuple[np.ndarray, np.ndarray]:
    keep = (boxes[:, 2] >= min_side) & (boxes[:, 3] >= min_side)
    return boxes[keep], scores[keep]


class SelectiveSearchSource(ProposalSource):
    """OpenCV selective search (Uijlings et al. IJCV 2013) with rank-based objectness."""

    name = "selective_search"

    def __init__(self, mode: str = "fast", max_proposals: Optional[int] = 2000, min_side: float = 4.0,
                 max_image_side: Optional[int] = None, seed: int = 0):
        """
        Args:
            mode: "fast" or "quality" (OpenCV's two strategy sets).
            max_proposals: keep the first (best-ranked) ones; None keeps all.
            min_side: drop boxes with a side below this (px).
            max_image_side: run on a copy downscaled to this longest side (boxes scaled back).
            seed: seeds the ranking noise before every image (same image, same proposals in
                the same order, whatever the order of the images or a resume).
        """
        if mode not in ("fast", "quality"):
            raise ValueError(f"selective search mode must be 'fast' or 'quality', got {mode!r}")
        self.mode, self.max_proposals, self.min_side, self.max_image_side = mode, max_proposals, min_side, max_image_side
        self.seed = seed
        self._warned = False

    def params(self):
        return OrderedDict(source=self.name, mode=self.mode, max_proposals=self.max_proposals,
                           min_side=self.min_side, max_image_side=self.max_image_side, seed=self.seed,
                           objectness="rank: O = 1 - r / M")

    def __call__(self, image_id, image_path, image_hw):
        import cv2

        try:
            seg = cv2.ximgproc.segmentation
        except AttributeError:  # pragma: no cover  (plain opencv without the contrib modules)
            raise ImportError("selective search needs opencv-contrib (cv2.ximgproc); install "
                              "opencv-contrib-python-headless") from None
        img = cv2.imread(image_path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"image id {image_id}: cannot read {image_path}")
        scale = 1.0
        if self.max_image_side and max(img.shape[:2]) > self.max_image_side:
            scale = self.max_image_side / max(img.shape[:2])
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ss = seg.createSelectiveSearchSegmentation()
        ss.setBaseImage(img)
        ss.switchToSelectiveSearchFast() if self.mode == "fast" else ss.switchToSelectiveSearchQuality()
        if not _seed_c_rand(self.seed) and not self._warned:
            logger.warning("selective search: cannot seed the C library's rand(); the proposal order is not reproducible")
            self._warned = True
        rects = np.asarray(ss.process(), dtype=np.float64).reshape(-1, 4) / scale
        # OpenCV returns integer pixel rectangles [x, y, w, h]: already continuous corners
        H, W = image_hw
        x1 = rects[:, 0].clip(0, W)
        y1 = rects[:, 1].clip(0, H)
        x2 = (rects[:, 0] + rects[:, 2]).clip(0, W)
        y2 = (rects[:, 1] + rects[:, 3]).clip(0, H)
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], 1)
        boxes = boxes[: self.max_proposals] if self.max_proposals else boxes
        boxes, _ = _filter_small(boxes, np.zeros(len(boxes)), self.min_side)
        return boxes, rank_objectness(len(boxes))


class PrecomputedSource(ProposalSource):
    """An existing Detectron2 precomputed-proposal file (pickle or dict), looked up by image id."""

    name = "detectron2_file"

    def __init__(self, d2: Any, objectness: str = "sigmoid", max_proposals: Optional[int] = None,
                 path: str = "<detectron2 proposals>"):
        """
        Args:
            d2: a path to a Detectron2 proposal pickle, or its dict (``ids``, ``boxes``,
                ``objectness_logits``, optional ``bbox_mode``).
            objectness: "sigmoid" (O = sigmoid(logit), for RPN logits), "rank" (O = 1 - r / M
                after sorting by the file's scores) or "raw" (values already in [0, 1]).
            max_proposals: keep the highest-scoring ones.
        """
        if objectness not in ("sigmoid", "rank", "raw"):
            raise ValueError(f"objectness must be 'sigmoid', 'rank' or 'raw', got {objectness!r}")
        if isinstance(d2, (str, os.PathLike)):
            path = os.fspath(d2)
            d2 = load_detectron2_proposals(path)
        d2 = detectron2_proposal_fields(d2, path)
        self.mode = d2["bbox_mode"]
        self.by_id = {str(i): (b, s) for i, b, s in zip(d2["ids"], d2["boxes"], d2["objectness_logits"])}
        self.objectness, self.max_proposals, self.path = objectness, max_proposals, path

    def params(self):
        return OrderedDict(source=self.name, file=os.path.basename(self.path), objectness=self.objectness,
                           max_proposals=self.max_proposals)

    def __call__(self, image_id, image_path, image_hw):
        if str(image_id) not in self.by_id:
            raise ProposalFileError(f"{self.path}: no proposals for image id {image_id} ({os.path.basename(image_path)})")
        b, s = self.by_id[str(image_id)]
        xyxy, s = detectron2_image_proposals(b, s, self.mode, f"{self.path}: image id {image_id}", image_hw)
        xyxy, s = xyxy[: self.max_proposals], s[: self.max_proposals]
        boxes = BoxMode.convert(xyxy, BoxMode.XYXY_ABS, BoxMode.XYWH_ABS)
        if self.objectness == "sigmoid":
            o = 1.0 / (1.0 + np.exp(-s))
        elif self.objectness == "rank":
            o = rank_objectness(len(s))
        else:
            if ((s < 0) | (s > 1)).any():
                raise ProposalFileError(f"{self.path}: image id {image_id}: objectness 'raw' needs scores in [0, 1]")
            o = s
        return boxes, o


def build_proposal_source(name: str = "selective_search", **kwargs) -> ProposalSource:
    """``"selective_search"`` (kwargs of :class:`SelectiveSearchSource`) or ``"detectron2_file"``
    (kwargs of :class:`PrecomputedSource`, ``d2`` the file)."""
    if name == "selective_search":
        return SelectiveSearchSource(**kwargs)
    if name == "detectron2_file":
        return PrecomputedSource(**kwargs)
    raise ValueError(f"unknown proposal source {name!r}; choose 'selective_search' or 'detectron2_file'")


def _partial_path(path: str) -> str:
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.partial")


def make_click_proposals(
    coco_json: str,
    image_root: str,
    output_json: str,
    output_pkl: str,
    source: ProposalSource,
    *,
    max_per_annotation: Optional[int] = None,
    resume: bool = True,
    progress: bool = True,
) -> Dict[str, Any]:
    """Run ``source`` over every image of ``coco_json`` and write the proposal files.

    Args:
        coco_json: a click (or point / box) file; its images are processed in file order.
        image_root: folder of its images.
        output_json: per-annotation proposal file (:mod:`pointdet.data.proposals`): the
            proposals containing each annotation's click (mean of its clicks); ``scores`` = O(p).
        output_pkl: per-image Detectron2 pickle; ``objectness_logits`` = O(p).
        max_per_annotation: cut each annotation's bag to its best-O proposals.
        resume: continue a killed run of the same input and source.
    Returns:
        statistics: images, images_without_proposals (ids), proposals per image (mean), ...
    """
    check_outputs_not_inputs([output_json, output_pkl, _partial_path(output_pkl)],
                             [coco_json, getattr(source, "path", None)])
    coco = load_coco_dict(coco_json)
    key = hashlib.sha256(json.dumps({"source": file_sha256(coco_json), "params": source.params()},
                                    sort_keys=True, default=str).encode()).hexdigest()
    part = _partial_path(output_pkl)
    done: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
    if resume and os.path.exists(part):
        with open(part) as f:
            lines = f.read().split("\n")
        if lines and lines[0] == json.dumps({"resume_key": key}):
            for line in lines[1:]:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    break  # the line a killed run was writing
                done[r["image_id"]] = (np.asarray(r["boxes"], dtype=np.float64).reshape(-1, 4),
                                       np.asarray(r["objectness"], dtype=np.float64))
            logger.info("proposals: resuming, %d of %d images done", len(done), len(coco["images"]))
    with atomic_open(part, "w") as f:
        f.write(json.dumps({"resume_key": key}) + "\n")
        for iid, (b, o) in done.items():
            f.write(json.dumps({"image_id": iid, "boxes": b.tolist(), "objectness": o.tolist()}) + "\n")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(coco["images"]), initial=len(done), desc=f"proposals ({source.name})", unit="img")
    try:
        with open(part, "a") as f:
            for img in coco["images"]:
                if img["id"] in done:
                    continue
                path = resolve_image_path(image_root, img["file_name"]) if image_root else img["file_name"]
                b, o = source(img["id"], path, (img["height"], img["width"]))
                done[img["id"]] = (b, o)
                f.write(json.dumps({"image_id": img["id"], "boxes": b.tolist(), "objectness": o.tolist()}) + "\n")
                f.flush()
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    ids = [img["id"] for img in coco["images"]]
    empty = [i for i in ids if len(done[i][0]) == 0]
    if empty:
        logger.warning("proposals: %d images have no proposals (their objects get empty bags): image ids %s",
                       len(empty), ", ".join(str(i) for i in empty[:10]))
    d2 = {"ids": ids,
          "boxes": [BoxMode.convert(done[i][0], BoxMode.XYWH_ABS, BoxMode.XYXY_ABS) for i in ids],
          "objectness_logits": [done[i][1] for i in ids], "bbox_mode": BoxMode.XYXY_ABS}
    stats = OrderedDict(images=len(ids), images_without_proposals=empty,
                        proposals_per_image=float(np.mean([len(done[i][0]) for i in ids])) if ids else 0.0)
    params = OrderedDict(source.params(), max_per_annotation=max_per_annotation,
                         bag_rule="proposals containing the annotation's click (mean of its clicks)")
    info = OrderedDict(description=f"pointdet click-MIL proposals ({source.name})",
                       generator="pointdet.clickmil.proposals", params=params,
                       source_file=os.path.basename(coco_json), source_sha256=file_sha256(coco_json),
                       statistics=stats, objectness="scores / objectness_logits hold O(p) in [0, 1]")
    per_ann = from_detectron2_proposals(d2, coco, max_per_annotation=max_per_annotation, clip=True,
                                        info=info, path=output_pkl)
    save_detectron2_proposals(d2, output_pkl)
    save_proposals(per_ann, output_json)
    os.remove(part)
    return stats


def load_image_proposals(path: str, coco: Dict[str, Any], coco_path: str = "<annotations>",
                         objectness: str = "raw") -> ImageProposals:
    """Per-image proposals (boxes XYWH, objectness O) for every image of ``coco``.

    ``path``: a Detectron2 pickle (``.pkl``; ``objectness`` converts its scores as in
    :class:`PrecomputedSource`, "raw" for files written by :func:`make_click_proposals`) or a
    per-annotation proposal file (``.json``; an image's proposals = the union of its
    annotations' bags, duplicates removed, ``scores`` = O).

    Raises:
        ProposalFileError: the file has no entry for an image of ``coco`` (names the image).
    """
    out: ImageProposals = OrderedDict()
    if path.endswith(".json"):
        ps = load_proposals(path, coco, coco_name=coco_path)
        d2 = to_detectron2_proposals(ps)
        have = {p.image_id for p in ps.by_annotation.values()}
        with_objects = {a["image_id"] for a in coco["annotations"]}
        for iid, b, s in zip(d2["ids"], d2["boxes"], d2["objectness_logits"]):
            if iid not in have and iid in with_objects:
                raise ProposalFileError(f"{path}: no proposals for image id {iid} of {coco_path}")
            b = BoxMode.convert(np.asarray(b, dtype=np.float64).reshape(-1, 4), BoxMode.XYXY_ABS, BoxMode.XYWH_ABS)
            s = np.asarray(s, dtype=np.float64)
            _, first = np.unique(np.round(b, 4), axis=0, return_index=True) if len(b) else (None, np.zeros(0, int))
            first = np.sort(first)
            out[iid] = (b[first], s[first])
        return out
    src = PrecomputedSource(path, objectness=objectness)
    for img in coco["images"]:
        if str(img["id"]) not in src.by_id:
            raise ProposalFileError(f"{path}: no proposals for image id {img['id']} ({img['file_name']}) of {coco_path}")
        out[img["id"]] = src(img["id"], img["file_name"], (img["height"], img["width"]))
    return out
