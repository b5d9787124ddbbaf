"""SAPNet's pseudo labels as annotation files, through the relabel engine.

* :class:`SAPNetSelectionProducer` -- a trained SAPNet's selection (PSM -> PNPG -> PRM + BMS,
  :meth:`pointdet.modeling.sapnet.SAPNet.select`) over a point file and its proposal file:
  ``bbox`` = box_prm and ``segmentation`` = Mask_prm (the proposal mask of box_prm). Used for
  mIoU_box (paper Table 7, ``tools/evaluate_annotations.py boxes``) and for the two-stage
  variant of Table 3 (retrain SOLOv2 on the written masks).
* :class:`Top1ProposalProducer` -- the SAM-top1 baseline: each point's highest-scoring proposal.

Boxes are written in original-image pixels (XYWH); the point file keeps its ``point``.
"""
import os
from collections import OrderedDict
from typing import Any, Dict, Optional, Sequence

import numpy as np

from pointdet.data.proposals import load_proposals

from .relabel import RelabelProducer, RelabelSource, relabel_file

__all__ = [
    "Top1ProposalProducer",
    "SAPNetSelectionProducer",
    "selection_quality",
    "select_top1_file",
    "select_with_checkpoint",
    "save_selection_pictures",
]


def _rv(mask_area: float, box) -> float:
    """R_v = mask area / box area (SAPNet Table 7)."""
    return mask_area / max(box[2] * box[3], 1e-12)


def selection_quality(coco: Dict[str, Any], results: Dict[int, Dict[str, Any]]) -> Dict[str, Any]:
    """mIoU_box and the R_v gap (SAPNet Table 7) of the written boxes / masks against the analysis
    copies ``true_bbox`` / ``true_segmentation`` of the input (when it has them; empty otherwise).

    R_v gap = mean |R_v(selected) - R_v(GT)|, R_v = mask area / box area.
    """
    from pycocotools import mask as mask_util

    ious, gaps = [], []
    for a in coco["annotations"]:
        r = results.get(a["id"])
        if r is None or "true_bbox" not in a or "bbox" not in r:
            continue
        b, g = r["bbox"], a["true_bbox"]
        ix = max(0.0, min(b[0] + b[2], g[0] + g[2]) - max(b[0], g[0]))
        iy = max(0.0, min(b[1] + b[3], g[1] + g[3]) - max(b[1], g[1]))
        inter = ix * iy
        ious.append(inter / max(b[2] * b[3] + g[2] * g[3] - inter, 1e-12))
        if "segmentation" in r and "true_segmentation" in a and isinstance(a["true_segmentation"], dict):
            gaps.append(abs(_rv(float(mask_util.area(r["segmentation"])), b)
                            - _rv(float(mask_util.area(a["true_segmentation"])), g)))
    out = OrderedDict()
    if ious:
        out["miou_box_vs_true_bbox"] = float(np.mean(ious))
        out["objects_with_true_bbox"] = len(ious)
    if gaps:
        out["rv_gap"] = float(np.mean(gaps))
    return out


class _ProposalProducer(RelabelProducer):
    def __init__(self, proposal_file: str):
        self.proposal_file = proposal_file
        self.proposals = None

    def inputs(self):
        return {"proposal_file": self.proposal_file}

    def check(self, source: RelabelSource) -> None:
        self.proposals = load_proposals(self.proposal_file, source.coco, coco_name=source.path)

    def _fields(self, aid: int, k: int, box_xywh=None):
        p = self.proposals[aid]
        box = p.boxes[k] if box_xywh is None else box_xywh
        f = OrderedDict(bbox=[float(v) for v in box])
        if p.segmentations is not None:
            f["segmentation"] = p.segmentations[k]
        f["proposal_index"] = int(k)
        return f

    def statistics(self, source, output, results):
        stats = OrderedDict(annotations_relabelled=len(results))
        stats.update(selection_quality(source.coco, results))
        stats["proposal_file_info"] = self.proposals.info
        return stats


class Top1ProposalProducer(_ProposalProducer):
    """Each annotation's top-scoring proposal (the first when the file has no scores)."""

    generator = "pointdet.sapnet_top1"
    description = "pointdet top-1 proposal per point (SAPNet SAM-top1 baseline)"
    seed = None

    def params(self):
        return {"rule": "highest proposal score"}

    def produce(self, source, image_ids):
        by_image: Dict[Any, list] = {i: [] for i in image_ids}
        for aid, p in self.proposals.by_annotation.items():
            if p.image_id in by_image and len(p):
                by_image[p.image_id].append(aid)
        for iid in image_ids:
            res = OrderedDict()
            for aid in by_image[iid]:
                p = self.proposals[aid]
                res[aid] = self._fields(aid, int(np.argmax(p.scores)) if p.scores is not None else 0)
            yield iid, res


