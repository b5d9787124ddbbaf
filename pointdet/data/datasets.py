"""Registration of weak-annotation datasets (points, clicks, Keep1 and sparse boxes).

What lives here:

* :func:`load_point_coco_json` -- a thin COCO loader (Detectron2 dataset-dict format) that also
  understands point and click annotations, which have no ``bbox``. It keeps each annotation's
  ``id`` (CPR refinement writes refined points back by id) and images without annotations
  (weakly supervised methods need them). Analysis-only keys (``true_bbox``,
  ``true_segmentation``, ``true_area``) are not loaded unless asked for.
* :func:`register_point_coco_instances` -- the analogue of Detectron2's
  ``register_coco_instances`` for these files.
* :func:`register_all_weak_datasets` -- the standard derived names (like Detectron2's
  ``builtin.py``): ``<base>_<suffix>`` for the COCO 2017 train split and the embedded demo
  splits, where ``<suffix>`` follows the file naming of ``tools/make_weak_annotations.py``
  (``coarse_points_s0``, ``clicks2_s1``, ``keep1_first``, ``sparse_hard_s2``, ...). It runs at
  import with the root ``$DETECTRON2_DATASETS`` (default ``datasets``) and reads no file; a
  derived file that does not exist fails at load time with the command that creates it.
"""
import copy
import logging
import os
import shlex
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pycocotools.mask as mask_util
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from .categories import CategoryIdMap
from .coco_io import CocoFormatError, load_coco_dict, resolve_image_path
from .proposals import attach_proposals, load_proposals

logger = logging.getLogger(__name__)

__all__ = [
    "ANNOTATION_TYPES",
    "ANALYSIS_KEYS",
    "load_point_coco_json",
    "detect_annotation_type",
    "register_point_coco_instances",
    "weak_dataset_variants",
    "register_all_weak_datasets",
]

ANNOTATION_TYPES = ("points", "clicks", "boxes")
#: Keys that hold the full annotation for analysis only; never loaded for training by default.
ANALYSIS_KEYS = ("true_bbox", "true_segmentation", "true_area")
#: The annotation key that defines each annotation type.
_TYPE_KEY = {"points": "point", "clicks": "clicks", "boxes": "bbox"}
#: evaluator_type recorded in the metadata of each annotation type.
_EVALUATOR_TYPE = {"points": "point", "clicks": "point", "boxes": "coco"}

_MAKE_WEAK_TOOL = "tools/make_weak_annotations.py"


def detect_annotation_type(coco_dict: Dict[str, Any], json_file: str = "<dict>") -> Optional[str]:
    """Return ``"points"``, ``"clicks"`` or ``"boxes"`` for a COCO dict, or None if it has no annotations.

    The type is given by the key present on the non-crowd annotations (``point``, ``clicks``,
    ``bbox``, checked in that order); every non-crowd annotation must carry it. Crowd
    annotations may lack it (they are ignore regions).

    Raises:
        CocoFormatError: naming the file and annotation id when the annotations mix types.
    """
    anns = coco_dict.get("annotations", [])
    if not anns:
        return None
    for ann_type in ANNOTATION_TYPES:
        key = _TYPE_KEY[ann_type]
        if any(key in a for a in anns):
            for a in anns:
                if key not in a and not _is_crowd(a):
                    raise CocoFormatError(
                        f"{json_file}: mixed annotation types: annotation id {a.get('id')} has no "
                        f"'{key}' although other annotations do (a {ann_type} file needs '{key}' on "
                        f"every non-crowd annotation)"
                    )
            return ann_type
    a = anns[0]
    raise CocoFormatError(
        f"{json_file}: annotation id {a.get('id')} has none of 'point', 'clicks', 'bbox' "
        f"(keys: {sorted(a.keys())})"
    )


def _is_crowd(ann: Dict[str, Any]) -> bool:
    return bool(ann.get("iscrowd", 0)) or bool(ann.get("ignore", 0))


def _convert_segmentation(segm):
    """Detectron2's rules: compressed RLE for uncompressed RLE, drop polygons with < 3 points.

    Returns None when nothing valid remains.
    """
    if isinstance(segm, dict):
        if isinstance(segm["counts"], list):
            segm = mask_util.frPyObjects(segm, *segm["size"])
        return segm
    segm = [poly for poly in segm if len(poly) % 2 == 0 and len(poly) >= 6]
    return segm or None


