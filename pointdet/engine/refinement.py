"""CPR point refinement of a whole annotation file, and the hook that runs it after training.

CPR (Yu et al. CVPR 2022, Alg. 1 lines 14-18): a trained CPRNet refines every annotated point
of the *training* file; the refined file then supervises a localizer (P2PNet). The reference
ran this inside its evaluation pass; here it is an explicit step that writes a new
annotation file (``tools/refine_points.py`` and :class:`RefinePointsHook`).

Output schema: the input COCO dict with, per point annotation, ``point`` = the refined point
(original-image pixels), ``coarse_point`` = the input point, ``cpr_score`` = refinement score
(absent for annotations the model did not see, e.g. crowd points); ``info`` records the
generator, the refinement parameters, the config/weights and the source file checksum.
"""
import copy
import logging
import math
import os
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from detectron2.data import DatasetCatalog, MetadataCatalog, build_detection_test_loader
from detectron2.data import transforms as T
from detectron2.engine import HookBase
from detectron2.utils import comm

from pointdet.data.coco_io import CocoFormatError, atomic_write_json, check_outputs_not_inputs, file_sha256, load_coco_dict

__all__ = [
    "build_refinement_mapper",
    "refinement_dataset_dicts",
    "run_point_refinement",
    "refined_coco_dict",
    "relative_offsets",
    "rsv_of",
    "refine_annotation_file",
    "RefinePointsHook",
]

logger = logging.getLogger(__name__)


def build_refinement_mapper(augmentations: Optional[Sequence] = None, image_format: str = "RGB"):
    """A test-mode :class:`PointDatasetMapper` that keeps the annotated points.

    Args:
        augmentations: test-time (deterministic) augmentations, e.g.
            ``[T.ResizeShortestEdge(800, 1333)]`` (the default when None). No flips.
        image_format: channel order the model expects.
    """
    from pointdet.data.dataset_mapper import PointDatasetMapper

    if augmentations is None:
        augmentations = [T.ResizeShortestEdge(800, 1333)]
    return PointDatasetMapper(
        False,
        augmentations=list(augmentations),
        image_format=image_format,
        supervision="points",
        keep_points_in_inference=True,
    )


def refinement_dataset_dicts(coco_json: str, image_root: str) -> Tuple[List[Dict], List[int]]:
    """Detectron2 dataset dicts of a point file, category ids mapped to contiguous [0, K).

    The mapping is the sorted order of the file's category ids (as Detectron2's and pointdet's
    COCO loaders do), so a model trained on the registered dataset of the same file predicts
    the same indices. Returns ``(dicts, sorted_category_ids)``.
    """
    from pointdet.data.datasets import load_point_coco_json

    dicts = load_point_coco_json(coco_json, image_root)
    coco = load_coco_dict(coco_json)
    cat_ids = sorted(c["id"] for c in coco["categories"])
    id_map = {c: i for i, c in enumerate(cat_ids)}
    for d in dicts:
        for a in d["annotations"]:
            if "point" not in a and not a.get("iscrowd", 0):
                raise CocoFormatError(
                    f"{coco_json}: annotation id {a.get('id')} (image id {d['image_id']}) has no 'point'; "
                    "CPR refinement needs a point file"
                )
            a["category_id"] = id_map[a["category_id"]]
    return dicts, cat_ids


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") and not hasattr(model, "refine") else model


