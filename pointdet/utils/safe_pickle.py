"""Unpickling that cannot run code: tensors, NumPy arrays and plain containers only.

A pickle can name any importable callable (``os.system``, ``builtins.eval``) and have it called
while loading. :class:`RestrictedUnpickler` resolves only the globals that tensors, arrays and
containers need and refuses every other one before anything is called. It reads Detectron2
and Caffe2 model-zoo ``.pkl`` checkpoints (:class:`pointdet.engine.SafeDetectionCheckpointer`)
and Detectron2's precomputed-proposal files (:mod:`pointdet.data.proposals`).
"""
import importlib
import io
import pickle
from typing import Any

import torch

from detectron2.utils.file_io import PathManager

__all__ = ["RestrictedUnpickler", "UnsafePickleError", "load_restricted_pickle"]


def _storage_from_bytes(data: bytes):
    """``torch.storage._load_from_bytes`` without its unrestricted ``torch.load``."""
    return torch.load(io.BytesIO(data), weights_only=True)


def _numpy_attr(module: str, name: str):
    """NumPy 1 pickles arrays through numpy.core.*, NumPy 2 through numpy._core.*: either name
    resolves with whichever NumPy is installed."""

    def get():
        for core in ("_core", "core"):
            try:
                return getattr(importlib.import_module(f"numpy.{core}.{module}"), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"this NumPy has no numpy.core.{module}.{name}")

    return get


def _attr(module: str, name: str):
    return lambda: getattr(importlib.import_module(module), name)


# (module, name) a pickle may name -> a function returning the object to use for it. Python 2
# pickles (the Caffe2 model zoo) call builtins "__builtin__" and encode bytes with _codecs.encode.
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): _attr("collections", "OrderedDict"),
    ("builtins", "set"): _attr("builtins", "set"),
    ("builtins", "frozenset"): _attr("builtins", "frozenset"),
    ("__builtin__", "set"): _attr("builtins", "set"),
    ("__builtin__", "frozenset"): _attr("builtins", "frozenset"),
    ("_codecs", "encode"): _attr("_codecs", "encode"),
    ("numpy", "ndarray"): _attr("numpy", "ndarray"),
    ("numpy", "dtype"): _attr("numpy", "dtype"),
    **{
        (f"numpy.{core}.{module}", name): _numpy_attr(module, name)
        for core in ("core", "_core")
        for module, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"))
    },
    ("torch._utils", "_rebuild_tensor"): _attr("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"): _attr("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"): _attr("torch._utils", "_rebuild_parameter"),
    ("torch.storage", "_load_from_bytes"): lambda: _storage_from_bytes,
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a Python object other than tensors, arrays and plain containers."""


class RestrictedUnpickler(pickle.Unpickler):
    """
    An unpickler that builds only tensors, NumPy arrays and scalars, and plain containers
    (dict, list, tuple, set, OrderedDict, str, bytes, numbers): every other global a pickle
    names (a class, ``os.system``, ``builtins.eval`` ...) raises :class:`pickle.UnpicklingError`
    before anything is called.
    """

    def find_class(self, module, name):
        getter = _ALLOWED_GLOBALS.get((module, name))
        if getter is None:
            raise UnsafePickleError(
                f"refusing to load global {module}.{name}: only tensors, arrays and plain containers are allowed"
            )
        return getter()


def load_restricted_pickle(path: str) -> Any:
    """Unpickle ``path`` (any :class:`PathManager` path) with :class:`RestrictedUnpickler`
    (latin1 for Python 2 strings, as Detectron2 reads model-zoo ``.pkl`` files)."""
    with PathManager.open(path, "rb") as f:
        return RestrictedUnpickler(f, encoding="latin1").load()
