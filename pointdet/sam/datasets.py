"""Dataset dicts built from a registered point dataset and a proposal file (LazyConfig-callable).

* :func:`dataset_with_proposals` -- SAPNet's training data: each annotation carries its M
  proposals (``proposal_boxes`` / ``proposal_scores`` / ``proposal_segmentations``).
* :func:`top1_proposal_dataset` -- the SAM-top1 baseline (SAPNet Table 1 / 3): each object's
  highest-scoring proposal becomes its box and mask, for a fully supervised SOLOv2.
"""
import logging
from typing import Any, Dict, List

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from pointdet.data.datasets import load_point_coco_json

__all__ = ["dataset_with_proposals", "top1_proposal_dataset"]

logger = logging.getLogger(__name__)


def dataset_with_proposals(name: str, proposal_file: str) -> List[Dict[str, Any]]:
    """The dicts of the registered dataset ``name`` with the proposals of ``proposal_file`` attached.

    Raises:
        KeyError: ``name`` is not registered; FileNotFoundError: a missing annotation or proposal
        file (named); ProposalFileError: proposals that do not fit the annotation file.
    """
    if name not in DatasetCatalog.list():
        raise KeyError(f"dataset {name!r} is not registered")
    meta = MetadataCatalog.get(name)
    return load_point_coco_json(meta.json_file, meta.image_root, name, proposal_file=proposal_file)


def top1_proposal_dataset(name: str, proposal_file: str) -> List[Dict[str, Any]]:
    """Each object's top-1 proposal (highest score; the first when the file has no scores) as its
    ``bbox`` (XYXY_ABS) and ``segmentation`` (RLE); objects without proposals are dropped."""
    dicts = dataset_with_proposals(name, proposal_file)
    for record in dicts:
        anns = []
        for ann in record.get("annotations", []):
            if "proposal_boxes" not in ann or len(ann["proposal_boxes"]) == 0:
                continue
            scores = ann.get("proposal_scores")
            k = int(np.argmax(scores)) if scores is not None else 0
            new = {key: v for key, v in ann.items() if not key.startswith("proposal_")}
            new["bbox"] = [float(v) for v in ann["proposal_boxes"][k]]
            new["bbox_mode"] = BoxMode.XYXY_ABS
            new["segmentation"] = ann["proposal_segmentations"][k]
            anns.append(new)
        record["annotations"] = anns
    return dicts
