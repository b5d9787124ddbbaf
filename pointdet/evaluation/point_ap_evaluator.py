"""Point mAP as a Detectron2 ``DatasetEvaluator`` (:class:`PointAPEvaluator`) and its yacs keys."""
import itertools
import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from detectron2.config import configurable
from detectron2.data import MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from pointdet.data.coco_io import CocoFormatError, atomic_write_json, load_coco_dict, validate_coco_dict

from .point_ap_core import DEFAULT_MAX_DETS, DEFAULT_TAUS, check_params, resolve_area_ranges
from .point_ap_inputs import check_ignore_rule
from .point_ap_result import check_empty_class_rule

__all__ = ["PointAPEvaluator", "add_point_eval_config"]


def add_point_eval_config(cfg):
    """Add ``cfg.TEST.POINT_EVAL`` keys (the reference's defaults for COCO) in place.

    ``EMPTY_CLASS_RULE`` / ``IGNORE_RULE``: "coco" / "iscrowd_or_ignore" (default) or
    "reference" for parity with the CPR authors' evaluator (see
    :mod:`pointdet.evaluation.point_ap`).
    """
    from detectron2.config import CfgNode as CN

    cfg.TEST.POINT_EVAL = CN()
    cfg.TEST.POINT_EVAL.TAUS = [0.5, 1.0, 2.0]
    cfg.TEST.POINT_EVAL.MAX_DETS = [100]
    # 'coco' or 'tiny' (SeaPerson/TinyPerson ranges)
    cfg.TEST.POINT_EVAL.AREA_PRESET = "coco"
    cfg.TEST.POINT_EVAL.EMPTY_CLASS_RULE = "coco"
    cfg.TEST.POINT_EVAL.IGNORE_RULE = "iscrowd_or_ignore"
    return cfg