@torch.no_grad()
def run_point_refinement(
    model: nn.Module,
    data_loader,
    *,
    progress: bool = True,
    return_bags: bool = False,
    callback: Optional[Callable[[Dict, Any], None]] = None,
) -> Dict[int, Dict[str, Any]]:
    """Run a CPRNet over a data loader of mapped inputs (with ``instances``).

    Args:
        model: a :class:`CPRNet` (or a DDP wrapper of one); put in eval mode for the run and
            restored afterwards.
        data_loader: yields lists of mapper outputs with ``instances.gt_points/gt_classes/gt_ann_ids``.
        return_bags: ask the model for bag points/scores (for ``callback``, e.g. visualization).
        callback: called as ``callback(input_dict, refined_instances_on_cpu)`` per image.
    Returns:
        ``{ann_id: {"point": [x, y], "score": float, "refined": bool, "image_id": id}}`` in
        original-image pixels.
    """
    net = _unwrap(model)
    was_training = net.training
    net.eval()
    out: Dict[int, Dict[str, Any]] = {}
    total = None
    try:
        total = len(data_loader)
    except TypeError:
        pass
    it = data_loader
    if progress:
        from tqdm import tqdm

        it = tqdm(data_loader, total=total, desc="CPR refinement", unit="batch")
    try:
        for inputs in it:
            results = net.refine(inputs, return_bags=return_bags)
            for x, r in zip(inputs, results):
                inst = r["instances"].to("cpu")
                for aid, p, s, ref in zip(
                    inst.ann_ids.tolist(), inst.pred_points.tolist(), inst.scores.tolist(), inst.refined.tolist()
                ):
                    if aid < 0:
                        raise ValueError(f"image id {x.get('image_id')}: an annotation without 'id' cannot be written back")
                    out[int(aid)] = {"point": [float(p[0]), float(p[1])], "score": float(s), "refined": bool(ref),
                                     "image_id": x.get("image_id")}
                if callback is not None:
                    callback(x, inst)
    finally:
        net.train(was_training)
    return out


def refined_coco_dict(coarse: Dict[str, Any], results: Dict[int, Dict[str, Any]], source: str = "<dict>") -> Dict[str, Any]:
    """The input COCO dict with refined points written back by annotation id (input unchanged).

    Annotations the model refined get the refined ``point``; the others keep theirs exactly.
    Every point annotation gets ``coarse_point`` (the input point); seen ones ``cpr_score``.
    """
    out = copy.deepcopy(coarse)
    by_id = {a["id"]: a for a in out["annotations"]}
    for aid, r in results.items():
        ann = by_id.get(aid)
        if ann is None:
            raise CocoFormatError(f"{source}: refinement returned annotation id {aid}, which the file does not hold")
        if r.get("image_id") is not None and ann["image_id"] != r["image_id"]:
            raise CocoFormatError(
                f"{source}: annotation id {aid} belongs to image {ann['image_id']}, refined in image {r['image_id']}"
            )
    for ann in out["annotations"]:
        if "point" not in ann:
            continue
        ann["coarse_point"] = list(ann["point"])
        r = results.get(ann["id"])
        if r is None:
            continue
        ann["cpr_score"] = r["score"]
        if r["refined"]:
            ann["point"] = list(r["point"])
    return out


def relative_offsets(coco: Dict[str, Any], key: str = "point", gt_boxes: Optional[Dict[int, Sequence[float]]] = None):
    """Relative positions (x - x_c) / w, (y - y_c) / h of non-crowd annotations (paper Eq. 13).

    Boxes come from ``gt_boxes[ann_id]`` when given, else from the annotation's ``true_bbox``;
    annotations without a box or ``key`` are skipped. Returns two lists.
    """
    xs, ys = [], []
    for ann in coco["annotations"]:
        if ann.get("iscrowd", 0) or key not in ann:
            continue
        box = gt_boxes.get(ann["id"]) if gt_boxes is not None else ann.get("true_bbox")
        if box is None or box[2] <= 0 or box[3] <= 0:
            continue
        x, y = ann[key]
        xs.append((x - (box[0] + box[2] / 2.0)) / box[2])
        ys.append((y - (box[1] + box[3] / 2.0)) / box[3])
    return xs, ys


def rsv_of(coco: Dict[str, Any], key: str = "point", gt_boxes: Optional[Dict[int, Sequence[float]]] = None) -> Optional[float]:
    """RSV (paper Eq. 13, :func:`pointdet.evaluation.annotation_quality.rsv`) of the points
    under ``key``; None when no annotation has a box."""
    from pointdet.evaluation.annotation_quality import rsv

    xs, ys = relative_offsets(coco, key, gt_boxes)
    if not xs:
        return None
    return rsv(np.stack([np.asarray(xs), np.asarray(ys)], axis=1))


