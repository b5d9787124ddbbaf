"""Evaluator pieces for LazyConfig experiments.

``point_ap_evaluator(max_dets)``: point mAP (CPR Eq. 12; tau 0.5 / 1 / 2, COCO area ranges) on
the config's test dataset, writing results to ``train.output_dir``. Assign it to
``dataloader.evaluator`` (the dataset interpolation is relative to that position).
``empty_class_rule`` / ``ignore_rule`` = "reference" reproduce the CPR authors' evaluator
(mean over every category of the GT file; only ``iscrowd`` marks ignore regions); the
defaults leave categories without GT out of the mean and honour ``ignore`` too
(``pointdet/evaluation/point_ap.py``).
"""
from detectron2.config import LazyCall as L

from pointdet.evaluation.point_ap_evaluator import PointAPEvaluator


def point_ap_evaluator(
    max_dets=100, taus=(0.5, 1.0, 2.0), area_ranges="coco", empty_class_rule="coco", ignore_rule="iscrowd_or_ignore"
):
    """LazyCall config of :class:`PointAPEvaluator` on ``dataloader.test``'s dataset."""
    return L(PointAPEvaluator)(
        dataset_name="${..test.dataset.names}",
        output_dir="${train.output_dir}",
        taus=tuple(taus),
        max_dets=(max_dets,),
        area_ranges=area_ranges,
        empty_class_rule=empty_class_rule,
        ignore_rule=ignore_rule,
    )
