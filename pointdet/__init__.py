"""pointdet: a Detectron2 extension for learning detectors, localizers and instance
segmenters from cheap labels (coarse points, center clicks, one box per category per image,
sparse boxes).

``import pointdet`` registers every dataset, backbone, meta-architecture and head with
Detectron2's catalogs and registries. It never changes Detectron2's global default config.
"""
import warnings

# fvcore.nn (imported by detectron2.layers) calls torch.jit.script at import time, which
# the installed torch reports as deprecated on every run; harmless here, so only that message is hidden.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)

from . import data, evaluation, layers, modeling  # noqa: F401  (registration side effects)
from .config import add_pointdet_config  # noqa: F401

__version__ = "0.1.0"
