"""CPR point refinement of a whole annotation file, and the hook that runs it after training.

CPR (Yu et al. CVPR 2022, Alg. 1 lines 14-18): a trained CPRNet refines every annotated point
of the *training* file; the refined file then supervises a localizer (P2PNet). The reference
ran this inside its evaluation pass; here it is an explicit step through the relabel engine
(:mod:`pointdet.engine.relabel`), from a checkpoint (:func:`refine_with_checkpoint`, used by
``tools/refine_points.py``) or at the end of training (:class:`RefinePointsHook`). Both take
the test-time augmentations and image format from the config's ``dataloader.test.mapper``.

Output schema: the input COCO dict with, per point annotation, ``point`` = the refined point
(original-image pixels), ``coarse_point`` = the input point, ``cpr_score`` = refinement score
(absent for annotations the model did not see: crowd points, and points outside their image,
which are counted in ``info.statistics.outside_image`` and logged); ``info`` records the
generator, the refinement parameters, the config/weights and the source file checksum.
"""
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

from pointdet.data.categories import CategoryIdMap
from pointdet.data.coco_io import CocoFormatError, load_coco_dict
from pointdet.evaluation.annotation_quality import relative_positions, rsv
from pointdet.layers.image_bounds import points_inside_image

from .relabel import RelabelProducer, RelabelSource, relabel_file, state_dict_sha256

