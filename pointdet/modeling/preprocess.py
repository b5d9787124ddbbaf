"""Image input of pointdet's meta-architectures, as Detectron2's ``DenseDetector`` and
``GeneralizedRCNN`` hold it: the pixel statistics as buffers, the ``device`` they define,
per-image normalisation and the padded :class:`~detectron2.structures.ImageList` batch.

:class:`ImageInputMixin` is mixed into an ``nn.Module`` (CenterNet, SOLOv2/SAPNet, the
click-MIL appearance model, the point models). The buffers are not persistent, so a model's
state-dict keys do not depend on it.
"""
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor

from detectron2.layers import move_device_like
from detectron2.structures import ImageList

__all__ = ["ImageInputMixin"]


class ImageInputMixin:
    """Pixel normalisation and batching for a model with a Detectron2 ``backbone``.

    Attributes set by :meth:`init_image_input`: ``pixel_mean`` / ``pixel_std`` (C, 1, 1) float32
    buffers (0-255 scale, in ``input_format`` channel order) and ``input_format``.
    """

    def init_image_input(self, pixel_mean: Sequence[float], pixel_std: Sequence[float], input_format: str) -> None:
        """Register the pixel statistics (C values each) and record the channel order ("RGB"/"BGR")."""
        self.input_format = input_format
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std, dtype=torch.float32).view(-1, 1, 1), False)

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def normalize_image(self, image: Tensor) -> Tensor:
        """(C, H, W) image (any dtype, any device) -> (image - mean) / std on the model's device."""
        return (move_device_like(image, self.pixel_mean) - self.pixel_mean) / self.pixel_std

    def image_padding(self) -> Tuple[int, Dict[str, int]]:
        """(size_divisibility, padding_constraints) of the batch: the backbone's by default."""
        return self.backbone.size_divisibility, self.backbone.padding_constraints

    def preprocess_image(self, batched_inputs: List[Dict]) -> ImageList:
        """Normalise each input's ``image`` and pad them into one batch (:meth:`image_padding`)."""
        size_divisibility, constraints = self.image_padding()
        images = [self.normalize_image(x["image"]) for x in batched_inputs]
        return ImageList.from_tensors(images, size_divisibility, padding_constraints=constraints)
