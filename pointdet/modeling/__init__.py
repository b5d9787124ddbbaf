"""Backbones, meta-architectures and heads, one folder per method."""
from . import backbone, clickmil, cpr, meta_arch, p2pnet, roi_heads  # noqa: F401