def _gt_boxes_from(gt_json: Optional[str]) -> Optional[Dict[int, List[float]]]:
    if gt_json is None:
        return None
    gt = load_coco_dict(gt_json)
    return {a["id"]: a["bbox"] for a in gt["annotations"] if "bbox" in a}


def refine_annotation_file(
    model: nn.Module,
    input_json: str,
    image_root: str,
    output_json: str,
    *,
    mapper=None,
    batch_size: int = 1,
    num_workers: int = 0,
    gt_json: Optional[str] = None,
    info: Optional[Dict[str, Any]] = None,
    progress: bool = True,
    return_bags: bool = False,
    callback: Optional[Callable[[Dict, Any], None]] = None,
) -> Dict[str, Any]:
    """Refine every point of ``input_json`` with ``model`` and write ``output_json`` atomically.

    Args:
        model: a trained :class:`CPRNet`.
        input_json, image_root: the coarse point file and its images.
        output_json: where to write (must differ from the input).
        mapper: test-mode mapper keeping points (default :func:`build_refinement_mapper`).
        batch_size, num_workers: data loading.
        gt_json: full COCO file for RSV (boxes by annotation id); default ``true_bbox``.
        info: extra entries for the output's ``info`` (e.g. config, weights).
        return_bags, callback: see :func:`run_point_refinement`.
    Returns:
        statistics: ``images``, ``annotations``, ``seen``, ``refined``, ``mean_shift_px``,
        ``rsv_before``, ``rsv_after`` (None without boxes).
    """
    check_outputs_not_inputs([output_json], [input_json, gt_json])
    coarse = load_coco_dict(input_json)
    dicts, _ = refinement_dataset_dicts(input_json, image_root)
    if mapper is None:
        mapper = build_refinement_mapper()
    loader = build_detection_test_loader(dataset=dicts, mapper=mapper, batch_size=batch_size, num_workers=num_workers)
    results = run_point_refinement(model, loader, progress=progress, return_bags=return_bags, callback=callback)
    out = refined_coco_dict(coarse, results, input_json)

    shifts = [
        math.hypot(a["point"][0] - a["coarse_point"][0], a["point"][1] - a["coarse_point"][1])
        for a in out["annotations"]
        if "coarse_point" in a
    ]
    gt_boxes = _gt_boxes_from(gt_json)
    stats = OrderedDict(
        images=len(coarse["images"]),
        annotations=len(coarse["annotations"]),
        seen=len(results),
        refined=sum(1 for r in results.values() if r["refined"]),
        mean_shift_px=(sum(shifts) / len(shifts)) if shifts else 0.0,
        rsv_before=rsv_of(out, "coarse_point", gt_boxes),
        rsv_after=rsv_of(out, "point", gt_boxes),
    )
    net = _unwrap(model)
    new_info = OrderedDict()
    new_info["description"] = "pointdet CPR-refined points (CPR Sec. 3.3, Algorithm 2)"
    new_info["generator"] = "pointdet.cpr_refinement"
    new_info["params"] = OrderedDict(
        sorted(dict(getattr(net, "refine_kwargs", {}),
                    bag_radius=getattr(net, "bag_radius", None),
                    refine_bag_radius=getattr(net, "refine_bag_radius", None),
                    circle_density=getattr(net, "circle_density", None),
                    in_feature=getattr(net, "in_feature", None)).items())
    )
    new_info["seed"] = None
    new_info["source_file"] = os.path.basename(input_json)
    new_info["source_sha256"] = file_sha256(input_json)
    if gt_json is not None:
        new_info["gt_file"] = os.path.basename(gt_json)
    for k, v in (info or {}).items():
        new_info[k] = v
    new_info["statistics"] = stats
    if "info" in coarse:
        new_info["source_info"] = coarse["info"]
    result = OrderedDict(info=new_info)
    for k, v in out.items():
        if k != "info":
            result[k] = v
    atomic_write_json(result, output_json)
    logger.info(f"CPR refinement -> {output_json}: {dict(stats)}")
    return stats