def load_point_coco_json(
    json_file: str,
    image_root: str,
    dataset_name: Optional[str] = None,
    *,
    keep_analysis_keys: bool = False,
    extra_annotation_keys: Optional[Sequence[str]] = None,
    allow_outside_image_root: bool = False,
    proposal_file: Optional[str] = None,
) -> List[Dict[str, Any]]:
    """Load a COCO-format file holding points, clicks or boxes into Detectron2 dataset dicts.

    The file is validated by :func:`pointdet.data.coco_io.load_coco_dict` (a malformed file
    raises :class:`CocoFormatError` naming the file and id).

    Args:
        json_file: path of the COCO-format JSON.
        image_root: folder the images' ``file_name`` are relative to.
        dataset_name: when given, like Detectron2's ``load_coco_json``: sets ``thing_classes``
            and ``thing_dataset_id_to_contiguous_id`` in its metadata and maps category ids to
            contiguous ids [0, #categories). Also records ``annotation_type`` (detected from the
            file) in the metadata; if the metadata already declares another annotation type,
            a ``ValueError`` naming the file is raised (e.g. a box file registered as points).
        keep_analysis_keys: also load ``true_bbox`` / ``true_segmentation`` / ``true_area``
            (analysis only: :class:`PointDatasetMapper` removes them again before training).
        extra_annotation_keys: further per-annotation keys to copy as-is.
        allow_outside_image_root: accept ``file_name`` values that are absolute or climb out of
            ``image_root`` with ``..`` (refused by default: a file could make training read any
            file on the machine).
        proposal_file: a proposal file (:mod:`pointdet.data.proposals`) for this annotation
            file; validated against it and attached to the annotations by annotation id as
            ``proposal_boxes`` etc. (see :func:`pointdet.data.proposals.attach_proposals`).

    Returns:
        One dict per image (sorted by image id; images without annotations are kept) with
        ``file_name``, ``height``, ``width``, ``image_id`` and ``annotations``. Each annotation
        has ``id``, ``category_id``, ``iscrowd`` (0 when absent), and whichever of ``point``
        ([x, y] image pixels, continuous), ``clicks`` ([[x, y], ...]), ``bbox`` + ``bbox_mode``
        (XYWH_ABS), ``segmentation``, ``keypoints`` (+0.5 px, as Detectron2) and ``ignore`` the
        file has.
    """
    data = load_coco_dict(json_file)
    ann_type = detect_annotation_type(data, json_file)

    categories = CategoryIdMap.from_coco(data["categories"], json_file)
    id_map = None
    if dataset_name is not None:
        meta = MetadataCatalog.get(dataset_name)
        names = {c["id"]: c["name"] for c in data["categories"]}
        thing_classes = [names[i] for i in categories.dataset_ids]
        id_map = categories
        _set_consistent(meta, "thing_classes", thing_classes, json_file)
        _set_consistent(meta, "thing_dataset_id_to_contiguous_id", categories.dataset_to_contiguous, json_file)
        declared = getattr(meta, "annotation_type", None)
        if ann_type is not None:
            if declared is not None and declared != ann_type:
                raise ValueError(
                    f"{json_file}: dataset '{dataset_name}' is registered with annotation_type="
                    f"'{declared}' but the file holds {ann_type} (annotations carry "
                    f"'{_TYPE_KEY[ann_type]}'); was the wrong file given?"
                )
            if declared is None:
                meta.annotation_type = ann_type
                if not hasattr(meta, "evaluator_type"):
                    meta.evaluator_type = _EVALUATOR_TYPE[ann_type]

    ann_keys = ["id", "iscrowd", "category_id", "point", "clicks", "bbox", "ignore"]
    if keep_analysis_keys:
        ann_keys += list(ANALYSIS_KEYS)
    ann_keys += list(extra_annotation_keys or [])

    anns_per_image: Dict[int, List[Dict[str, Any]]] = {img["id"]: [] for img in data["images"]}
    for ann in data["annotations"]:
        anns_per_image[ann["image_id"]].append(ann)

    dataset_dicts = []
    num_dropped_segm = 0
    for img in sorted(data["images"], key=lambda x: x["id"]):
        record = {
            "file_name": resolve_image_path(
                image_root, img["file_name"], allow_outside=allow_outside_image_root, path=json_file, image_id=img["id"]
            ),
            "height": img["height"],
            "width": img["width"],
            "image_id": img["id"],
        }
        objs = []
        for ann in anns_per_image[img["id"]]:
            obj = {k: copy.deepcopy(ann[k]) for k in ann_keys if k in ann}
            obj.setdefault("iscrowd", 0)
            if "bbox" in obj:
                obj["bbox_mode"] = BoxMode.XYWH_ABS
            segm = ann.get("segmentation")
            if segm:
                segm = _convert_segmentation(copy.deepcopy(segm))
                if segm is None:
                    num_dropped_segm += 1
                    continue  # as Detectron2: an instance without a valid polygon is ignored
                obj["segmentation"] = segm
            keypts = ann.get("keypoints")
            if keypts:
                obj["keypoints"] = [v + 0.5 if i % 3 != 2 else v for i, v in enumerate(keypts)]
            if id_map is not None:
                obj["category_id"] = id_map.to_contiguous(obj["category_id"], f"annotation id {obj['id']}")
            objs.append(obj)
        record["annotations"] = objs
        dataset_dicts.append(record)
    if num_dropped_segm:
        logger.warning(f"{json_file}: dropped {num_dropped_segm} instances without a valid polygon.")
    if proposal_file is not None:
        proposals = load_proposals(proposal_file, data, coco_name=json_file)
        attach_proposals(dataset_dicts, proposals)
        logger.info(f"Attached the proposals of {len(proposals)} annotations from {proposal_file}")
    logger.info(
        f"Loaded {len(dataset_dicts)} images ({len(data['annotations'])} annotations, type "
        f"{ann_type}) from {json_file}"
    )
    return dataset_dicts


