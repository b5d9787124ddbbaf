"""Proposal files: candidate boxes (and optional RLE masks and scores) per annotated object.

SAPNet (Sec. 3.1: M SAM masks per point prompt, turned into boxes by their minimum bounding
rectangles) and click supervision (a bag of selective-search or precomputed proposals per
click) both train on a bag of candidates per annotated object. This module holds the one
file format, its validating loader and the conversions to and from Detectron2's
precomputed-proposals format.

File format (JSON, written atomically by :func:`save_proposals`)::

    {
      "info": {"generator": "...", "params": {...}, "source_file": "train_points.json",
               "source_sha256": "...", ...},
      "proposals": [
        {"image_id": 1, "annotation_id": 10,
         "boxes": [[x, y, w, h], ...],          # M rows, XYWH_ABS, Detectron2's continuous
                                                 # image pixels (a pixel's centre is at +0.5)
         "scores": [s_1, ..., s_M],             # optional (all entries or none)
         "segmentations": [RLE_1, ..., RLE_M]}, # optional COCO RLE dicts of the image's size
        ...
      ]
    }

Why JSON and not ``.npz``: the masks are COCO RLE strings of varying length, which an npz can
only hold as pickled object arrays (and loading a pickle can run code); JSON keeps them as
they come from pycocotools, uses the same tools and validation as the annotation files, and
holds a bag size M that varies per object (selective search). Files of M = 6 masks for 100k
objects are a few hundred MB, like a COCO instances file with masks.

In Detectron2 dataset dicts (:func:`attach_proposals`) every annotation with proposals gets
``proposal_boxes`` (M, 4) float32 XYXY_ABS, ``proposal_bbox_mode``, and, when the file has
them, ``proposal_scores`` (M,) float32 and ``proposal_segmentations`` (M RLE dicts).
:class:`pointdet.data.dataset_mapper.PointDatasetMapper` (``object_proposals=True``) turns them
into padded ``Instances`` fields.
"""
import logging
import os
import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

import numpy as np
from detectron2.structures import BoxMode

from pointdet.utils.file_io import atomic_open
from pointdet.utils.safe_pickle import load_restricted_pickle

from .coco_io import (
    CocoFormatError,
    atomic_write_json,
    check_segmentation,
    load_coco_dict,
    load_json_strict,
    numbers_in_range,
)
from .provenance import build_info

__all__ = [
    "ProposalFileError",
    "AnnotationProposals",
    "ProposalSet",
    "proposal_info",
    "validate_proposals",
    "load_proposals",
    "save_proposals",
    "attach_proposals",
    "annotation_position",
    "to_detectron2_proposals",
    "from_detectron2_proposals",
    "detectron2_proposal_fields",
    "detectron2_image_proposals",
    "save_detectron2_proposals",
    "load_detectron2_proposals",
]

logger = logging.getLogger(__name__)

#: Boxes may extend this many pixels beyond the image (rounding of mask boxes); more is an error.
BOX_TOLERANCE = 1.0


class ProposalFileError(CocoFormatError):
    """A proposal file is malformed or does not fit its annotation file; names the file and id."""


@dataclass
class AnnotationProposals:
    """The proposals of one annotated object.

    Attributes:
        image_id, annotation_id: ids in the annotation file.
        boxes: (M, 4) float64, XYWH_ABS image pixels.
        scores: (M,) float64 or None.
        segmentations: M COCO RLE dicts, or None.
    """

    image_id: int
    annotation_id: int
    boxes: np.ndarray
    scores: Optional[np.ndarray] = None
    segmentations: Optional[List[Dict[str, Any]]] = None

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def to_json(self) -> Dict[str, Any]:
        out = OrderedDict(image_id=int(self.image_id), annotation_id=int(self.annotation_id))
        out["boxes"] = [[float(v) for v in b] for b in self.boxes]
        if self.scores is not None:
            out["scores"] = [float(s) for s in self.scores]
        if self.segmentations is not None:
            out["segmentations"] = [_jsonable_rle(r) for r in self.segmentations]
        return out


