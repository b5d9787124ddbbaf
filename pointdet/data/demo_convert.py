"""Conversion of the demo archives into COCO files and image tiles (see :mod:`pointdet.data.demo`).

The aerial tree crowns (deepforest, VOC boxes) become 384-px tiles with spatially disjoint
train / val strips of the YELL images and an out-of-domain test split (OSBS, SOAP); the
stardist nuclei (instance masks) become 256-px tiles with polygon masks. Pure helpers
(tiling, clipping, intensity normalisation) are unit-tested.
"""
import io
import logging
import os
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from pointdet.utils.file_io import atomic_write_bytes

from .provenance import build_info

__all__ = ["CONVERTER_VERSION", "tile_starts", "clip_box_to_tile", "normalize_to_uint8", "convert_trees", "convert_nuclei"]

logger = logging.getLogger(__name__)

# Bump when the conversion changes, so that an existing manifest no longer matches.
CONVERTER_VERSION = 1

_DF = "deepforest/data/"
_YELL_STEMS = ("2019_YELL_2_528000_4978000_image_crop2", "2019_YELL_2_541000_4977000_image_crop")
_TEST_STEMS = ("OSBS_029", "SOAP_061")
# every label found in the deepforest files maps to the single class "tree"
_TREE_LABELS = {"Tree": "tree", "Alive": "tree", "Dead": "tree"}