def _set_consistent(meta, key: str, value, json_file: str) -> None:
    old = getattr(meta, key, None)
    if old is None:
        setattr(meta, key, value)
    elif old != value:
        raise ValueError(
            f"{json_file}: metadata '{key}' of dataset '{meta.name}' is {old!r} but the file gives "
            f"{value!r}"
        )


def register_point_coco_instances(
    name: str,
    metadata: Dict[str, Any],
    json_file: str,
    image_root: str,
    *,
    missing_file_hint: Optional[str] = None,
    proposal_file: Optional[str] = None,
    allow_outside_image_root: bool = False,
) -> None:
    """Register a points / clicks / boxes COCO file with ``DatasetCatalog`` and ``MetadataCatalog``.

    Like Detectron2's ``register_coco_instances``: the loader (:func:`load_point_coco_json`)
    runs lazily when the dataset is first requested; nothing is read here.

    Args:
        name: dataset name, e.g. ``"pointdet_trees_train_coarse_points_s0"``.
        metadata: extra metadata (e.g. ``thing_classes``). ``annotation_type`` in
            {"points", "clicks", "boxes"} may be given; otherwise it is detected from the file at
            load time. ``evaluator_type`` defaults to ``"point"`` for points/clicks and
            ``"coco"`` for boxes (set at load time when the type is detected).
        json_file: path of the COCO-format JSON.
        image_root: folder of the images.
        missing_file_hint: appended to the error raised when ``json_file`` does not exist
            (e.g. the command that creates it).
        proposal_file: per-annotation proposals to attach (recorded as metadata
            ``proposal_file``); see :func:`load_point_coco_json`.
        allow_outside_image_root: see :func:`load_point_coco_json`.
    """
    assert isinstance(name, str), name
    assert isinstance(json_file, (str, os.PathLike)), json_file
    assert isinstance(image_root, (str, os.PathLike)), image_root
    json_file, image_root = os.fspath(json_file), os.fspath(image_root)
    metadata = dict(metadata)
    ann_type = metadata.get("annotation_type")
    if ann_type is not None:
        if ann_type not in ANNOTATION_TYPES:
            raise ValueError(f"dataset '{name}': annotation_type must be one of {ANNOTATION_TYPES}, got {ann_type!r}")
        metadata.setdefault("evaluator_type", _EVALUATOR_TYPE[ann_type])

    def _load():
        if missing_file_hint is not None and not os.path.isfile(json_file):
            raise FileNotFoundError(
                f"Annotation file of dataset '{name}' not found: {json_file}\n{missing_file_hint}"
            )
        return load_point_coco_json(
            json_file, image_root, name, proposal_file=proposal_file, allow_outside_image_root=allow_outside_image_root
        )

    DatasetCatalog.register(name, _load)
    if proposal_file is not None:
        metadata["proposal_file"] = os.fspath(proposal_file)
    MetadataCatalog.get(name).set(json_file=json_file, image_root=image_root, **metadata)


# ==== Standard derived names (the naming convention of tools/make_weak_annotations.py) ====

_SEEDS = (0, 1, 2)
_SPARSE_LEVELS = ("easy", "hard", "extreme", "50miss")