@dataclass
class ProposalSet:
    """A validated proposal file: ``by_annotation`` maps annotation id -> :class:`AnnotationProposals`.

    ``image_ids`` lists every image of the annotation file it was validated against (in file
    order), so conversions to per-image formats cover images without proposals too.
    """

    by_annotation: "OrderedDict[int, AnnotationProposals]"
    info: Dict[str, Any] = field(default_factory=OrderedDict)
    image_ids: List[int] = field(default_factory=list)
    path: str = "<proposals>"

    def __len__(self) -> int:
        return len(self.by_annotation)

    def __getitem__(self, annotation_id: int) -> AnnotationProposals:
        return self.by_annotation[annotation_id]

    def to_json(self) -> Dict[str, Any]:
        return OrderedDict(info=self.info, proposals=[p.to_json() for p in self.by_annotation.values()])


def _jsonable_rle(rle: Dict[str, Any]) -> Dict[str, Any]:
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return OrderedDict(size=[int(v) for v in rle["size"]], counts=counts)


def proposal_info(generator: str, params: Dict[str, Any], source_file: Optional[str] = None, **extra) -> Dict[str, Any]:
    """The ``info`` block of a proposal file (:func:`pointdet.data.provenance.build_info`):
    generator, parameters and the annotation file it was made from (name and SHA-256)."""
    return build_info(generator, description=f"pointdet proposals ({generator})", params=params,
                      inputs={"source": source_file}, extra=extra)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _as_coco(coco: Union[str, Dict[str, Any]], name: Optional[str] = None):
    if isinstance(coco, (str, os.PathLike)):
        return load_coco_dict(os.fspath(coco), warn_out_of_image=False), os.fspath(coco)
    return coco, name or "<annotation dict>"


