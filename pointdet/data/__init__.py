"""Datasets, weak-annotation generators, mappers and the embedded demo data."""
from . import datasets  # noqa: F401  (registers the weak-annotation dataset names)