__all__ = [
    "build_refinement_mapper",
    "refinement_mapper_from_config",
    "refinement_dataset_dicts",
    "CPRRefinementProducer",
    "points_rsv",
    "refine_annotation_file",
    "refine_with_checkpoint",
    "refinement_visualizer",
    "true_boxes_by_image",
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


def refinement_mapper_from_config(cfg, model=None):
    """The refinement mapper of a LazyConfig: the augmentations and image format of
    ``cfg.dataloader.test.mapper`` (the one place a config states them); without one, the
    default resize and the model's ``input_format``."""
    from detectron2.config import instantiate

    augs, fmt = None, getattr(model, "input_format", "RGB")
    test = cfg.get("dataloader", {}).get("test", None)
    mapper_cfg = test.get("mapper", None) if test is not None else None
    if mapper_cfg is not None:
        if "augmentations" in mapper_cfg:
            augs = instantiate(mapper_cfg.augmentations)
        fmt = mapper_cfg.get("image_format", fmt)
    return build_refinement_mapper(augs, fmt)


def refinement_dataset_dicts(coco_json: str, image_root: str) -> Tuple[List[Dict], List[int]]:
    """Detectron2 dataset dicts of a point file, category ids mapped to contiguous [0, K).

    The mapping is the sorted order of the file's category ids (as Detectron2's and pointdet's
    COCO loaders do), so a model trained on the registered dataset of the same file predicts
    the same indices. Returns ``(dicts, sorted_category_ids)``.
    """
    from pointdet.data.datasets import load_point_coco_json

    dicts = load_point_coco_json(coco_json, image_root)
    coco = load_coco_dict(coco_json)
    categories = CategoryIdMap.from_coco(coco["categories"], coco_json)
    for d in dicts:
        for a in d["annotations"]:
            if "point" not in a and not a.get("iscrowd", 0):
                raise CocoFormatError(
                    f"{coco_json}: annotation id {a.get('id')} (image id {d['image_id']}) has no 'point'; "
                    "CPR refinement needs a point file"
                )
            a["category_id"] = categories.to_contiguous(a["category_id"], f"annotation id {a.get('id')}")
    return dicts, categories.dataset_ids


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") and not hasattr(model, "refine") else model


def points_rsv(coco: Dict[str, Any], key: str = "point", gt_json: Optional[str] = None) -> Optional[float]:
    """RSV (CPR Eq. 13) of the points under ``key`` against ``gt_json``'s boxes (by annotation
    id, image and category checked) or the file's own ``true_bbox``; None without boxes."""
    rel, _, _ = relative_positions(coco, gt_json, point_key=key)
    return rsv(rel) if len(rel) else None


def _outside_image(coco: Dict[str, Any]) -> List[int]:
    """Ids of non-crowd point annotations outside their image (the mapper's rule,
    :func:`pointdet.layers.points_inside_image`: such points are dropped and never reach the model)."""
    sizes = {im["id"]: (im["height"], im["width"]) for im in coco["images"]}
    anns = [a for a in coco["annotations"] if not a.get("iscrowd", 0) and "point" in a]
    if not anns:
        return []
    points = np.array([a["point"] for a in anns], dtype=np.float64).reshape(-1, 2)
    hw = np.array([sizes[a["image_id"]] for a in anns], dtype=np.float64)
    inside = points_inside_image(points, hw)
    return [a["id"] for a, ok in zip(anns, inside) if not ok]


class CPRRefinementProducer(RelabelProducer):
    """CPRNet refinement (CPR Sec. 3.3, Alg. 2) as a relabel producer: per annotation
    ``cpr_score`` and, where the point moved, the refined ``point``."""

    generator = "pointdet.cpr_refinement"
    description = "pointdet CPR-refined points (CPR Sec. 3.3, Algorithm 2)"
    seed = None

    def __init__(
        self,
        model: nn.Module,
        *,
        mapper=None,
        batch_size: int = 1,
        num_workers: int = 0,
        gt_json: Optional[str] = None,
        return_bags: bool = False,
        callback: Optional[Callable[[Dict, Any], None]] = None,
    ):
        """
        Args:
            model: a trained :class:`CPRNet` (or a DDP wrapper of one); put in eval mode for
                the run and restored afterwards.
            mapper: test-mode mapper keeping points (default :func:`build_refinement_mapper`).
            batch_size, num_workers: data loading.
            gt_json: full COCO file for RSV (boxes by annotation id); default ``true_bbox``.
            return_bags: ask the model for bag points/scores (for ``callback``).
            callback: called as ``callback(input_dict, refined_instances_on_cpu)`` per image.
        """
        self.model = model
        self.mapper = build_refinement_mapper() if mapper is None else mapper
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.gt_json = gt_json
        self.return_bags = return_bags
        self.callback = callback

    def params(self):
        net = _unwrap(self.model)
        return OrderedDict(
            sorted(dict(getattr(net, "refine_kwargs", {}),
                        bag_radius=getattr(net, "bag_radius", None),
                        refine_bag_radius=getattr(net, "refine_bag_radius", None),
                        circle_density=getattr(net, "circle_density", None),
                        in_feature=getattr(net, "in_feature", None)).items())
        )

    def fingerprint(self):
        return {"weights": state_dict_sha256(_unwrap(self.model)),
                "augmentations": repr(getattr(self.mapper, "augmentations", None)),
                "image_format": getattr(self.mapper, "image_format", None)}

    def inputs(self):
        return {"gt": self.gt_json} if self.gt_json is not None else {}

    def check(self, source: RelabelSource) -> None:
        if self.gt_json is not None:  # the GT must be the file the points were made from
            relative_positions(source.coco, self.gt_json)

    @torch.no_grad()
    def produce(self, source: RelabelSource, image_ids):
        if source.image_root is None:
            raise ValueError(f"{source.path}: CPR refinement needs the image folder (image_root)")
        dicts, _ = refinement_dataset_dicts(source.path, source.image_root)
        todo = set(image_ids)
        dicts = [d for d in dicts if d["image_id"] in todo]
        if not dicts:
            return
        loader = build_detection_test_loader(dataset=dicts, mapper=self.mapper, batch_size=self.batch_size,
                                             num_workers=self.num_workers)
        net = _unwrap(self.model)
        was_training = net.training
        net.eval()
        try:
            for inputs in loader:
                outputs = net.refine(inputs, return_bags=self.return_bags)
                for x, r in zip(inputs, outputs):
                    inst = r["instances"].to("cpu")
                    res = OrderedDict()
                    for aid, p, s, ref in zip(inst.ann_ids.tolist(), inst.pred_points.tolist(), inst.scores.tolist(),
                                              inst.refined.tolist()):
                        if aid < 0:
                            raise ValueError(f"image id {x.get('image_id')}: an annotation without 'id' cannot be written back")
                        fields = OrderedDict(cpr_score=float(s))
                        if ref:
                            fields["point"] = [float(p[0]), float(p[1])]
                        res[int(aid)] = fields
                    if self.callback is not None:
                        self.callback(x, inst)
                    yield x["image_id"], res
        finally:
            net.train(was_training)

    def statistics(self, source, output, results):
        shifts = [
            math.hypot(a["point"][0] - a["coarse_point"][0], a["point"][1] - a["coarse_point"][1])
            for a in output["annotations"]
            if "coarse_point" in a
        ]
        stats = OrderedDict(
            images=len(source.coco["images"]),
            annotations=len(source.coco["annotations"]),
            seen=len(results),
            refined=sum(1 for r in results.values() if "point" in r),
            mean_shift_px=(sum(shifts) / len(shifts)) if shifts else 0.0,
            rsv_before=points_rsv(output, "coarse_point", self.gt_json),
            rsv_after=points_rsv(output, "point", self.gt_json),
        )
        outside = _outside_image(source.coco)
        if outside:
            stats["outside_image"] = len(outside)
            logger.warning(
                "%s: %d point(s) outside their image were not refined (first: annotation id %s)",
                source.path, len(outside), outside[0],
            )
        return stats


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
    resume: bool = True,
) -> Dict[str, Any]:
    """Refine every point of ``input_json`` with ``model`` and write ``output_json`` atomically.

    Args:
        model, mapper, batch_size, num_workers, gt_json, return_bags, callback: see
            :class:`CPRRefinementProducer`.
        input_json, image_root: the coarse point file and its images.
        output_json: where to write (must differ from the input).
        info: extra entries for the output's ``info`` (e.g. config, weights).
        progress, resume: see :func:`pointdet.engine.relabel.relabel_file`.
    Returns:
        statistics: ``images``, ``annotations``, ``seen``, ``refined``, ``mean_shift_px``,
        ``rsv_before``, ``rsv_after`` (None without boxes), and ``outside_image`` when points
        lie outside their image.
    """
    producer = CPRRefinementProducer(model, mapper=mapper, batch_size=batch_size, num_workers=num_workers,
                                     gt_json=gt_json, return_bags=return_bags, callback=callback)
    return relabel_file(producer, input_json, output_json, keep={"point": "coarse_point"}, image_root=image_root,
                        extra_info=info, resume=resume, progress=progress)