class SAPNetSelectionProducer(_ProposalProducer):
    """box_prm and Mask_prm of a trained SAPNet for every annotated point."""

    generator = "pointdet.sapnet_select"
    description = "pointdet SAPNet pseudo labels (box_prm and Mask_prm)"
    seed = None

    def __init__(self, model, proposal_file: str, augmentations: Sequence = (), image_format: str = "RGB",
                 weights: Optional[str] = None):
        super().__init__(proposal_file)
        self.model = model
        self.augmentations = list(augmentations)
        self.image_format = image_format
        self.weights = weights

    def params(self):
        return {"augmentations": [repr(a) for a in self.augmentations], "image_format": self.image_format}

    def fingerprint(self):
        from .relabel import state_dict_sha256

        return {"weights_sha256": state_dict_sha256(self.model)}

    def produce(self, source, image_ids):
        import torch
        from detectron2.data import build_detection_test_loader
        from detectron2.structures import Boxes

        from pointdet.data.categories import CategoryIdMap
        from pointdet.data.dataset_mapper import PointDatasetMapper
        from pointdet.data.datasets import load_point_coco_json

        if source.image_root is None:
            raise ValueError(f"{source.path}: SAPNet selection needs the image folder (image_root)")
        dicts = load_point_coco_json(source.path, source.image_root, proposal_file=self.proposal_file)
        cats = CategoryIdMap.from_coco(source.coco["categories"], source.path)  # the model's contiguous ids
        for d in dicts:
            for a in d["annotations"]:
                a["category_id"] = cats.to_contiguous(a["category_id"], f"annotation id {a['id']}")
        todo = set(image_ids)
        dicts = [d for d in dicts if d["image_id"] in todo]
        mapper = PointDatasetMapper(is_train=True, augmentations=self.augmentations, image_format=self.image_format,
                                    supervision="points", object_proposals=True, object_proposal_masks=True)
        done = set()
        loader = build_detection_test_loader(dataset=dicts, mapper=mapper, num_workers=0)
        for inputs in loader:
            for x, r in zip(inputs, self.model.select(inputs)):
                sx = x["width"] / x["image"].shape[-1]
                sy = x["height"] / x["image"].shape[-2]
                res = OrderedDict()
                # PPG's enlarged boxes can reach past the image: the written boxes are clipped to it
                boxes = Boxes(r["box_prm"] * torch.tensor([sx, sy, sx, sy]))
                boxes.clip((x["height"], x["width"]))
                for aid, b, k in zip(r["ann_ids"].tolist(), boxes.tensor.tolist(), r["mask_index"].tolist()):
                    res[int(aid)] = self._fields(int(aid), int(k), [b[0], b[1], b[2] - b[0], b[3] - b[1]])
                done.add(x["image_id"])
                yield x["image_id"], res
        for iid in image_ids:  # images without points are not in the loader's output
            if iid not in done:
                yield iid, OrderedDict()


def select_top1_file(input_json: str, proposal_file: str, output_json: str, progress: bool = True):
    """Write the SAM-top1 pseudo-label file of ``input_json``; returns the statistics."""
    return relabel_file(Top1ProposalProducer(proposal_file), input_json, output_json, keep={}, progress=progress)


def select_with_checkpoint(config_file: str, weights: str, input_json: str, image_root: str, proposal_file: str,
                           output_json: str, opts: Sequence[str] = (), device: Optional[str] = None,
                           progress: bool = True):
    """Write SAPNet's pseudo-label file of ``input_json`` with a trained checkpoint (test-time resize
    of the config's test loader); returns the statistics."""
    from .model_loading import load_model_from_config

    model, cfg = load_model_from_config(config_file, weights, opts, device, require_method="select")
    augs = cfg.dataloader.test.mapper.get("augmentations", [])
    from detectron2.config import instantiate

    producer = SAPNetSelectionProducer(model, proposal_file, [instantiate(a) for a in augs],
                                       cfg.dataloader.test.mapper.get("image_format", "RGB"), weights)
    extra = OrderedDict(config_file=config_file, weights=weights)
    return relabel_file(producer, input_json, output_json, keep={}, image_root=image_root, extra_info=extra,
                        progress=progress)


def save_selection_pictures(selected_json: str, proposal_file: str, image_root: str, out_dir: str,
                            max_objects: int = 20) -> list:
    """PNGs of the first ``max_objects`` objects of a pseudo-label file: every proposal, the top-1
    by score (yellow) and the written choice (``proposal_index``, green), the true box (cyan) when
    the file keeps ``true_bbox``. Returns the paths."""
    import cv2
    from pycocotools import mask as mask_util

    from pointdet.data.coco_io import load_coco_dict
    from pointdet.sam.visualize import save_proposal_bag

    coco = load_coco_dict(selected_json, warn_out_of_image=False)
    ps = load_proposals(proposal_file, coco, coco_name=selected_json)
    images = {im["id"]: im for im in coco["images"]}
    paths = []
    for a in coco["annotations"]:
        if len(paths) >= max_objects:
            break
        if "proposal_index" not in a or a["id"] not in ps.by_annotation:
            continue
        p = ps[a["id"]]
        if p.segmentations is None:
            raise ValueError(f"{proposal_file}: no masks to draw (annotation id {a['id']})")
        im = images[a["image_id"]]
        bgr = cv2.imread(os.path.join(image_root, im["file_name"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read image id {im['id']}: {os.path.join(image_root, im['file_name'])}")
        masks = np.stack([mask_util.decode(r).astype(bool) for r in p.segmentations])
        top1 = int(np.argmax(p.scores)) if p.scores is not None else 0
        path = os.path.join(out_dir, f"image{im['id']}_ann{a['id']}.png")
        paths.append(save_proposal_bag(path, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), a["point"], masks, p.scores, top1,
                                       a["proposal_index"], a.get("true_bbox")))
    return paths
