"""Proposal files from a prompted-mask source: shardable, resumable, merged atomically.

:func:`generate_proposal_parts` runs one shard (``--shard i/n``: every n-th image from the i-th,
in image-id order) and writes one part file per finished image, atomically, under
``parts_dir/shard-i-of-n/``; a killed run started again skips the images whose part exists.
:func:`merge_proposal_parts` collects every part, checks that each non-crowd annotation of the
annotation file has exactly M proposals, once, all made by the same source and parameters, and
writes the proposal file (:mod:`pointdet.data.proposals` format: RLE masks, their tight boxes,
the source's scores) atomically.
"""
import glob
import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_util

from pointdet.data.coco_io import atomic_write_json, load_coco_dict, load_json_strict
from pointdet.data.proposals import ProposalFileError, proposal_info, save_proposals, validate_proposals

from .sources import PromptedMaskSource

__all__ = [
    "parse_shard",
    "masks_to_proposals",
    "generate_proposal_parts",
    "merge_proposal_parts",
    "build_source",
    "run_proposal_tool",
]

logger = logging.getLogger(__name__)


def parse_shard(text: str) -> Tuple[int, int]:
    """``"i/n"`` -> (i, n) with 0 <= i < n."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be i/n (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard {text!r}: need 0 <= i < n")
    return i, n


def masks_to_proposals(masks: np.ndarray) -> Tuple[List[List[float]], List[Dict[str, Any]]]:
    """(M, H, W) bool masks -> M tight XYWH boxes (an empty mask gives [0, 0, 0, 0]) and M COCO RLEs."""
    rles = mask_util.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    boxes = mask_util.toBbox(rles).tolist()
    out = []
    for r in rles:
        out.append(OrderedDict(size=[int(v) for v in r["size"]], counts=r["counts"].decode("ascii")))
    return boxes, out


def _point_annotations(coco: Dict[str, Any], path: str) -> "OrderedDict[int, List[Dict[str, Any]]]":
    """Non-crowd annotations per image id (image-id order); each must have a ``point``."""
    per_image = OrderedDict((img["id"], []) for img in sorted(coco["images"], key=lambda im: im["id"]))
    for a in coco["annotations"]:
        if a.get("iscrowd", 0) or a.get("ignore", 0):
            continue
        if "point" not in a:
            raise ValueError(f"{path}: annotation id {a['id']} (image id {a['image_id']}) has no 'point'")
        per_image[a["image_id"]].append(a)
    return per_image


def _shard_dir(parts_dir: str, shard: Tuple[int, int]) -> str:
    return os.path.join(parts_dir, f"shard-{shard[0]}-of-{shard[1]}")


def generate_proposal_parts(
    annotation_file: str,
    image_root: str,
    parts_dir: str,
    source: PromptedMaskSource,
    shard: Tuple[int, int] = (0, 1),
    progress: bool = True,
) -> int:
    """Run ``source`` over the images of one shard; returns the number of images processed now.

    Raises:
        ValueError: an annotation without ``point``; FileNotFoundError: an unreadable image (named).
    """
    coco = load_coco_dict(annotation_file, warn_out_of_image=False)
    per_image = _point_annotations(coco, annotation_file)
    images = {img["id"]: img for img in coco["images"]}
    ids = list(per_image)[shard[0] :: shard[1]]
    out_dir = _shard_dir(parts_dir, shard)
    os.makedirs(out_dir, exist_ok=True)
    header = dict(generator=source.name, description=source.description, params=source.params())
    todo = [i for i in ids if not os.path.isfile(os.path.join(out_dir, f"image-{i}.json"))]
    if len(todo) < len(ids):
        logger.info(f"shard {shard[0]}/{shard[1]}: resuming, {len(ids) - len(todo)} of {len(ids)} images done")
    it = todo
    if progress:
        from tqdm import tqdm

        it = tqdm(todo, desc=f"{source.name} shard {shard[0]}/{shard[1]}", unit="img")
    done = 0
    for image_id in it:
        img = images[image_id]
        path = os.path.join(image_root, img["file_name"])
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read image id {image_id}: {path}")
        if bgr.shape[:2] != (img["height"], img["width"]):
            raise ValueError(
                f"image id {image_id} ({path}) is {bgr.shape[1]}x{bgr.shape[0]}, the annotation file says "
                f"{img['width']}x{img['height']}"
            )
        anns = per_image[image_id]
        entries = []
        if anns:
            source.set_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            pts = np.asarray([a["point"] for a in anns], dtype=np.float64)
            masks, scores = source.predict(pts, [a["id"] for a in anns])
            for a, m, s in zip(anns, masks, scores):
                boxes, rles = masks_to_proposals(m)
                entries.append(
                    OrderedDict(image_id=image_id, annotation_id=a["id"], boxes=boxes,
                                scores=[float(v) for v in s], segmentations=rles)
                )
        atomic_write_json(dict(header, image_id=image_id, proposals=entries), os.path.join(out_dir, f"image-{image_id}.json"))
        done += 1
    return done


def merge_proposal_parts(
    annotation_file: str, parts_dir: str, output: str, num_masks: int, extra_info: Optional[Dict[str, Any]] = None
):
    """Merge every shard's parts into one proposal file (atomic); returns the :class:`ProposalSet`.

    Raises:
        ProposalFileError: an image without a part, an annotation twice or with other than
        ``num_masks`` proposals, or parts made by different sources / parameters (names the part).
    """
    coco = load_coco_dict(annotation_file, warn_out_of_image=False)
    per_image = _point_annotations(coco, annotation_file)
    parts = sorted(glob.glob(os.path.join(parts_dir, "shard-*-of-*", "image-*.json")))
    seen_images, entries, header = {}, [], None
    for p in parts:
        d = load_json_strict(p)
        h = (d.get("generator"), d.get("params"))
        if header is None:
            header = (h, d.get("description", ""))
        elif h != header[0]:
            raise ProposalFileError(f"{p}: made by {h}, other parts by {header[0]}; do not mix sources in {parts_dir}")
        iid = d["image_id"]
        if iid in seen_images:
            raise ProposalFileError(f"{p}: image id {iid} is also in {seen_images[iid]} (shards of different runs?)")
        seen_images[iid] = p
        for e in d["proposals"]:
            if len(e["boxes"]) != num_masks:
                raise ProposalFileError(
                    f"{p}: annotation id {e['annotation_id']} has {len(e['boxes'])} proposals, expected {num_masks}"
                )
        entries.extend(d["proposals"])
    missing = [i for i in per_image if i not in seen_images]
    if missing:
        raise ProposalFileError(
            f"{parts_dir}: no part for {len(missing)} images (image ids {missing[:5]}{', ...' if len(missing) > 5 else ''}); "
            f"run the missing shards first"
        )
    (generator, params), description = header if header else ((None, {}), "")
    info = proposal_info(generator or "none", params or {}, annotation_file, masks_per_annotation=num_masks,
                         mask_source=description, **(extra_info or {}))
    order = {a["id"]: k for k, a in enumerate(coco["annotations"])}
    entries.sort(key=lambda e: order.get(e["annotation_id"], -1))
    ps = validate_proposals(OrderedDict(info=info, proposals=entries), coco, output, coco_name=annotation_file)
    save_proposals(ps, output)
    logger.info(f"wrote {len(ps)} annotations x {num_masks} proposals to {output}")
    return ps


def build_source(kind: str, sam_checkpoint: Optional[str] = None, sam_model_type: str = "vit_h", device: str = "cpu",
                 batch_size: int = 64, second_prompt: str = "jitter", jitter_px: float = 8.0, seed: int = 0):
    """A :class:`SAMSource` ("sam", from the user's checkpoint) or a :class:`ClassicalSource` ("classical")."""
    from .sources import ClassicalSource, SAMSource, build_sam_from_checkpoint

    if kind == "classical":
        return ClassicalSource()
    if kind != "sam":
        raise ValueError(f"source must be 'sam' or 'classical', got {kind!r}")
    sam = build_sam_from_checkpoint(sam_model_type, sam_checkpoint).to(device)
    return SAMSource(sam, batch_size=batch_size, second_prompt=second_prompt, jitter_px=jitter_px, seed=seed,
                     model_type=sam_model_type, checkpoint=sam_checkpoint)


def run_proposal_tool(
    annotation_file: str,
    image_root: str,
    output: str,
    source: PromptedMaskSource,
    shard: Tuple[int, int] = (0, 1),
    parts_dir: Optional[str] = None,
    merge: bool = True,
    progress: bool = True,
):
    """``tools/sam_proposals.py``: generate this shard's parts, then merge when ``merge`` (a
    single-shard run, or the last call after every shard finished). Returns the ProposalSet or None."""
    from pointdet.data.coco_io import check_outputs_not_inputs

    check_outputs_not_inputs([output], [annotation_file])
    parts_dir = parts_dir or output + ".parts"
    generate_proposal_parts(annotation_file, image_root, parts_dir, source, shard, progress=progress)
    if not merge:
        return None
    return merge_proposal_parts(annotation_file, parts_dir, output, source.num_masks)