def weak_dataset_variants(seeds: Sequence[int] = _SEEDS) -> List[Tuple[str, str, List[str]]]:
    """The weak-annotation variants of one base split.

    Returns:
        ``(suffix, annotation_type, generator_args)`` triples, where ``suffix`` is both the
        dataset-name suffix and the file-name suffix (``<stem>_<suffix>.json``) and
        ``generator_args`` are the ``tools/make_weak_annotations.py`` arguments that create it.
    """
    out = []
    for s in seeds:
        out.append((f"coarse_points_s{s}", "points", ["coarse-points", "--seed", str(s)]))
        out.append((f"quasi_center_points_s{s}", "points", ["quasi-center-points", "--seed", str(s)]))
        for n in (1, 2):
            out.append((f"clicks{n}_s{s}", "clicks", ["clicks", "--num-annotators", str(n), "--seed", str(s)]))
        out.append((f"keep1_s{s}", "boxes", ["keep1", "--seed", str(s)]))
        for level in _SPARSE_LEVELS:
            out.append((f"sparse_{level}_s{s}", "boxes", ["sparse", "--level", level, "--seed", str(s)]))
    out.append(("keep1_first", "boxes", ["keep1", "--keep-first"]))
    return out


# base name -> (image root, base json, metadata source: "coco" or a thing_classes list)
_BASE_SPLITS: Dict[str, Tuple[str, str, Any]] = {
    "coco_2017_train": ("coco/train2017", "coco/annotations/instances_train2017.json", "coco"),
    "pointdet_trees_train": ("pointdet_demo/trees/images", "pointdet_demo/trees/annotations/trees_train.json", ["tree"]),
    "pointdet_trees_val": ("pointdet_demo/trees/images", "pointdet_demo/trees/annotations/trees_val.json", ["tree"]),
    "pointdet_trees_test": ("pointdet_demo/trees/images", "pointdet_demo/trees/annotations/trees_test.json", ["tree"]),
    "pointdet_nuclei_train": ("pointdet_demo/nuclei/images", "pointdet_demo/nuclei/annotations/nuclei_train.json", ["nucleus"]),
    "pointdet_nuclei_val": ("pointdet_demo/nuclei/images", "pointdet_demo/nuclei/annotations/nuclei_val.json", ["nucleus"]),
}


def _base_metadata(source) -> Dict[str, Any]:
    if source == "coco":
        from detectron2.data.datasets.builtin_meta import _get_builtin_metadata

        return dict(_get_builtin_metadata("coco"))
    return {"thing_classes": list(source)}


def _make_command(base_json: str, json_file: str, generator_args: List[str]) -> str:
    args = ["python", _MAKE_WEAK_TOOL, generator_args[0], "--input", base_json, "--output", json_file]
    return " ".join(shlex.quote(a) for a in args + generator_args[1:])


def register_all_weak_datasets(root: Optional[str] = None, seeds: Sequence[int] = _SEEDS) -> List[str]:
    """Register ``<base>_<suffix>`` for every base split and weak variant under ``root``.

    Args:
        root: datasets root; default ``$DETECTRON2_DATASETS`` or ``"datasets"`` (relative to the
            working directory at load time, like Detectron2). Calling again with another root
            re-points the same names (their previous registration is replaced).
        seeds: seeds of the seeded variants (default 0, 1, 2).

    Returns:
        The registered names. Nothing is read: a missing file raises at load time a
        ``FileNotFoundError`` naming the file and the exact ``python tools/make_weak_annotations.py``
        command that creates it.
    """
    if root is None:
        root = os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))
    names = []
    for base, (image_root, base_json, meta_source) in _BASE_SPLITS.items():
        base_json_path = os.path.join(root, base_json)
        stem = os.path.splitext(os.path.basename(base_json))[0]
        for suffix, ann_type, gen_args in weak_dataset_variants(seeds):
            name = f"{base}_{suffix}"
            json_file = os.path.join(os.path.dirname(base_json_path), f"{stem}_{suffix}.json")
            hint = (
                f"Create it from '{base}' ({base_json_path}) with:\n  "
                + _make_command(base_json_path, json_file, gen_args)
            )
            if name in DatasetCatalog.list():
                DatasetCatalog.remove(name)
                MetadataCatalog.remove(name)
            metadata = _base_metadata(meta_source)
            metadata.update(annotation_type=ann_type, base_dataset=base, weak_variant=suffix)
            register_point_coco_instances(
                name, metadata, json_file, os.path.join(root, image_root), missing_file_hint=hint
            )
            names.append(name)
    return names


register_all_weak_datasets()
