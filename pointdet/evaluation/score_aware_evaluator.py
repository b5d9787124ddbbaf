"""Score-aware AP (SIOD Eq. 7-8) as a Detectron2 evaluator: :class:`ScoreAwareCOCOEvaluator`.

The evaluator is Detectron2's :class:`COCOEvaluator` unchanged (gathering, id mapping,
``coco_instances_results.json``, the official pycocotools evaluation) plus two additions
through its extension points: :meth:`process` checks each prediction's score (and rounds it
with ``round_scores``), and :meth:`_derive_coco_results` re-accumulates the per-image
matches of Detectron2's own ``COCOeval`` once per score threshold
(:func:`~pointdet.evaluation.score_aware_core.accumulate_score_aware`), adding the AP@S row
and ``AP@S_i`` to Detectron2's metrics.
"""
import logging
import math
import os
from typing import Any, Dict, Sequence

import numpy as np

from detectron2.config import configurable
from detectron2.evaluation import COCOEvaluator

from pointdet.data.coco_io import CocoFormatError, atomic_write_json

from .score_aware_core import (
    SCORE_THRESHOLDS,
    STAT_NAMES,
    accumulate_score_aware,
    format_score_aware_table,
    round_score,
    score_aware_metrics,
    score_aware_table,
    summarize_score_aware,
    summarize_score_aware_pooled,
)

__all__ = ["ScoreAwareCOCOEvaluator", "add_score_aware_config"]

_TASKS = ("bbox", "segm")


def add_score_aware_config(cfg):
    """Add ``cfg.TEST.SCORE_AWARE`` keys (the SIOD code's defaults) in place.

    ``THRESHOLDS`` are the exact doubles of ``np.arange(0, 1, 0.1)``; ``ROUND_SCORES`` rounds
    scores to 2 decimals (SIOD/CenterNet exporter parity, off by default); ``PLOT`` saves the
    AP-versus-threshold PNG in the evaluator's output folder.
    """
    from detectron2.config import CfgNode as CN

    cfg.TEST.SCORE_AWARE = CN()
    cfg.TEST.SCORE_AWARE.THRESHOLDS = [float(t) for t in SCORE_THRESHOLDS]
    cfg.TEST.SCORE_AWARE.ROUND_SCORES = False
    cfg.TEST.SCORE_AWARE.PLOT = True
    return cfg


