"""The self-refinement baseline (CPR Sec. 4.2 "Self-Refinement", Table 1 row 3) as a relabel
producer: each annotated point becomes the score-weighted mean of a localizer's same-class
predictions around it (:func:`pointdet.modeling.p2pnet.self_refinement.self_refine_points`,
which states the rule), written through the relabel engine.

Output: the input point file with the new ``point`` and the input point as ``coarse_point``
(every point annotation; unsupported and crowd ones keep their point); ``info`` records the
parameters and the checksums of the point, predictions (and GT) files.
"""
import json
import math
from collections import OrderedDict, defaultdict
from typing import Any, Dict, List, Optional

import torch

from pointdet.data.coco_io import CocoFormatError
from pointdet.evaluation.annotation_quality import relative_positions
from pointdet.modeling.p2pnet.self_refinement import prediction_point, self_refine_points

from .refinement import points_rsv
from .relabel import RelabelProducer, RelabelSource, relabel_file

__all__ = ["SelfRefinementProducer", "load_predictions", "self_refine_file"]


def load_predictions(path: str) -> List[Dict[str, Any]]:
    """A COCO results list (``image_id``, ``category_id``, ``score``, ``point`` or ``bbox``)."""
    try:
        with open(path) as f:
            predictions = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise CocoFormatError(f"{path}: cannot read the predictions JSON ({e})") from e
    if not isinstance(predictions, list):
        raise CocoFormatError(f"{path}: expected a COCO results list, got {type(predictions).__name__}")
    return predictions


class SelfRefinementProducer(RelabelProducer):
    """Self-refinement of a point file with a localizer's predictions on its images."""

    generator = "pointdet.self_refine_points"
    description = "pointdet self-refined points (CPR Sec. 4.2 Self-Refinement)"
    seed = None

    def __init__(self, predictions_json: str, *, radius: float = 64.0, score_thresh: float = 0.05,
                 ann_weight: float = 0.0, nearest_filter: bool = True, gt_json: Optional[str] = None):
        """
        Args:
            predictions_json: COCO results of a localizer (or pseudo-box detector) run on the
                *training* images, original-image pixels.
            radius, score_thresh, ann_weight, nearest_filter: see :func:`self_refine_points`.
            gt_json: full COCO file for RSV (boxes by annotation id); default ``true_bbox``.
        """
        self.predictions_json = predictions_json
        self.radius, self.score_thresh = float(radius), float(score_thresh)
        self.ann_weight, self.nearest_filter = float(ann_weight), bool(nearest_filter)
        self.gt_json = gt_json
        self.num_predictions = 0

    def params(self):
        return OrderedDict(radius=self.radius, score_thresh=self.score_thresh, ann_weight=self.ann_weight,
                           nearest_filter=self.nearest_filter)

    def inputs(self):
        return OrderedDict(predictions=self.predictions_json, gt=self.gt_json)

    def _predictions_per_image(self, coco: Dict[str, Any], points_file: str):
        preds = load_predictions(self.predictions_json)
        self.num_predictions = len(preds)
        image_ids = {img["id"] for img in coco["images"]}
        cat_ids = {c["id"] for c in coco["categories"]}
        per_image: Dict[Any, List[Dict[str, Any]]] = defaultdict(list)
        for det in preds:
            iid = det.get("image_id")
            if iid not in image_ids:
                raise CocoFormatError(f"{self.predictions_json}: prediction for image_id {iid!r} not in {points_file}")
            if det.get("category_id") not in cat_ids:
                raise CocoFormatError(
                    f"{self.predictions_json}: prediction for image_id {iid!r} has unknown category_id "
                    f"{det.get('category_id')!r} (categories of {points_file}: {sorted(cat_ids)})"
                )
            per_image[iid].append(det)
        return per_image

    def check(self, source: RelabelSource) -> None:
        if self.gt_json is not None:  # the GT must be the file the points were made from
            relative_positions(source.coco, self.gt_json)

    def produce(self, source: RelabelSource, image_ids):
        preds = self._predictions_per_image(source.coco, source.path)
        anns: Dict[Any, List[Dict[str, Any]]] = defaultdict(list)
        for ann in source.coco["annotations"]:
            if ann.get("iscrowd", 0):
                continue
            if "point" not in ann:
                raise CocoFormatError(f"{source.path}: annotation id {ann.get('id')!r} has no 'point'")
            anns[ann["image_id"]].append(ann)
        for iid in image_ids:
            image_anns, dets = anns.get(iid, []), preds.get(iid, [])
            if not image_anns:
                yield iid, {}
                continue
            a = torch.tensor([ann["point"] for ann in image_anns], dtype=torch.float64)
            ac = torch.tensor([ann["category_id"] for ann in image_anns], dtype=torch.long)
            if dets:
                p = torch.tensor([prediction_point(d, self.predictions_json) for d in dets], dtype=torch.float64)
                ps = torch.tensor([float(d["score"]) for d in dets], dtype=torch.float64)
                pc = torch.tensor([d["category_id"] for d in dets], dtype=torch.long)
            else:
                p, ps, pc = torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long)
            refined, weight, _ = self_refine_points(a, ac, p, ps, pc, radius=self.radius,
                                                    score_thresh=self.score_thresh, ann_weight=self.ann_weight,
                                                    nearest_filter=self.nearest_filter)
            res = OrderedDict()
            for ann, r, w in zip(image_anns, refined.tolist(), weight.tolist()):
                res[ann["id"]] = {"point": [r[0], r[1]]} if w > 0 else {}
            yield iid, res

    def statistics(self, source, output, results):
        by_id = {a["id"]: a for a in output["annotations"]}
        shifts = [math.hypot(by_id[i]["point"][0] - by_id[i]["coarse_point"][0],
                             by_id[i]["point"][1] - by_id[i]["coarse_point"][1])
                  for i, r in results.items() if "point" in r]
        return OrderedDict(
            annotations=len(results),
            refined=len(shifts),
            unchanged=len(results) - len(shifts),
            mean_shift_px=(sum(shifts) / len(shifts)) if shifts else 0.0,
            predictions=self.num_predictions,
            rsv_before=points_rsv(output, "coarse_point", self.gt_json),
            rsv_after=points_rsv(output, "point", self.gt_json),
        )


def self_refine_file(points_json: str, predictions_json: str, output_json: str, *, radius: float = 64.0,
                     score_thresh: float = 0.05, ann_weight: float = 0.0, nearest_filter: bool = True,
                     gt_json: Optional[str] = None, progress: bool = False) -> Dict[str, Any]:
    """Self-refine ``points_json`` with ``predictions_json`` and write ``output_json`` (atomically,
    byte-identical for the same inputs). Returns the statistics (also in ``info.statistics``),
    RSV (CPR Eq. 13) before/after included when boxes are known (``true_bbox`` or ``gt_json``)."""
    producer = SelfRefinementProducer(predictions_json, radius=radius, score_thresh=score_thresh,
                                      ann_weight=ann_weight, nearest_filter=nearest_filter, gt_json=gt_json)
    return relabel_file(producer, points_json, output_json, keep={"point": "coarse_point"}, progress=progress)
