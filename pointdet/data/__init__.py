"""Datasets, weak-annotation generators, mappers and the embedded demo data."""
