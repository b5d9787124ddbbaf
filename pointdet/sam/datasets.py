"""Dataset dicts built from a registered point dataset and a proposal file (LazyConfig-callable).

* :func:`dataset_with_proposals` -- SAPNet's training data: each annotation carries its M
  proposals (``proposal_boxes`` / ``proposal_scores`` / ``proposal_segmentations``).
* :func:`top1_proposal_dataset` -- the SAM-top1 baseline (SAPNet Table 1 / 3): each object's
  highest-scoring proposal (or the one a selection file names) becomes its box and mask, for a
  fully supervised SOLOv2.
"""
import json
import logging
import os
from typing import Any, Dict, List, Optional

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


def top1_proposal_dataset(name: str, proposal_file: str, selection_file: Optional[str] = None) -> List[Dict[str, Any]]:
    """Each object's top-1 proposal (highest score; the first when the file has no scores) as its
    ``bbox`` (XYXY_ABS) and ``segmentation`` (RLE); objects without proposals are dropped.

    ``selection_file``: a pseudo-label file of ``tools/sapnet_select.py`` (same annotation ids);
    its ``proposal_index`` replaces the top-1 (the two-stage variant of Table 3: SOLOv2 trained
    on SAPNet's chosen masks).
    """
    dicts = dataset_with_proposals(name, proposal_file)
    chosen = None
    if selection_file is not None:
        if not os.path.isfile(selection_file):
            raise FileNotFoundError(f"selection file not found: {selection_file}")
        with open(selection_file) as f:
            chosen = {a["id"]: a["proposal_index"] for a in json.load(f)["annotations"] if "proposal_index" in a}
    for record in dicts:
        anns = []
        for ann in record.get("annotations", []):
            if "proposal_boxes" not in ann or len(ann["proposal_boxes"]) == 0:
                continue
            scores = ann.get("proposal_scores")
            if chosen is not None:
                if ann["id"] not in chosen:
                    raise ValueError(f"{selection_file}: no proposal_index for annotation id {ann['id']}")
                k = int(chosen[ann["id"]])
            else:
                k = int(np.argmax(scores)) if scores is not None else 0
            new = {key: v for key, v in ann.items() if not key.startswith("proposal_")}
            new["bbox"] = [float(v) for v in ann["proposal_boxes"][k]]
            new["bbox_mode"] = BoxMode.XYXY_ABS
            new["segmentation"] = ann["proposal_segmentations"][k]
            anns.append(new)
        record["annotations"] = anns
    return dicts