class RefinePointsHook(HookBase):
    """After training, refine the training point file with the trained CPRNet and write it.

    The refined file goes to ``os.path.join(output_dir, output_name)`` (default
    ``<stem>_cpr_refined.json``). Runs on the main process only; others wait. Nothing is written
    when training stopped before ``max_iter`` (e.g. on an exception).

    LazyConfig use (``tools/train_net.py`` registers the hooks it finds in the config)::

        hooks = [L(RefinePointsHook)(dataset_name="pointdet_trees_train_coarse_points_s0",
                                     output_dir="${..train.output_dir}",
                                     augmentations=[L(T.ResizeShortestEdge)(...)])]
    """

    def __init__(
        self,
        *,
        output_dir: str,
        dataset_name: Optional[str] = None,
        input_json: Optional[str] = None,
        image_root: Optional[str] = None,
        output_name: Optional[str] = None,
        augmentations: Optional[Sequence] = None,
        image_format: str = "RGB",
        batch_size: int = 1,
        num_workers: int = 0,
        gt_json: Optional[str] = None,
    ):
        """
        Args:
            output_dir: folder of the refined file (the training output_dir).
            dataset_name: a registered point dataset; its metadata's ``json_file`` and
                ``image_root`` are used. Alternatively give ``input_json`` and ``image_root``.
            output_name: file name; default ``<input stem>_cpr_refined.json``.
            augmentations, image_format: of :func:`build_refinement_mapper`.
            batch_size, num_workers, gt_json: as :func:`refine_annotation_file`.
        """
        if dataset_name is None and (input_json is None or image_root is None):
            raise ValueError("RefinePointsHook needs dataset_name, or input_json and image_root")
        self.dataset_name = dataset_name
        self.input_json = input_json
        self.image_root = image_root
        self.output_dir = output_dir
        self.output_name = output_name
        self.augmentations = augmentations
        self.image_format = image_format
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.gt_json = gt_json
        self.stats = None
        self.output_path = None

    def _resolve(self):
        if self.dataset_name is not None:
            if self.dataset_name not in DatasetCatalog.list():
                raise KeyError(f"RefinePointsHook: dataset '{self.dataset_name}' is not registered")
            meta = MetadataCatalog.get(self.dataset_name)
            for k in ("json_file", "image_root"):
                if not hasattr(meta, k):
                    raise KeyError(f"RefinePointsHook: dataset '{self.dataset_name}' has no metadata '{k}'")
            return meta.json_file, meta.image_root
        return self.input_json, self.image_root

    def after_train(self):
        max_iter = getattr(self.trainer, "max_iter", None)
        if max_iter is not None and self.trainer.iter + 1 < max_iter:
            # like EvalHook: after_train also runs when training failed; refine only a finished model
            logger.warning("RefinePointsHook: training did not finish, no refined file is written")
            return
        input_json, image_root = self._resolve()
        name = self.output_name or os.path.splitext(os.path.basename(input_json))[0] + "_cpr_refined.json"
        self.output_path = os.path.join(self.output_dir, name)
        if comm.is_main_process():
            mapper = build_refinement_mapper(self.augmentations, self.image_format)
            self.stats = refine_annotation_file(
                self.trainer.model,
                input_json,
                image_root,
                self.output_path,
                mapper=mapper,
                batch_size=self.batch_size,
                num_workers=self.num_workers,
                gt_json=self.gt_json,
                info={"trainer_iter": int(self.trainer.iter)},
                progress=False,
            )
            logger.info(f"RefinePointsHook wrote {self.output_path}: RSV {self.stats['rsv_before']} -> {self.stats['rsv_after']}")
        comm.synchronize()
