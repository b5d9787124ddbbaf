"""The ``info`` block of every file pointdet writes (weak-annotation generators, the relabel
engine, the demo converter): what made the file, with which parameters and seed, from which
inputs (file names and SHA-256 checksums), config and weights.

Key order is fixed, so the same inputs give a byte-identical file::

    description, generator, <header entries>, params, seed, <name>_file / <name>_sha256 per input,
    <extra entries in the caller's order>, statistics, source_info

``seed`` is written only when given (``None`` is recorded as ``null``: "not seeded"); an entry
whose value is omitted is not written.
"""
import os
from collections import OrderedDict
from typing import Any, Dict, Mapping, Optional

from pointdet.data.coco_io import file_sha256

__all__ = ["build_info", "with_info", "file_record", "source_checksums", "NOT_GIVEN"]


class _NotGiven:
    def __repr__(self):
        return "NOT_GIVEN"


#: marks an omitted ``seed`` (different from ``None``, which is written as ``null``)
NOT_GIVEN = _NotGiven()


def file_record(name: str, path: str) -> "OrderedDict[str, str]":
    """``{<name>_file: basename, <name>_sha256: hex digest}`` of one input file."""
    return OrderedDict([(f"{name}_file", os.path.basename(path)), (f"{name}_sha256", file_sha256(path))])


def build_info(
    generator: str,
    *,
    description: Optional[str] = None,
    header: Optional[Mapping[str, Any]] = None,
    params: Optional[Mapping[str, Any]] = None,
    seed: Any = NOT_GIVEN,
    inputs: Optional[Mapping[str, Optional[str]]] = None,
    extra: Optional[Mapping[str, Any]] = None,
    statistics: Optional[Mapping[str, Any]] = None,
    source_info: Any = None,
) -> "OrderedDict[str, Any]":
    """Build the ``info`` block of a written file.

    Args:
        generator: dotted name of what wrote the file, e.g. ``"pointdet.coarse_points"``.
        description: one line for people; default ``"pointdet <generator>"``.
        header: entries written right after ``generator`` (e.g. the generator's version).
        params: the parameters that change the output (recorded as given).
        seed: the random seed (``None``: not seeded; omitted when not given).
        inputs: ``{name: path}`` of the files the output was derived from, recorded as
            ``<name>_file`` and ``<name>_sha256`` (``"source"`` for the main input); ``None``
            paths are skipped.
        extra: further entries (config, weights, trainer iteration, ...), in order.
        statistics: counts and measures of the output.
        source_info: the main input's own ``info`` (provenance chain); omitted when None.
    """
    info: "OrderedDict[str, Any]" = OrderedDict()
    info["description"] = description if description is not None else f"pointdet {generator}"
    info["generator"] = generator
    for k, v in (header or {}).items():
        info[k] = v
    if params is not None:
        info["params"] = params
    if seed is not NOT_GIVEN:
        info["seed"] = None if seed is None else int(seed)
    for name, path in (inputs or {}).items():
        if path is not None:
            info.update(file_record(name, path))
    for k, v in (extra or {}).items():
        info[k] = v
    if statistics is not None:
        info["statistics"] = statistics
    if source_info is not None:
        info["source_info"] = source_info
    return info


def with_info(data: Mapping[str, Any], info: Mapping[str, Any]) -> "OrderedDict[str, Any]":
    """A shallow copy of ``data`` (a COCO-format dict) whose ``info`` is ``info``, written first;
    the other keys keep their order."""
    out = OrderedDict(info=info)
    for k, v in data.items():
        if k != "info":
            out[k] = v
    return out


def source_checksums(info: Any) -> Dict[int, str]:
    """``{depth: source_sha256}`` along a file's provenance chain (``info``, its
    ``source_info``, ...): the checksums of the files it was derived from, nearest first."""
    out, depth = {}, 0
    while isinstance(info, Mapping):
        sha = info.get("source_sha256")
        if isinstance(sha, str):
            out[depth] = sha
        info = info.get("source_info")
        depth += 1
    return out