# ------------------------------------------------------------------------------ from a checkpoint
def true_boxes_by_image(points_path: str, gt_path: Optional[str] = None) -> Dict[Any, np.ndarray]:
    """{image_id: (M, 4) xyxy true boxes} from ``gt_path``'s ``bbox`` or the point file's
    ``true_bbox`` (empty when neither has boxes): drawn in the refinement PNGs."""
    coco = load_coco_dict(gt_path or points_path)
    key = "bbox" if gt_path else "true_bbox"
    boxes: Dict[Any, List] = {}
    for a in coco["annotations"]:
        if a.get(key) is not None:
            x, y, w, h = a[key]
            boxes.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
    return {k: np.asarray(v, dtype=np.float64) for k, v in boxes.items()}


def refinement_visualizer(vis_dir: str, vis_max: int, boxes_by_image: Optional[Dict] = None):
    """Callback for :class:`CPRRefinementProducer` saving ``<vis_dir>/<image_id>.png`` of the
    first ``vis_max`` images (with the true boxes of ``boxes_by_image`` when given)."""
    from detectron2.data import detection_utils as utils

    from pointdet.utils.visualize_points import save_point_refinement

    count = [0]

    def callback(x, inst):
        if count[0] >= vis_max:
            return
        count[0] += 1
        img = utils.read_image(x["file_name"], format="RGB")
        save_point_refinement(
            os.path.join(vis_dir, f"{x.get('image_id', count[0])}.png"),
            img,
            inst.coarse_points,
            inst.pred_points,
            bag_points=inst.bag_points if inst.has("bag_points") else None,
            bag_scores=inst.bag_scores if inst.has("bag_scores") else None,
            bag_keep=inst.bag_keep if inst.has("bag_keep") else None,
            boxes=(boxes_by_image or {}).get(x.get("image_id")),
        )

    return callback


def refine_with_checkpoint(
    config_file: str,
    weights: str,
    input_json: str,
    image_root: str,
    output_json: str,
    *,
    opts: Sequence[str] = (),
    gt_json: Optional[str] = None,
    vis_dir: Optional[str] = None,
    vis_max: int = 20,
    batch_size: int = 1,
    num_workers: int = 0,
    device: Optional[str] = None,
    progress: bool = True,
    resume: bool = True,
) -> Dict[str, Any]:
    """Refine ``input_json`` with the CPRNet of a LazyConfig and its checkpoint (the work of
    ``tools/refine_points.py``); the mapper is the config's (:func:`refinement_mapper_from_config`).
    The config file, its overrides and the weights are recorded (name + SHA-256) in ``info``.
    Returns the statistics of :func:`refine_annotation_file`."""
    from pointdet.data.provenance import file_record
    from pointdet.engine.model_loading import load_model_from_config

    model, cfg = load_model_from_config(config_file, weights, opts, device, require_method="refine")
    mapper = refinement_mapper_from_config(cfg, model)
    callback = refinement_visualizer(vis_dir, vis_max, true_boxes_by_image(input_json, gt_json)) if vis_dir else None
    info = OrderedDict(file_record("config", config_file))
    info["config_overrides"] = list(opts or [])
    wrec = file_record("weights", weights)
    info["weights"] = wrec["weights_file"]
    info["weights_sha256"] = wrec["weights_sha256"]
    return refine_annotation_file(
        model, input_json, image_root, output_json, mapper=mapper, batch_size=batch_size,
        num_workers=num_workers, gt_json=gt_json, info=info, progress=progress,
        return_bags=callback is not None, callback=callback, resume=resume,
    )


