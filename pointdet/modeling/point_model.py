"""Base class of pointdet's point models (CPRNet, P2PNet), as Detectron2's ``DenseDetector`` is for
RetinaNet and FCOS.

It holds what every point model shares: the backbone and the single feature level it reads,
the image input (pixel normalisation buffers, ``device``, ``preprocess_image``: :class:`ImageInputMixin`),
ground-truth extraction from ``PointDatasetMapper`` dicts with errors naming the image
(:meth:`PointModel.ground_truth`), and scalar logging to Detectron2's event storage
(:meth:`PointModel.log_scalar`). Subclasses implement ``forward``, their losses and inference.
"""
from typing import Dict, List, Sequence

import torch
from torch import nn

from detectron2.modeling import Backbone
from detectron2.structures import Instances
from detectron2.utils.events import get_event_storage

from .preprocess import ImageInputMixin

__all__ = ["GroundTruthError", "PointModel"]


class GroundTruthError(ValueError):
    """An input lacks the ground truth a point model needs; the message names the image."""


def _image_name(x: Dict) -> str:
    return str(x.get("image_id", x.get("file_name", "?")))


class PointModel(ImageInputMixin, nn.Module):
    """Backbone + one feature level + pixel normalisation, shared by the point models.

    Attributes:
        backbone, in_feature, stride (float, pixels per cell of ``in_feature``), input_format,
        pixel_mean / pixel_std (C, 1, 1) buffers.
    """

    def __init__(
        self,
        *,
        backbone: Backbone,
        in_feature: str,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        input_format: str = "RGB",
    ):
        """
        Args:
            backbone: a Detectron2 backbone; ``in_feature`` must be one of its outputs.
            in_feature: the single feature map the model reads ("p3": stride 8, ...).
            pixel_mean, pixel_std: per-channel normalisation, in ``input_format`` channel order.
            input_format: "RGB" or "BGR", the images' channel order.
        """
        super().__init__()
        self.backbone = backbone
        shapes = backbone.output_shape()
        if in_feature not in shapes:
            raise KeyError(
                f"{type(self).__name__}: backbone has no feature {in_feature!r}; it outputs {sorted(shapes)}"
            )
        self.in_feature = in_feature
        self.stride = float(shapes[in_feature].stride)
        self.init_image_input(pixel_mean, pixel_std, input_format)

    def ground_truth(self, batched_inputs: List[Dict]) -> List[Instances]:
        """The point ground truth of each input, on the model's device.

        Each input must have ``instances`` with ``gt_points`` (N, 2) (a tensor or anything with
        ``.tensor``) and ``gt_classes`` (N,). Returns new :class:`Instances` (the inputs are not
        modified) with ``gt_points`` float32 (N, 2), ``gt_classes`` int64 (N,), ``gt_ann_ids``
        int64 (N,) (-1 where the input had none) and every other field of the input.

        Raises:
            GroundTruthError: naming the image id (or file name) of the first bad input.
        """
        out = []
        for x in batched_inputs:
            if "instances" not in x:
                raise GroundTruthError(
                    f"{type(self).__name__} needs 'instances' with gt_points/gt_classes for image {_image_name(x)}"
                )
            inst = x["instances"]
            missing = [f for f in ("gt_points", "gt_classes") if not inst.has(f)]
            if missing:
                raise GroundTruthError(
                    f"{type(self).__name__}: instances of image {_image_name(x)} lack {'/'.join(missing)} "
                    f"(fields: {list(inst.get_fields())})"
                )
            inst = inst.to(self.device)
            p = inst.gt_points
            p = p.tensor if hasattr(p, "tensor") else p
            points = torch.as_tensor(p, dtype=torch.float32, device=self.device).reshape(-1, 2)
            classes = inst.gt_classes.long().reshape(-1)
            n = points.shape[0]
            if inst.has("gt_ann_ids"):
                ann_ids = inst.gt_ann_ids.long().reshape(-1)
            else:
                ann_ids = torch.full((n,), -1, dtype=torch.long, device=self.device)
            if not (classes.shape[0] == ann_ids.shape[0] == n == len(inst)):
                raise GroundTruthError(
                    f"{type(self).__name__}: image {_image_name(x)} has {n} gt_points but "
                    f"{classes.shape[0]} gt_classes / {ann_ids.shape[0]} gt_ann_ids"
                )
            inst.gt_points, inst.gt_classes, inst.gt_ann_ids = points, classes, ann_ids
            out.append(inst)
        return out

    @staticmethod
    def log_scalar(name: str, value: float) -> None:
        """Put a scalar into Detectron2's current event storage (nothing outside a trainer)."""
        try:
            storage = get_event_storage()
        except (AssertionError, IndexError):  # no EventStorage outside a trainer
            return
        storage.put_scalar(name, value)
