"""Checkpoints that cannot run code when loaded and are never half-written.

:class:`SafeDetectionCheckpointer` is Detectron2's :class:`DetectionCheckpointer` (same formats:
pointdet/Detectron2 ``.pth``, Detectron2 and Caffe2 model-zoo ``.pkl``) with three changes:

* loading never executes code from the file: ``.pth`` files are read with
  ``torch.load(weights_only=True)`` and ``.pkl`` files with :class:`pointdet.utils.safe_pickle.RestrictedUnpickler`, which
  builds only tensors, NumPy arrays and plain containers. A file that needs more is refused
  with a message naming it; ``allow_unsafe_pickle=True`` (``train.allow_unsafe_pickle``) is the
  explicit opt-in for trusted files;
* ``last_checkpoint`` (read by ``--resume``) may only name a file inside the checkpoint folder;
* checkpoints and ``last_checkpoint`` are written atomically (:func:`pointdet.utils.file_io.atomic_open`),
  so a kill while saving leaves the previous files intact and no truncated file behind.

:func:`is_complete_checkpoint` tells whether a ``.pth`` file is a whole, loadable checkpoint.
"""
import logging
import os
import pickle
from collections.abc import Mapping
from typing import Any, Dict

import torch

from detectron2.checkpoint import DetectionCheckpointer

from pointdet.utils.file_io import atomic_open, remove_stale_temp_files
from pointdet.utils.safe_pickle import UnsafePickleError, load_restricted_pickle

__all__ = [
    "SafeDetectionCheckpointer",
    "UnsafeCheckpointError",
    "is_complete_checkpoint",
]

logger = logging.getLogger(__name__)

class UnsafeCheckpointError(UnsafePickleError):
    """A checkpoint names a Python object other than tensors, arrays and plain containers."""


_UNSAFE_HINT = (
    "Loading it could run code stored in the file; if you trust the file, set "
    "train.allow_unsafe_pickle=True (SafeDetectionCheckpointer(allow_unsafe_pickle=True))."
)


def _model_zoo_pickle_to_checkpoint(data: Any, path: str) -> Dict[str, Any]:
    """A loaded ``.pkl`` in Detectron2's model-zoo layout (``{"model": ..., "__author__": ...}``)
    as is; otherwise a Caffe2 / Detectron1 weight dict (optionally under ``"blobs"``, momentum
    buffers dropped), marked for Detectron2's name-matching heuristics."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: a .pkl checkpoint must hold a dict, got {type(data).__name__}")
    if "model" in data and "__author__" in data:
        logger.info("Reading a file from '%s'", data["__author__"])
        return dict(data)
    weights = data["blobs"] if "blobs" in data else data
    weights = {k: v for k, v in weights.items() if not k.endswith("_momentum")}
    return {"model": weights, "__author__": "Caffe2", "matching_heuristics": True}


def _is_local(path: str) -> bool:
    return "://" not in path


class SafeDetectionCheckpointer(DetectionCheckpointer):
    """
    :class:`DetectionCheckpointer` that loads without running code from the file, resolves
    ``last_checkpoint`` only inside ``save_dir`` and writes atomically (see the module doc).

    Args:
        model, save_dir, save_to_disk, checkpointables: as :class:`DetectionCheckpointer`.
        allow_unsafe_pickle (bool): load with Python's full unpickler (``.pkl``) and
            ``torch.load(weights_only=False)`` (``.pth``). Only for files you trust.
    """

    def __init__(self, model, save_dir="", *, save_to_disk=None, allow_unsafe_pickle=False, **checkpointables):
        super().__init__(model, save_dir, save_to_disk=save_to_disk, **checkpointables)
        self.allow_unsafe_pickle = bool(allow_unsafe_pickle)

    # ---- loading -------------------------------------------------------------------------
    def _load_file(self, filename):
        try:
            if filename.endswith(".pkl") and not self.allow_unsafe_pickle:
                return _model_zoo_pickle_to_checkpoint(load_restricted_pickle(filename), filename)
            return super()._load_file(filename)
        except pickle.UnpicklingError as e:
            if isinstance(e, UnsafePickleError) or "weights only load failed" in str(e).lower():
                raise UnsafeCheckpointError(f"{filename}: not a plain weights file ({e}). {_UNSAFE_HINT}") from e
            raise RuntimeError(f"{filename} is not a complete checkpoint (truncated by a killed write?): {e}") from e
        except (EOFError, RuntimeError) as e:
            raise RuntimeError(
                f"{filename} is not a complete checkpoint (truncated by a killed write?): {e}"
            ) from e

    def _torch_load(self, f):
        return torch.load(f, map_location=torch.device("cpu"), weights_only=not self.allow_unsafe_pickle)

    def get_checkpoint_file(self) -> str:
        """
        The checkpoint named by ``save_dir/last_checkpoint`` ("" when there is none). The name
        must be a file name inside ``save_dir`` (no folder part, no ``..``, no symlink out of
        it); anything else raises :class:`ValueError`.
        """
        tag = os.path.join(self.save_dir, "last_checkpoint")
        try:
            with self.path_manager.open(tag, "r") as f:
                name = f.read().strip()
        except IOError:  # deleted by another process meanwhile
            return ""
        if not name or name in (".", "..") or os.path.basename(name) != name or "/" in name or "\\" in name:
            raise ValueError(f"{tag} names {name!r}, which is not a checkpoint file inside {self.save_dir}")
        path = os.path.join(self.save_dir, name)
        if _is_local(path):
            folder = os.path.realpath(self.save_dir)
            if os.path.commonpath([folder, os.path.realpath(path)]) != folder:
                raise ValueError(f"{tag} names {name!r}, which resolves outside {self.save_dir}")
        return path

    # ---- saving --------------------------------------------------------------------------
    def save(self, name: str, **kwargs: Any) -> None:
        """Write ``save_dir/<name>.pth`` (model, checkpointables and ``kwargs``) atomically,
        then point ``last_checkpoint`` at it."""
        if not self.save_dir or not self.save_to_disk:
            return
        if not _is_local(self.save_dir):
            return super().save(name, **kwargs)
        data = {"model": self.model.state_dict()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        basename = f"{name}.pth"
        if os.path.basename(basename) != basename:
            raise ValueError(f"checkpoint name {name!r} must not contain a folder")
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info("Saving checkpoint to %s", save_file)
        remove_stale_temp_files(save_file)
        with atomic_open(save_file, "wb") as f:
            torch.save(data, f)
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        tag = os.path.join(self.save_dir, "last_checkpoint")
        if not _is_local(tag):
            return super().tag_last_checkpoint(last_filename_basename)
        with atomic_open(tag, "w") as f:
            f.write(last_filename_basename)


def is_complete_checkpoint(path: str) -> bool:
    """
    Whether ``path`` is a whole ``.pth`` checkpoint: it loads with
    ``torch.load(weights_only=True)`` and holds a state dict of tensors (under ``"model"``, as
    pointdet and Detectron2 save them, or at the top level). False for a missing, truncated or
    foreign file; use it before treating a run's ``model_final.pth`` as done.
    """
    if not os.path.isfile(path):
        return False
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, not a torch file, non-weights objects ...
        logger.warning("%s is not a complete checkpoint: %s", path, e)
        return False
    state = data.get("model", data) if isinstance(data, Mapping) else None
    if not isinstance(state, Mapping) or not state:
        logger.warning("%s holds no model state dict", path)
        return False
    return all(isinstance(v, torch.Tensor) for v in state.values())