# ------------------------------------------------------------------------------ after training
class RefinePointsHook(HookBase):
    """After training, refine the training point file with the trained CPRNet and write it into
    the run's folder.

    The refined file is ``os.path.join(output_dir, output_name)`` (default
    ``<input stem>_cpr_refined.json``); a path outside ``output_dir`` (absolute, or with
    ``..``) is refused unless ``allow_outside_output_dir=True``. Runs on the main process only;
    others wait. Nothing is written when training stopped before ``max_iter`` (e.g. on an
    exception).

    LazyConfig use (``tools/train_net.py`` registers the hooks it finds in ``cfg.hooks``): follow
    the config's training dataset, run folder and test mapper by interpolation, so that an
    override of any of them is followed::

        hooks = dict(refine_points=L(RefinePointsHook)(
            dataset_name="${...dataloader.train.dataset.names}",
            output_dir="${...train.output_dir}",
            augmentations="${...dataloader.test.mapper.augmentations}",
            image_format="${...dataloader.test.mapper.image_format}"))
    """

    def __init__(
        self,
        *,
        output_dir: str,
        dataset_name=None,
        input_json: Optional[str] = None,
        image_root: Optional[str] = None,
        output_name: Optional[str] = None,
        augmentations: Optional[Sequence] = None,
        image_format: str = "RGB",
        batch_size: int = 1,
        num_workers: int = 0,
        gt_json: Optional[str] = None,
        allow_outside_output_dir: bool = False,
    ):
        """
        Args:
            output_dir: the run's folder (``train.output_dir``); the refined file goes there.
            dataset_name: a registered point dataset (or a list holding exactly one, as
                ``dataloader.train.dataset.names``); its metadata's ``json_file`` and
                ``image_root`` are used. Alternatively give ``input_json`` and ``image_root``.
            output_name: file name (or path relative to ``output_dir``); default
                ``<input stem>_cpr_refined.json``.
            augmentations, image_format: of :func:`build_refinement_mapper`.
            batch_size, num_workers, gt_json: as :func:`refine_annotation_file`.
            allow_outside_output_dir: allow an ``output_name`` that leaves ``output_dir``.
        """
        if dataset_name is None and (input_json is None or image_root is None):
            raise ValueError("RefinePointsHook needs dataset_name, or input_json and image_root")
        if dataset_name is not None and not isinstance(dataset_name, str):
            names = list(dataset_name)
            if len(names) != 1:
                raise ValueError(
                    f"RefinePointsHook refines one training file; the training dataset names {names} "
                    "(give hooks.refine_points.dataset_name=<one name>)"
                )
            dataset_name = names[0]
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
        self.allow_outside_output_dir = allow_outside_output_dir
        self.stats = None
        self.output_path = None
        if output_name is not None:
            self._output_path_for(output_name)  # refuse a path outside the run's folder at once

    def resolve_input(self) -> Tuple[str, str]:
        """(point file, image folder) that the hook refines."""
        if self.dataset_name is not None:
            if self.dataset_name not in DatasetCatalog.list():
                raise KeyError(f"RefinePointsHook: dataset '{self.dataset_name}' is not registered")
            meta = MetadataCatalog.get(self.dataset_name)
            for k in ("json_file", "image_root"):
                if not hasattr(meta, k):
                    raise KeyError(f"RefinePointsHook: dataset '{self.dataset_name}' has no metadata '{k}'")
            return meta.json_file, meta.image_root
        return self.input_json, self.image_root

    def _output_path_for(self, name: str) -> str:
        path = os.path.normpath(os.path.join(self.output_dir, name))
        root = os.path.abspath(self.output_dir)
        if not self.allow_outside_output_dir and os.path.commonpath([root, os.path.abspath(path)]) != root:
            raise ValueError(
                f"RefinePointsHook: output {path} is outside the run's folder {self.output_dir}; "
                "set allow_outside_output_dir=True to write there"
            )
        return path

    def resolve_output(self) -> str:
        """The refined file's path."""
        input_json, _ = self.resolve_input()
        name = self.output_name or os.path.splitext(os.path.basename(input_json))[0] + "_cpr_refined.json"
        return self._output_path_for(name)

    def after_train(self):
        max_iter = getattr(self.trainer, "max_iter", None)
        if max_iter is not None and self.trainer.iter + 1 < max_iter:
            # like EvalHook: after_train also runs when training failed; refine only a finished model
            logger.warning("RefinePointsHook: training did not finish, no refined file is written")
            return
        input_json, image_root = self.resolve_input()
        self.output_path = self.resolve_output()
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