def validate_proposals(
    data: Any,
    coco: Union[str, Dict[str, Any]],
    path: str = "<proposals>",
    *,
    require_all: bool = True,
    box_tolerance: float = BOX_TOLERANCE,
    coco_name: Optional[str] = None,
) -> ProposalSet:
    """Check a parsed proposal file against its annotation file; return it as a :class:`ProposalSet`.

    Raises :class:`ProposalFileError` naming ``path`` and the offending id when: the top level
    is not an object with a ``proposals`` list; an entry is malformed, names an unknown image
    or annotation id, or an image other than its annotation's; an annotation id appears twice;
    a box is not 4 finite numbers with w, h >= 0 or lies outside its image by more than
    ``box_tolerance`` px; ``scores`` / ``segmentations`` do not have one entry per box (or
    appear on some entries only); a mask is not an RLE of the image's size. With
    ``require_all``, every non-crowd annotation must have an entry (an empty ``boxes`` list is
    allowed: an object without candidates). ``coco_name`` names a ``coco`` dict in messages.
    """
    coco, coco_path = _as_coco(coco, coco_name)
    if not isinstance(data, dict) or not isinstance(data.get("proposals"), list):
        raise ProposalFileError(f"{path}: not a proposal file (expected a JSON object with a 'proposals' list)")
    info = data.get("info", OrderedDict())
    if not isinstance(info, dict):
        raise ProposalFileError(f"{path}: 'info' must be a JSON object")
    images = {img["id"]: img for img in coco["images"]}
    anns = {a["id"]: a for a in coco["annotations"]}
    by_ann: "OrderedDict[int, AnnotationProposals]" = OrderedDict()
    has_scores = has_segms = None
    for i, e in enumerate(data["proposals"]):
        if not isinstance(e, dict):
            raise ProposalFileError(f"{path}: proposals[{i}] is not a JSON object")
        aid, iid = e.get("annotation_id"), e.get("image_id")
        if not _is_int(aid) or not _is_int(iid):
            raise ProposalFileError(f"{path}: proposals[{i}] needs integer 'image_id' and 'annotation_id', got {iid!r}, {aid!r}")
        where = f"{path}: annotation id {aid} (image id {iid})"
        if iid not in images:
            raise ProposalFileError(f"{where}: unknown image id {iid} (not in {coco_path})")
        if aid not in anns:
            raise ProposalFileError(f"{where}: unknown annotation id {aid} (not in {coco_path})")
        if anns[aid]["image_id"] != iid:
            raise ProposalFileError(f"{where}: the annotation belongs to image id {anns[aid]['image_id']} in {coco_path}")
        if aid in by_ann:
            raise ProposalFileError(f"{path}: duplicate entry for annotation id {aid}")
        img = images[iid]
        W, H = img["width"], img["height"]
        boxes = e.get("boxes")
        if not isinstance(boxes, list):
            raise ProposalFileError(f"{where}: 'boxes' must be a list of [x, y, w, h]")
        for k, b in enumerate(boxes):
            if not numbers_in_range(b, 4) or b[2] < 0 or b[3] < 0:
                raise ProposalFileError(f"{where}: box {k} {b!r} is not 4 finite numbers [x, y, w, h] with w, h >= 0")
            t = box_tolerance
            if b[0] < -t or b[1] < -t or b[0] + b[2] > W + t or b[1] + b[3] > H + t:
                raise ProposalFileError(
                    f"{where}: box {k} {b!r} (XYWH) lies outside the image ({W}x{H}, tolerance {t:g} px)"
                )
        box_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = e.get("scores")
        if has_scores is None:
            has_scores = scores is not None
        if (scores is not None) != has_scores:
            raise ProposalFileError(f"{where}: 'scores' must be given for every entry or for none")
        if scores is not None and not (numbers_in_range(scores, len(boxes), bound=float("inf"))):
            raise ProposalFileError(
                f"{where}: 'scores' must be {len(boxes)} finite numbers (one per box), got "
                f"{len(scores) if isinstance(scores, list) else type(scores).__name__}"
            )
        segms = e.get("segmentations")
        if has_segms is None:
            has_segms = segms is not None
        if (segms is not None) != has_segms:
            raise ProposalFileError(f"{where}: 'segmentations' must be given for every entry or for none")
        if segms is not None:
            if not isinstance(segms, list) or len(segms) != len(boxes):
                raise ProposalFileError(
                    f"{where}: 'segmentations' must be a list of {len(boxes)} RLE dicts (one per box), got "
                    f"{len(segms) if isinstance(segms, list) else type(segms).__name__}"
                )
            for k, s in enumerate(segms):
                if not isinstance(s, dict):
                    raise ProposalFileError(f"{where}: segmentation {k} is not an RLE dict")
                try:
                    check_segmentation(s, (H, W), where, f"proposal segmentation {k}")
                except CocoFormatError as err:
                    raise ProposalFileError(str(err)) from None
        by_ann[aid] = AnnotationProposals(
            iid, aid, box_arr, None if scores is None else np.asarray(scores, dtype=np.float64), segms
        )
    if require_all:
        missing = [a["id"] for a in coco["annotations"] if a["id"] not in by_ann and not _is_crowd(a)]
        if missing:
            shown = ", ".join(str(m) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise ProposalFileError(
                f"{path}: missing proposals for {len(missing)} annotations of {coco_path}: annotation ids {shown}"
            )
    return ProposalSet(by_ann, OrderedDict(info), [img["id"] for img in coco["images"]], path)


def _is_crowd(ann: Dict[str, Any]) -> bool:
    return bool(ann.get("iscrowd", 0)) or bool(ann.get("ignore", 0))


def load_proposals(
    path: str,
    coco: Union[str, Dict[str, Any]],
    *,
    require_all: bool = True,
    box_tolerance: float = BOX_TOLERANCE,
    coco_name: Optional[str] = None,
) -> ProposalSet:
    """Read a proposal file and validate it against ``coco`` (a COCO dict or file; see :func:`validate_proposals`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"proposal file not found: {path}")
    try:
        data = load_json_strict(path)
    except CocoFormatError as e:
        raise ProposalFileError(str(e)) from None
    ps = validate_proposals(data, coco, path, require_all=require_all, box_tolerance=box_tolerance, coco_name=coco_name)
    logger.info(f"Loaded proposals of {len(ps)} annotations from {path}")
    return ps


def save_proposals(proposals: ProposalSet, path: str, *, remove_stale: bool = True) -> None:
    """Write ``proposals`` to ``path`` atomically in the format of this module.

    ``remove_stale``: first delete temporary files of killed earlier writes of ``path`` (set
    False if another process may be writing ``path`` at the same time).
    """
    atomic_write_json(proposals.to_json(), path, remove_stale=remove_stale)


def attach_proposals(dataset_dicts: List[Dict[str, Any]], proposals: ProposalSet) -> List[Dict[str, Any]]:
    """Add each annotation's proposals to Detectron2 dataset dicts, by annotation ``id`` (in place).

    Like Detectron2's ``load_proposals_into_dataset``, but per annotation: an annotation gets
    ``proposal_boxes`` (M, 4) float32 XYXY_ABS, ``proposal_bbox_mode`` (``BoxMode.XYXY_ABS``),
    and when the file has them ``proposal_scores`` (M,) float32 and ``proposal_segmentations``
    (list of M RLE dicts). Annotations without an entry (crowd regions) get nothing.

    Raises:
        ProposalFileError: an entry's image id differs from the dataset dict holding its annotation.
    """
    for record in dataset_dicts:
        for ann in record.get("annotations", []):
            p = proposals.by_annotation.get(ann.get("id"))
            if p is None:
                continue
            if p.image_id != record["image_id"]:
                raise ProposalFileError(
                    f"{proposals.path}: annotation id {p.annotation_id} is in image id {record['image_id']} of the "
                    f"dataset but image id {p.image_id} in the proposal file"
                )
            ann["proposal_boxes"] = BoxMode.convert(p.boxes, BoxMode.XYWH_ABS, BoxMode.XYXY_ABS).astype(np.float32)
            ann["proposal_bbox_mode"] = BoxMode.XYXY_ABS
            if p.scores is not None:
                ann["proposal_scores"] = p.scores.astype(np.float32)
            if p.segmentations is not None:
                ann["proposal_segmentations"] = p.segmentations
    return dataset_dicts


# ---------------------------------------------------------------- Detectron2's precomputed proposals


def annotation_position(ann: Dict[str, Any]) -> Optional[np.ndarray]:
    """The (x, y) an annotation marks: its ``point``, the mean of its ``clicks``, or its box centre."""
    if "point" in ann:
        return np.asarray(ann["point"], dtype=np.float64)
    if "clicks" in ann:
        return np.asarray(ann["clicks"], dtype=np.float64).reshape(-1, 2).mean(0)
    if "bbox" in ann:
        x, y, w, h = ann["bbox"]
        return np.array([x + w / 2.0, y + h / 2.0])
    return None


def to_detectron2_proposals(proposals: ProposalSet) -> Dict[str, Any]:
    """Per-image proposals in Detectron2's precomputed format (``load_proposals_into_dataset``).

    Returns ``{"ids": [image ids], "boxes": [(K_i, 4) float32 XYXY_ABS], "objectness_logits":
    [(K_i,) float32], "bbox_mode": BoxMode.XYXY_ABS}`` over every image of the annotation file
    (images without proposals get K_i = 0). An image's boxes are those of its annotations in
    ascending annotation id, each annotation's in file order; ``objectness_logits`` are the
    file's ``scores`` as given (Detectron2 only ranks by them), 0 without scores. Masks are not
    part of Detectron2's format and are dropped.
    """
    per_image: Dict[int, List[AnnotationProposals]] = OrderedDict((i, []) for i in proposals.image_ids)
    for aid in sorted(proposals.by_annotation):
        p = proposals.by_annotation[aid]
        per_image.setdefault(p.image_id, []).append(p)
    ids, boxes, logits = [], [], []
    for iid, plist in per_image.items():
        b = np.concatenate([p.boxes for p in plist], 0) if plist else np.zeros((0, 4))
        s = [p.scores if p.scores is not None else np.zeros(len(p)) for p in plist]
        ids.append(iid)
        boxes.append(BoxMode.convert(b.reshape(-1, 4), BoxMode.XYWH_ABS, BoxMode.XYXY_ABS).astype(np.float32))
        logits.append((np.concatenate(s) if s else np.zeros(0)).astype(np.float32))
    return {"ids": ids, "boxes": boxes, "objectness_logits": logits, "bbox_mode": BoxMode.XYXY_ABS}


def detectron2_proposal_fields(d2: Dict[str, Any], path: str = "<detectron2 proposals>") -> Dict[str, Any]:
    """A copy of a Detectron2 precomputed-proposals dict with the D1 names (``indexes`` /
    ``scores``) renamed to ``ids`` / ``objectness_logits`` and ``bbox_mode`` as a :class:`BoxMode`
    (default XYXY_ABS). Raises ProposalFileError naming ``path`` when a key is missing."""
    d2 = dict(d2)
    for old, new in (("indexes", "ids"), ("scores", "objectness_logits")):
        if old in d2 and new not in d2:
            d2[new] = d2.pop(old)
    for k in ("ids", "boxes", "objectness_logits"):
        if k not in d2:
            raise ProposalFileError(f"{path}: Detectron2 proposals need '{k}' (keys: {sorted(d2)})")
    d2["bbox_mode"] = BoxMode(d2.get("bbox_mode", BoxMode.XYXY_ABS))
    return d2


def detectron2_image_proposals(boxes, logits, mode: BoxMode, where: str, image_hw=None):
    """One image's Detectron2 proposals as ``(xyxy (R, 4), logits (R,))`` float64 arrays in
    absolute XYXY pixels, by descending logit (ties keep the file order), clipped to
    ``image_hw`` = (H, W) when given. ``where`` (e.g. ``"<file>: image id 3"``) starts the
    ProposalFileError raised for different lengths or non-finite values."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(logits, dtype=np.float64).reshape(-1)
    if b.shape[0] != s.shape[0]:
        raise ProposalFileError(f"{where}: {b.shape[0]} boxes but {s.shape[0]} objectness logits")
    if not (np.isfinite(b).all() and np.isfinite(s).all()):
        raise ProposalFileError(f"{where}: non-finite boxes or objectness logits")
    order = np.argsort(-s, kind="stable")
    b, s = b[order], s[order]
    xyxy = BoxMode.convert(b, mode, BoxMode.XYXY_ABS) if b.size else b
    if image_hw is not None and xyxy.size:
        H, W = image_hw
        xyxy = np.stack([xyxy[:, 0].clip(0, W), xyxy[:, 1].clip(0, H), xyxy[:, 2].clip(0, W), xyxy[:, 3].clip(0, H)], 1)
    return xyxy, s


def from_detectron2_proposals(
    d2: Dict[str, Any],
    coco: Union[str, Dict[str, Any]],
    *,
    max_per_annotation: Optional[int] = None,
    clip: bool = True,
    info: Optional[Dict[str, Any]] = None,
    path: str = "<detectron2 proposals>",
) -> ProposalSet:
    """Assign Detectron2 per-image proposals to the annotations of ``coco``.

    Rule: a proposal belongs to every non-crowd annotation of its image whose position
    (:func:`annotation_position`: the point, the mean of the clicks, or the box centre) lies
    inside it, borders included (x1 <= x <= x2, y1 <= y <= y2). An annotation's proposals are
    sorted by objectness, highest first (ties keep the file order), and cut to
    ``max_per_annotation``; an annotation that no proposal contains gets an empty bag.
    Scores are the objectness logits. With ``clip`` the boxes are clipped to the image first
    (Detectron2 clips them as well).

    Args:
        d2: ``{"ids", "boxes", "objectness_logits", optional "bbox_mode"}`` (also the D1 names
            ``indexes`` / ``scores``), e.g. from :func:`load_detectron2_proposals`.
        coco: the annotation file (dict or path).
    """
    coco, coco_path = _as_coco(coco)
    d2 = detectron2_proposal_fields(d2, path)
    if not (len(d2["ids"]) == len(d2["boxes"]) == len(d2["objectness_logits"])):
        raise ProposalFileError(f"{path}: 'ids', 'boxes' and 'objectness_logits' have different lengths")
    images = {img["id"]: img for img in coco["images"]}
    by_key = {str(i): i for i in images}
    anns_of: Dict[int, List[Dict[str, Any]]] = {i: [] for i in images}
    for a in coco["annotations"]:
        if not _is_crowd(a):
            anns_of[a["image_id"]].append(a)
    out: "OrderedDict[int, AnnotationProposals]" = OrderedDict()
    for raw_id, boxes, logits in zip(d2["ids"], d2["boxes"], d2["objectness_logits"]):
        iid = by_key.get(str(raw_id))
        if iid is None:
            raise ProposalFileError(f"{path}: unknown image id {raw_id!r} (not in {coco_path})")
        hw = (images[iid]["height"], images[iid]["width"]) if clip else None
        xyxy, s = detectron2_image_proposals(boxes, logits, d2["bbox_mode"], f"{path}: image id {iid}", hw)
        for a in anns_of[iid]:
            pos = annotation_position(a)
            if pos is None:
                raise ProposalFileError(f"{coco_path}: annotation id {a['id']} has no point, clicks or bbox")
            inside = (xyxy[:, 0] <= pos[0]) & (pos[0] <= xyxy[:, 2]) & (xyxy[:, 1] <= pos[1]) & (pos[1] <= xyxy[:, 3])
            sel = np.flatnonzero(inside)[:max_per_annotation]  # by descending logit
            out[a["id"]] = AnnotationProposals(
                iid, a["id"], BoxMode.convert(xyxy[sel].reshape(-1, 4), BoxMode.XYXY_ABS, BoxMode.XYWH_ABS), s[sel]
            )
    given = {str(r) for r in d2["ids"]}
    missing = [i for i in images if str(i) not in given]
    if missing:
        logger.warning(f"{path}: {len(missing)} images of {coco_path} have no proposals (their annotations get none)")
    for iid in missing:
        for a in anns_of[iid]:
            out[a["id"]] = AnnotationProposals(iid, a["id"], np.zeros((0, 4)), np.zeros(0))
    ordered = OrderedDict((a["id"], out[a["id"]]) for a in coco["annotations"] if a["id"] in out)
    if info is None:
        info = OrderedDict(
            generator="pointdet.proposals.from_detectron2",
            params=OrderedDict(rule="annotation position inside the box (borders included)",
                               max_per_annotation=max_per_annotation, clip=clip),
        )
    return ProposalSet(ordered, info, list(images), path)


def save_detectron2_proposals(d2: Dict[str, Any], path: str) -> None:
    """Write Detectron2 precomputed proposals as the pickle its ``load_proposals_into_dataset`` reads
    (atomically; ``bbox_mode`` stored as an int)."""
    obj = {
        "ids": list(d2["ids"]),
        "boxes": [np.asarray(b, dtype=np.float32) for b in d2["boxes"]],
        "objectness_logits": [np.asarray(s, dtype=np.float32) for s in d2["objectness_logits"]],
        "bbox_mode": int(d2.get("bbox_mode", BoxMode.XYXY_ABS)),
    }
    with atomic_open(path, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def load_detectron2_proposals(path: str) -> Dict[str, Any]:
    """Read a Detectron2 precomputed-proposals pickle, accepting only arrays and plain containers."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"proposal file not found: {path}")
    try:
        obj = load_restricted_pickle(path)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise ProposalFileError(f"{path}: not a Detectron2 proposal pickle ({e})") from None
    if not isinstance(obj, dict):
        raise ProposalFileError(f"{path}: expected a dict with ids/boxes/objectness_logits, got {type(obj).__name__}")
    return obj
