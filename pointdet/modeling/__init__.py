"""Backbones, meta-architectures and heads, one folder per method."""
from . import backbone, centernet, clickmil, comining, cpr, dminer, meta_arch, p2pnet, roi_heads, sapnet, solov2  # noqa: F401,E501