class PointAPEvaluator(DatasetEvaluator):
    """Point localization mAP on a registered dataset (CPR Eq. 12; see :mod:`pointdet.evaluation.point_ap`).

    Accepts model outputs whose ``instances`` have ``pred_points`` (N, 2) in original-image
    pixels, or ``pred_boxes`` (the box centre is used), plus ``scores`` and ``pred_classes``
    (contiguous ids). GT is the dataset's COCO json (``MetadataCatalog.get(name).json_file``),
    which must be the full box file; without it, the dataset dicts are converted with
    Detectron2's ``convert_to_coco_dict`` (category ids must then come from the metadata's
    ``thing_dataset_id_to_contiguous_id``: COCO ids are 1-based). Multi-process safe:
    predictions are gathered to the main process, which alone evaluates and writes files.

    Writes ``point_results.json`` (``{image_id, category_id, point: [x, y], score}``) and
    ``point_ap_metrics.json`` to ``output_dir``; returns ``{"points": metrics}`` in percent.
    """

    @configurable
    def __init__(
        self,
        dataset_name: str,
        output_dir: Optional[str] = None,
        *,
        taus: Sequence[float] = DEFAULT_TAUS,
        max_dets: Sequence[int] = DEFAULT_MAX_DETS,
        area_ranges: Union[str, Sequence[Tuple[str, float, float]]] = "coco",
        empty_class_rule: str = "coco",
        ignore_rule: str = "iscrowd_or_ignore",
        distributed: bool = True,
        gt: Optional[Dict[str, Any]] = None,
    ):
        """
        Args:
            dataset_name: a registered dataset.
            output_dir: where results and metrics are written (optional).
            taus, max_dets, area_ranges, empty_class_rule, ignore_rule: see
                :func:`~pointdet.evaluation.point_ap.evaluate_point_ap`.
            distributed: gather predictions from all processes.
            gt: optional COCO GT dict to use instead of the dataset's json / dicts.
        """
        self._dataset_name = dataset_name
        self._output_dir = output_dir
        self._taus, self._max_dets = check_params(taus, max_dets)
        self._area_ranges = resolve_area_ranges(area_ranges)
        self._empty_class_rule = check_empty_class_rule(empty_class_rule)
        self._ignore_rule = check_ignore_rule(ignore_rule)
        self._distributed = distributed
        self._metadata = MetadataCatalog.get(dataset_name)
        self._gt = gt
        self._logger = logging.getLogger(__name__)
        self._predictions: List[Dict[str, Any]] = []
        id_map = getattr(self._metadata, "thing_dataset_id_to_contiguous_id", None)
        self._contiguous_to_dataset_id = {v: k for k, v in id_map.items()} if id_map else None

    @classmethod
    def from_config(cls, cfg, dataset_name, output_dir=None):
        pe = cfg.TEST.POINT_EVAL
        return {
            "dataset_name": dataset_name,
            "output_dir": output_dir,
            "taus": tuple(pe.TAUS),
            "max_dets": tuple(pe.MAX_DETS),
            "area_ranges": pe.AREA_PRESET,
            "empty_class_rule": pe.get("EMPTY_CLASS_RULE", "coco"),
            "ignore_rule": pe.get("IGNORE_RULE", "iscrowd_or_ignore"),
        }

    def reset(self):
        self._predictions = []

    def _dataset_category_id(self, contiguous_id: int) -> int:
        if self._contiguous_to_dataset_id is None:
            return int(contiguous_id)
        return int(self._contiguous_to_dataset_id[int(contiguous_id)])

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            if "instances" not in out:
                continue
            inst = out["instances"].to("cpu")
            if inst.has("pred_points"):
                points = inst.pred_points.detach().float().numpy().reshape(-1, 2)
            elif inst.has("pred_boxes"):
                points = inst.pred_boxes.get_centers().detach().float().numpy().reshape(-1, 2)
            else:
                raise KeyError(
                    f"{type(self).__name__}: image id {inp.get('image_id')} output instances have neither "
                    f"'pred_points' nor 'pred_boxes' (fields: {list(inst.get_fields())})"
                )
            scores = inst.scores.detach().float().numpy().tolist()
            classes = inst.pred_classes.numpy().tolist()
            for (x, y), s, c in zip(points.tolist(), scores, classes):
                self._predictions.append(
                    {
                        "image_id": inp["image_id"],
                        "category_id": self._dataset_category_id(c),
                        "point": [float(x), float(y)],
                        "score": float(s),
                    }
                )

    def _load_gt(self) -> Dict[str, Any]:
        if self._gt is not None:
            return self._gt
        json_file = getattr(self._metadata, "json_file", None)
        if json_file:
            return load_coco_dict(json_file)
        from detectron2.data.datasets.coco import convert_to_coco_dict

        self._logger.info(f"{self._dataset_name} has no json_file; converting its dataset dicts to COCO format")
        gt = convert_to_coco_dict(self._dataset_name)
        source = f"dataset '{self._dataset_name}' (its dataset dicts converted by convert_to_coco_dict)"
        ids = [c["id"] for c in gt["categories"]]
        if any(i < 1 for i in ids):
            raise CocoFormatError(
                f"{source}: category ids {ids} include ids < 1 (Detectron2's 0-based contiguous ids, as the "
                f"metadata has no thing_dataset_id_to_contiguous_id); point mAP uses COCO's 1-based ids: set "
                f"MetadataCatalog.get('{self._dataset_name}').thing_dataset_id_to_contiguous_id (e.g. "
                f"{{{', '.join(f'{i + 1}: {i}' for i in range(min(len(ids), 3)))}, ...}}), register the dataset "
                f"with a json_file, or pass gt= to the evaluator"
            )
        validate_coco_dict(gt, source)
        return gt

    def evaluate(self):
        from .point_ap import evaluate_point_ap

        if self._distributed:
            comm.synchronize()
            predictions = list(itertools.chain(*comm.gather(self._predictions, dst=0)))
            if not comm.is_main_process():
                return {}
        else:
            predictions = self._predictions
        if len(predictions) == 0:
            self._logger.warning("[PointAPEvaluator] did not receive valid predictions.")
        gt = self._load_gt()
        if self._output_dir:
            atomic_write_json(predictions, os.path.join(self._output_dir, "point_results.json"))
        result = evaluate_point_ap(
            gt,
            predictions,
            self._taus,
            self._max_dets,
            self._area_ranges,
            empty_class_rule=self._empty_class_rule,
            ignore_rule=self._ignore_rule,
        )
        metrics = result.metrics()
        self._logger.info(
            f"Point localization results for {self._dataset_name} (percent; empty_class_rule="
            f"{self._empty_class_rule}, ignore_rule={self._ignore_rule}):\n"
            + "\n".join(result.summary_lines())
            + "\n"
            + result.metrics_table()
        )
        self._logger.info("Per-category point AP: \n" + result.per_category_table())
        if self._output_dir:
            atomic_write_json(result.to_json_dict(), os.path.join(self._output_dir, "point_ap_metrics.json"), indent=2)
        self._last_result = result
        return OrderedDict({"points": metrics})

