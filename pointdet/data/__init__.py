"""Datasets, weak-annotation generators, mappers and the embedded demo data."""
from . import datasets  # noqa: F401  (registers the weak-annotation dataset names)
from . import annotations  # noqa: F401  (weak-annotation generators: pointdet.data.annotations.make_*)
from . import demo  # noqa: F401  (registers the pointdet_trees_* / pointdet_nuclei_* demo splits)
