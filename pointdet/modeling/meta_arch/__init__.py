"""Meta-architectures registered in Detectron2's ``META_ARCH_REGISTRY``."""
from .fcos import FCOS, add_fcos_config  # noqa: F401