def tile_starts(length: int, tile: int, overlap: int) -> List[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)`` with stride
    ``tile - overlap``; the last tile is aligned to the end (``length - tile``).

    A length shorter than the tile gives ``[0]`` (one tile, cut by the caller).
    Example: ``tile_starts(865, 384, 64) == [0, 320, 481]``.
    """
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"tile_starts: need tile > 0 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def clip_box_to_tile(
    box_xyxy: Sequence[float],
    tile_xyxy: Sequence[float],
    min_kept_area_fraction: float = 0.5,
    min_box_side: float = 2.0,
) -> Optional[Tuple[float, float, float, float]]:
    """Clip an absolute box (x0, y0, x1, y1) to a tile and return it in tile coordinates
    (x0, y0, x1, y1), or None when the remnant is dropped: it keeps less than
    ``min_kept_area_fraction`` of the box area, or is narrower/lower than ``min_box_side`` px.
    """
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    tx0, ty0, tx1, ty1 = (float(v) for v in tile_xyxy)
    cx0, cy0, cx1, cy1 = max(x0, tx0), max(y0, ty0), min(x1, tx1), min(y1, ty1)
    w, h = cx1 - cx0, cy1 - cy0
    if w < min_box_side or h < min_box_side:
        return None
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    if area <= 0 or w * h < min_kept_area_fraction * area:
        return None
    return (cx0 - tx0, cy0 - ty0, cx1 - tx0, cy1 - ty0)


def normalize_to_uint8(img: np.ndarray, low: float = 1.0, high: float = 99.8) -> np.ndarray:
    """Percentile normalisation (the usual stardist/csbdeep ``normalize(img, 1, 99.8)``):
    ``clip((img - p_low) / (p_high - p_low), 0, 1) * 255``, rounded to uint8. Deterministic."""
    img = np.asarray(img, dtype=np.float64)
    lo, hi = np.percentile(img, [low, high])
    if hi <= lo:
        raise ValueError(f"normalize_to_uint8: image is constant between percentiles {low} and {high}")
    out = np.clip((img - lo) / (hi - lo), 0.0, 1.0) * 255.0
    return np.floor(out + 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------------------
# fetching
# ----------------------------------------------------------------------------------------


def _write_png(img: np.ndarray, path: str) -> None:
    """Write an HxWx3 BGR uint8 image as PNG atomically (fixed encoder settings)."""
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(img), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {path}")
    atomic_write_bytes(buf.tobytes(), path)


def _decode_png(data: bytes, name: str) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise RuntimeError(f"could not decode image {name}")
    return img


def _parse_voc(data: bytes, name: str) -> Tuple[int, int, List[Tuple[float, float, float, float]]]:
    """(width, height, boxes xyxy) of a VOC XML file; every label must map to "tree"."""
    root = ET.fromstring(data)
    size = root.find("size")
    width, height = int(size.find("width").text), int(size.find("height").text)
    boxes = []
    for i, obj in enumerate(root.findall("object")):
        label = obj.find("name").text
        if label not in _TREE_LABELS:
            raise RuntimeError(f"{name}: object {i} has unknown label {label!r} (known: {sorted(_TREE_LABELS)})")
        bb = obj.find("bndbox")
        x0, y0, x1, y1 = (float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
        x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height))
        if x1 - x0 <= 0 or y1 - y0 <= 0:
            raise RuntimeError(f"{name}: object {i} has a degenerate box {(x0, y0, x1, y1)}")
        boxes.append((x0, y0, x1, y1))
    return width, height, boxes


def _coco_dict(images, annotations, category: str, info: dict) -> dict:
    return {
        "info": info,
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": category, "supercategory": category}],
    }


def _box_ann(box_xyxy, ann_id: int, image_id: int) -> dict:
    x0, y0, x1, y1 = box_xyxy
    w, h = x1 - x0, y1 - y0
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "bbox": [x0, y0, w, h],
        "area": w * h,
        "iscrowd": 0,
    }


def _tile_region(
    x_lo: int, x_hi: int, height: int, tile: int, overlap: int
) -> List[Tuple[int, int, int, int]]:
    """Tiles (x0, y0, x1, y1) of ``tile`` px covering the region [x_lo, x_hi) x [0, height)."""
    xs = [x_lo + s for s in tile_starts(x_hi - x_lo, tile, overlap)]
    ys = tile_starts(height, tile, overlap)
    return [(x, y, min(x + tile, x_hi), min(y + tile, height)) for y in ys for x in xs]


def convert_trees(members: Dict[str, bytes], out_root: str, params: dict, source: dict) -> Dict[str, dict]:
    tile, overlap = params["tree_tile_size"], params["tree_tile_overlap"]
    img_dir = os.path.join(out_root, "trees", "images")
    splits = {"train": ([], []), "val": ([], []), "test": ([], [])}

    def add_image(split, file_name, img, boxes_tile, extra):
        images, anns = splits[split]
        image_id = len(images) + 1
        images.append(dict(id=image_id, file_name=file_name, width=int(img.shape[1]), height=int(img.shape[0]), **extra))
        for b in boxes_tile:
            anns.append(_box_ann(b, len(anns) + 1, image_id))
        _write_png(img, os.path.join(img_dir, file_name))

    for stem in _YELL_STEMS:
        width, height, boxes = _parse_voc(members[_DF + stem + ".xml"], stem + ".xml")
        img = _decode_png(members[_DF + stem + ".png"], stem + ".png")
        if img.shape[:2] != (height, width):
            raise RuntimeError(f"{stem}: image is {img.shape[1]}x{img.shape[0]}, XML says {width}x{height}")
        val_w = max(tile, int(round(width * params["tree_val_fraction"])))
        split_x = width - val_w
        if split_x < tile:
            raise RuntimeError(f"{stem}: {width} px wide is too narrow for a {tile}-px train and val strip")
        regions = {"train": (0, split_x), "val": (split_x, width)}
        for split, (x_lo, x_hi) in regions.items():
            tiles = _tile_region(x_lo, x_hi, height, tile, overlap)
            for tx0, ty0, tx1, ty1 in tiles:
                kept = []
                for b in boxes:
                    c = clip_box_to_tile(b, (tx0, ty0, tx1, ty1), params["min_kept_area_fraction"], params["min_box_side"])
                    if c is not None:
                        kept.append(c)
                name = f"{stem}_x{tx0:04d}_y{ty0:04d}.png"
                extra = {"source_image": stem + ".png", "tile_box": [tx0, ty0, tx1 - tx0, ty1 - ty0], "site": "YELL"}
                add_image(split, name, img[ty0:ty1, tx0:tx1], kept, extra)
            logger.info("trees %s: %s -> %d tiles of region x in [%d, %d)", split, stem, len(tiles), x_lo, x_hi)

    for stem in _TEST_STEMS:
        width, height, boxes = _parse_voc(members[_DF + stem + ".xml"], stem + ".xml")
        img = _decode_png(members[_DF + stem + ".png"], stem + ".png")
        if img.shape[:2] != (height, width):
            raise RuntimeError(f"{stem}: image is {img.shape[1]}x{img.shape[0]}, XML says {width}x{height}")
        extra = {"source_image": stem + ".png", "tile_box": [0, 0, width, height], "site": stem.split("_")[0]}
        add_image("test", stem + ".png", img, boxes, extra)
        logger.info("trees test: %s (%d boxes)", stem, len(boxes))

    out = {}
    for split, (images, anns) in splits.items():
        info = build_info(
            "pointdet.data.demo",
            description=f"pointdet demo: deepforest tree crowns, {split} split",
            header={"converter_version": CONVERTER_VERSION},
            params={k: v for k, v in params.items() if k.startswith("tree") or k.startswith("min_")},
            extra={"source": source["deepforest"],
                   "license": "deepforest package: MIT; imagery: NEON airborne observation platform RGB"},
        )
        out["pointdet_trees_" + split] = _coco_dict(images, anns, "tree", info)
    return out


def convert_nuclei(members: Dict[str, bytes], out_root: str, params: dict, source: dict) -> Dict[str, dict]:
    import pycocotools.mask as mask_util
    import tifffile

    img = tifffile.imread(io.BytesIO(members["stardist/data/images/img2d.tif"]))
    lab = tifffile.imread(io.BytesIO(members["stardist/data/images/mask2d.tif"]))
    if img.ndim != 2 or img.shape != lab.shape:
        raise RuntimeError(f"stardist img2d.tif {img.shape} / mask2d.tif {lab.shape}: expected two equal 2-D arrays")
    lo, hi = params["nuclei_percentiles"]
    gray = normalize_to_uint8(img, lo, hi)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    tile = params["nuclei_tile_size"]
    img_dir = os.path.join(out_root, "nuclei", "images")
    splits = {"train": ([], []), "val": ([], [])}
    t = 0
    for y0 in range(0, lab.shape[0] - tile + 1, tile):
        for x0 in range(0, lab.shape[1] - tile + 1, tile):
            split = "val" if t == params["nuclei_val_tile"] else "train"
            t += 1
            images, anns = splits[split]
            image_id = len(images) + 1
            name = f"stardist_img2d_x{x0:04d}_y{y0:04d}.png"
            images.append(
                dict(id=image_id, file_name=name, width=tile, height=tile, source_image="img2d.tif",
                     tile_box=[x0, y0, tile, tile])
            )
            _write_png(rgb[y0 : y0 + tile, x0 : x0 + tile], os.path.join(img_dir, name))
            crop = lab[y0 : y0 + tile, x0 : x0 + tile]
            for inst in np.unique(crop):
                if inst == 0:
                    continue
                m = np.asfortranarray((crop == inst).astype(np.uint8))
                area = int(m.sum())
                if area < params["nuclei_min_area"]:
                    continue
                rle = mask_util.encode(m)
                rle["counts"] = rle["counts"].decode("ascii")
                ys, xs = np.nonzero(m)
                x_min, y_min = int(xs.min()), int(ys.min())
                bbox = [x_min, y_min, int(xs.max()) + 1 - x_min, int(ys.max()) + 1 - y_min]
                anns.append(
                    {"id": len(anns) + 1, "image_id": image_id, "category_id": 1, "bbox": bbox, "area": area,
                     "segmentation": {"size": [int(m.shape[0]), int(m.shape[1])], "counts": rle["counts"]},
                     "iscrowd": 0}
                )
            logger.info("nuclei %s: tile (%d, %d)", split, x0, y0)
    out = {}
    for split, (images, anns) in splits.items():
        info = build_info(
            "pointdet.data.demo",
            description=f"pointdet demo: stardist nuclei, {split} split",
            header={"converter_version": CONVERTER_VERSION},
            params={k: v for k, v in params.items() if k.startswith("nuclei")},
            extra={"source": source["stardist"],
                   "license": "stardist package: BSD-3-Clause"},
        )
        out["pointdet_nuclei_" + split] = _coco_dict(images, anns, "nucleus", info)
    return out


