"""ImageNet-pretrained backbones: their input statistics and the ``pointdet://`` weight paths.

Pixel statistics (0-255 scale), the one definition every pointdet model and config uses:

* ``IMAGENET_RGB_PIXEL_MEAN`` / ``IMAGENET_RGB_PIXEL_STD``: torchvision's ImageNet models
  (pointdet's MobileNetV2), RGB input;
* ``MSRA_BGR_PIXEL_MEAN`` / ``MSRA_BGR_PIXEL_STD``: Detectron2's MSRA ResNets
  (``detectron2://ImageNetPretrained/MSRA/R-50.pkl``), BGR input, std 1 (absorbed into conv1).

Both equal Detectron2's model-zoo ``common/data/constants.py`` values.

Weights: ``pointdet://ImageNetPretrained/mobilenet_v2.pth`` names torchvision's MobileNetV2
ImageNet checkpoint. A config stores this string, not a path of the machine it was written
on; :class:`PointdetHandler`, registered with Detectron2's ``PathManager``, resolves it when
the file is opened, under ``$DETECTRON2_DATASETS/pointdet_demo/weights/`` of the machine that
builds the model, and names the command that fetches it when it is missing.
"""
from typing import Callable, Dict

from detectron2.utils.file_io import PathHandler, PathManager

__all__ = [
    "IMAGENET_RGB_PIXEL_MEAN",
    "IMAGENET_RGB_PIXEL_STD",
    "MSRA_BGR_PIXEL_MEAN",
    "MSRA_BGR_PIXEL_STD",
    "MOBILENET_V2_IMAGENET_WEIGHTS",
    "PointdetHandler",
]

IMAGENET_RGB_PIXEL_MEAN = (123.675, 116.28, 103.53)
IMAGENET_RGB_PIXEL_STD = (58.395, 57.12, 57.375)
MSRA_BGR_PIXEL_MEAN = (103.53, 116.28, 123.675)
MSRA_BGR_PIXEL_STD = (1.0, 1.0, 1.0)

MOBILENET_V2_IMAGENET_WEIGHTS = "pointdet://ImageNetPretrained/mobilenet_v2.pth"


def _mobilenet_v2_imagenet_weights() -> str:
    from pointdet.data.demo import mobilenet_v2_imagenet_weights

    return mobilenet_v2_imagenet_weights()


class PointdetHandler(PathHandler):
    """Resolve ``pointdet://<name>`` to a local file when it is opened (never earlier).

    Known names: ``ImageNetPretrained/mobilenet_v2.pth``. A missing file raises
    FileNotFoundError naming the resolved path and ``python tools/prepare_demo_data.py``.
    """

    PREFIX = "pointdet://"
    # name -> function returning the local path (raises FileNotFoundError when absent)
    FILES: Dict[str, Callable[[], str]] = {
        "ImageNetPretrained/mobilenet_v2.pth": _mobilenet_v2_imagenet_weights,
    }

    def _get_supported_prefixes(self):
        return [self.PREFIX]

    def _resolve(self, path: str) -> str:
        name = path[len(self.PREFIX) :]
        if name not in self.FILES:
            raise ValueError(f"Unknown pointdet path {path!r}; known: {[self.PREFIX + k for k in self.FILES]}")
        return self.FILES[name]()

    def _get_local_path(self, path: str, **kwargs) -> str:
        return self._resolve(path)

    def _open(self, path: str, mode: str = "r", buffering: int = -1, **kwargs):
        if any(c in mode for c in "wax+"):
            raise ValueError(f"{path}: pointdet:// paths are read-only (mode {mode!r})")
        return open(self._resolve(path), mode, buffering=buffering)

    def _exists(self, path: str, **kwargs) -> bool:
        try:
            self._resolve(path)
        except FileNotFoundError:
            return False
        return True

    def _isfile(self, path: str, **kwargs) -> bool:
        return self._exists(path)


PathManager.register_handler(PointdetHandler())
