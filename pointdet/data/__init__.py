"""Datasets, weak-annotation generators, mappers and the embedded demo data."""
from . import datasets  # noqa: F401  (registers the weak-annotation dataset names)
from . import annotations  # noqa: F401  (weak-annotation generators: pointdet.data.annotations.make_*)