class ScoreAwareCOCOEvaluator(COCOEvaluator):
    """:class:`COCOEvaluator` that also reports score-aware AP (SIOD) for bbox and segm.

    The returned dict holds, per task, Detectron2's usual metrics (``AP``, ``AP50``, ...,
    per-category AP, unchanged), the AP@S row (``AP@S``, ``AP50@S``, ..., ``ARl@S``: each COCO
    statistic averaged over the score thresholds) and ``AP@S_0`` .. ``AP@S_{S-1}``, all in
    percent. The full table (12 stats per threshold) is kept in
    ``self.score_aware_tables[task]`` and, with ``output_dir``, written to
    ``score_aware_{task}.json`` (plus ``score_aware_{task}.png`` when ``plot``).
    """

    @configurable
    def __init__(
        self,
        dataset_name,
        tasks=None,
        distributed=True,
        output_dir=None,
        *,
        max_dets_per_image=None,
        score_thresholds: Sequence[float] = SCORE_THRESHOLDS,
        round_scores: bool = False,
        plot: bool = True,
        **kwargs,
    ):
        """
        Args:
            dataset_name, tasks, distributed, output_dir, max_dets_per_image: as
                :class:`COCOEvaluator` (keypoints are not supported).
            score_thresholds: t_i, default ``np.arange(0, 1, 0.1)``; S_i keeps score >= t_i.
            round_scores: round scores to 2 decimals as predictions arrive (SIOD code parity;
                off by default, then AP@S_0 equals COCOEvaluator's AP exactly).
            plot: with ``output_dir``, save the AP-versus-threshold PNG per task.
            kwargs: other ``COCOEvaluator`` keyword arguments; ``use_fast_impl`` is forced
                to False (the score-aware accumulation reads pycocotools' per-image results,
                which Detectron2's compiled evaluator does not expose).
        """
        if kwargs.pop("use_fast_impl", False):
            logging.getLogger(__name__).info("ScoreAwareCOCOEvaluator: use_fast_impl ignored (pycocotools is used)")
        if tasks is not None:
            unsupported = set(tasks) - set(_TASKS)
            if unsupported:
                raise ValueError(f"ScoreAwareCOCOEvaluator supports tasks {_TASKS}, got {sorted(unsupported)}")
        thresholds = np.asarray(score_thresholds, dtype=np.float64).reshape(-1)
        if thresholds.size == 0 or not np.all(np.isfinite(thresholds)):
            raise ValueError(f"score_thresholds must be finite numbers, got {score_thresholds}")
        super().__init__(
            dataset_name,
            tasks=tasks,
            distributed=distributed,
            output_dir=output_dir,
            max_dets_per_image=max_dets_per_image,
            use_fast_impl=False,
            **kwargs,
        )
        self._score_thresholds = thresholds
        self._round_scores = bool(round_scores)
        self._plot = bool(plot)
        self.score_aware_tables: Dict[str, Dict[str, Any]] = {}

    @classmethod
    def from_config(cls, cfg, dataset_name, output_dir=None):
        """``ScoreAwareCOCOEvaluator(cfg, dataset_name, output_dir)``: keys of :func:`add_score_aware_config`."""
        if "SCORE_AWARE" not in cfg.TEST:
            raise KeyError(
                "cfg.TEST.SCORE_AWARE is missing: call pointdet.evaluation.score_aware.add_score_aware_config(cfg) "
                "(or pointdet.add_pointdet_config(cfg)) before building ScoreAwareCOCOEvaluator from a config"
            )
        sa = cfg.TEST.SCORE_AWARE
        return {
            "dataset_name": dataset_name,
            "output_dir": output_dir,
            "max_dets_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "score_thresholds": tuple(sa.THRESHOLDS),
            "round_scores": sa.ROUND_SCORES,
            "plot": sa.PLOT,
        }

    def process(self, inputs, outputs):
        """``COCOEvaluator.process``, then a finite-score check (and rounding) of the new predictions."""
        first_new = len(self._predictions)
        super().process(inputs, outputs)
        for prediction in self._predictions[first_new:]:
            for result in prediction.get("instances", []):
                if not math.isfinite(result["score"]):
                    raise CocoFormatError(
                        f"{type(self).__name__} on {self._metadata.name}: a prediction on image id "
                        f"{prediction['image_id']} has a non-finite score {result['score']!r}"
                    )
                if self._round_scores:
                    result["score"] = round_score(result["score"])

    def _derive_coco_results(self, coco_eval, iou_type, class_names=None):
        """Detectron2's metrics of ``coco_eval``, plus the score-aware metrics of its matches."""
        results = super()._derive_coco_results(coco_eval, iou_type, class_names=class_names)
        if iou_type not in _TASKS:
            return results
        if coco_eval is None:  # no predictions at all
            undefined = np.full((len(self._score_thresholds), len(STAT_NAMES)), -1.0)
            results.update(score_aware_metrics(undefined, np.full(len(STAT_NAMES), -1.0)))
            return results
        eval_sa = accumulate_score_aware(coco_eval, self._score_thresholds)
        stats = summarize_score_aware(eval_sa, coco_eval.params)
        pooled = summarize_score_aware_pooled(eval_sa, coco_eval.params)
        results.update(score_aware_metrics(stats, pooled))
        table = score_aware_table(stats, pooled, self._score_thresholds, iou_type)
        self.score_aware_tables[iou_type] = table
        self._logger.info(f"Score-aware {iou_type} AP on {self._metadata.name}:\n" + format_score_aware_table(table))
        if self._output_dir:
            atomic_write_json(table, os.path.join(self._output_dir, f"score_aware_{iou_type}.json"), indent=2)
            if self._plot:
                from .plots import plot_ap_vs_score_threshold

                plot_ap_vs_score_threshold(
                    stats,
                    self._score_thresholds,
                    os.path.join(self._output_dir, f"score_aware_{iou_type}.png"),
                    title=f"score-aware AP ({iou_type}, {self._metadata.name})",
                )
        return results
