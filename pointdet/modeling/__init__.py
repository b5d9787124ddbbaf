"""Backbones, meta-architectures and heads, one folder per method."""
from . import backbone, cpr, meta_arch, p2pnet, roi_heads, sapnet, solov2  # noqa: F401
