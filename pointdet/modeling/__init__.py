"""Backbones and meta-architectures, one folder per method."""
from . import backbone, cpr, p2pnet  # noqa: F401
