"""CenterNet meta-architecture (Zhou et al. 2019; SIOD, Li et al. CVPR 2022, Sec. 3.1, Eq. 1, 2, 5).

Backbone (stride 32) -> :class:`CenterNetNeck` (stride 4, 64 channels: the feature F that
DMiner reads) -> :class:`CenterNetHead`. Training: Gaussian centre heat-maps with the CornerNet
radius, the penalty-reduced focal loss (Eq. 5), L1 size and offset losses at the centre cells
(lambda_size 0.1, lambda_off 1.0); with ``dminer`` set, the heat-map target gains SPLG's pseudo
labels and the loss PGCL's term (Eq. 2). Inference: 3x3 max-pool peaks, top-K (100) over
classes and cells, boxes = (centre + offset) +- size / 2, no NMS.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, Backbone, build_backbone
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances

from pointdet.layers.heatmap import box_heatmap_targets, heatmap_focal_loss

from ..dminer import DMiner
from ..preprocess import ImageInputMixin
from ..dminer.config import dminer_from_config
from .neck import CenterNetHead, CenterNetNeck

__all__ = ["CenterNet", "decode_peaks"]


def decode_peaks(heatmap: Tensor, sizes: Tensor, offsets: Tensor, stride: float, topk: int = 100):
    """Detections of one image from CenterNet's outputs.

    Args:
        heatmap: (K, H, W) class probabilities; sizes, offsets: (2, H, W) in map cells.
        stride: input pixels per cell.
    Returns:
        boxes (k, 4) XYXY in input pixels, scores (k,), classes (k,), k = min(topk, K*H*W), by
        descending score. Only 3x3 local maxima keep their score (the others are 0).
    """
    k, h, w = heatmap.shape
    peaks = F.max_pool2d(heatmap[None], 3, stride=1, padding=1)[0]
    heat = heatmap * (peaks == heatmap)
    scores, index = heat.flatten().topk(min(topk, heat.numel()))
    classes = index // (h * w)
    cell = index % (h * w)
    ys, xs = (cell // w).float(), (cell % w).float()
    size = sizes.flatten(1)[:, cell]
    off = offsets.flatten(1)[:, cell]
    cx, cy = xs + off[0], ys + off[1]
    boxes = torch.stack([cx - size[0] / 2, cy - size[1] / 2, cx + size[0] / 2, cy + size[1] / 2], dim=1) * stride
    return boxes, scores, classes


@META_ARCH_REGISTRY.register()
class CenterNet(ImageInputMixin, nn.Module):
    """CenterNet box detector. Training input: Detectron2's ``DatasetMapper`` dicts
    (``instances.gt_boxes``, ``gt_classes``); output: ``[{"instances": Instances}]`` with
    ``pred_boxes``, ``scores``, ``pred_classes`` in original-image pixels."""

    @configurable
    def __init__(
        self,
        *,
        backbone: Backbone,
        neck: CenterNetNeck,
        head: CenterNetHead,
        num_classes: int,
        in_feature: str = "res5",
        min_overlap: float = 0.7,
        heatmap_weight: float = 1.0,
        size_weight: float = 0.1,
        offset_weight: float = 1.0,
        test_topk: int = 100,
        test_score_thresh: float = 0.0,
        dminer: Optional[DMiner] = None,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        input_format: str = "BGR",
        size_divisibility: int = 32,
    ):
        """
        Args:
            backbone: returns ``in_feature`` (stride 32 for the reference neck).
            neck, head: :class:`CenterNetNeck`, :class:`CenterNetHead`.
            min_overlap: CornerNet radius parameter (0.7).
            heatmap_weight, size_weight, offset_weight: loss weights (1, lambda_size 0.1, lambda_off 1).
            test_topk: detections per image (100); test_score_thresh: drop scores below it.
            dminer: :class:`DMiner` (None: the plain CenterNet, FSOD / SIOD base).
            size_divisibility: inputs are padded to a multiple of it (and of the backbone's),
                32 as the reference, so that the stride-4 map aligns with the input.
        """
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.head = head
        self.num_classes = num_classes
        self.in_feature = in_feature
        self.min_overlap = min_overlap
        self.heatmap_weight = heatmap_weight
        self.size_weight = size_weight
        self.offset_weight = offset_weight
        self.test_topk = test_topk
        self.test_score_thresh = test_score_thresh
        self.dminer = dminer
        self.size_divisibility = max(int(size_divisibility), int(backbone.size_divisibility))
        self.init_image_input(pixel_mean, pixel_std, input_format)
        self.stride = backbone.output_shape()[in_feature].stride / neck.upsampling

    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        c = cfg.MODEL.CENTERNET
        in_channels = backbone.output_shape()[c.IN_FEATURE].channels
        neck = CenterNetNeck(in_channels, c.NECK_CHANNELS, conv=c.NECK_CONV, norm=c.NECK_NORM)
        head = CenterNetHead(neck.out_channels, c.NUM_CLASSES, c.HEAD_CONV, c.HEATMAP_BIAS)
        return {
            "backbone": backbone,
            "neck": neck,
            "head": head,
            "num_classes": c.NUM_CLASSES,
            "in_feature": c.IN_FEATURE,
            "min_overlap": c.MIN_OVERLAP,
            "heatmap_weight": c.HEATMAP_WEIGHT,
            "size_weight": c.SIZE_WEIGHT,
            "offset_weight": c.OFFSET_WEIGHT,
            "test_topk": c.TEST_TOPK,
            "test_score_thresh": c.TEST_SCORE_THRESH,
            "dminer": dminer_from_config(cfg),
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "input_format": cfg.INPUT.FORMAT,
        }

    def image_padding(self):
        """Pad to ``size_divisibility`` (which includes the backbone's), no other constraint."""
        return self.size_divisibility, {}

    def forward(self, batched_inputs: List[Dict]):
        images = self.preprocess_image(batched_inputs)
        feature = self.neck(self.backbone(images.tensor)[self.in_feature])
        heatmap, sizes, offsets = self.head(feature)
        if self.training:
            gt = [x["instances"].to(self.device) for x in batched_inputs]
            return self.losses(feature, heatmap, sizes, offsets, gt)
        results = self.inference(heatmap, sizes, offsets, images.image_sizes)
        out = []
        for r, x, size in zip(results, batched_inputs, images.image_sizes):
            out.append({"instances": detector_postprocess(r, x.get("height", size[0]), x.get("width", size[1]))})
        return out

    def targets(self, gt: List[Instances], height: int, width: int):
        """Per-image :class:`HeatmapTargets` on the (height, width) output map."""
        return [
            box_heatmap_targets(
                g.gt_boxes.tensor, g.gt_classes, self.num_classes, height, width, self.stride, self.min_overlap
            )
            for g in gt
        ]

    def losses(self, feature: Tensor, heatmap: Tensor, sizes: Tensor, offsets: Tensor, gt: List[Instances]):
        """loss_hm (Eq. 5, on Y or Y_bar), loss_size, loss_offset (L1 at the centre cells, summed
        and divided by the number of regressed values + 1e-4 as the reference), and with DMiner
        loss_pgcl. Shapes: feature (N, D, H, W), heatmap (N, K, H, W), sizes/offsets (N, 2, H, W)."""
        n, _, h, w = heatmap.shape
        targets = self.targets(gt, h, w)
        y = torch.stack([t.heatmap for t in targets])
        if self.dminer is None:
            losses = {"loss_hm": heatmap_focal_loss(heatmap, y)}
        else:
            centers = [t.centers[t.valid] for t in targets]
            classes = [t.classes[t.valid] for t in targets]
            losses = self.dminer.losses(feature, heatmap, y, centers, classes)
        losses["loss_hm"] = self.heatmap_weight * losses["loss_hm"]
        pred_size, pred_off, tgt_size, tgt_off = [], [], [], []
        for i, t in enumerate(targets):
            cell = t.centers[t.valid]
            flat = cell[:, 1] * w + cell[:, 0]
            pred_size.append(sizes[i].flatten(1)[:, flat].t())
            pred_off.append(offsets[i].flatten(1)[:, flat].t())
            tgt_size.append(t.sizes[t.valid])
            tgt_off.append(t.offsets[t.valid])
        pred_size, pred_off = torch.cat(pred_size), torch.cat(pred_off)
        denom = pred_size.numel() + 1e-4
        losses["loss_size"] = self.size_weight * F.l1_loss(pred_size, torch.cat(tgt_size), reduction="sum") / denom
        losses["loss_offset"] = self.offset_weight * F.l1_loss(pred_off, torch.cat(tgt_off), reduction="sum") / denom
        return losses

    @torch.no_grad()
    def inference(self, heatmap: Tensor, sizes: Tensor, offsets: Tensor, image_sizes) -> List[Instances]:
        """Top-K peak detections per image, in the padded input's pixels."""
        results = []
        probs = heatmap.sigmoid()
        for p, s, o, size in zip(probs, sizes, offsets, image_sizes):
            boxes, scores, classes = decode_peaks(p, s, o, self.stride, self.test_topk)
            keep = scores >= self.test_score_thresh
            r = Instances(size)
            r.pred_boxes = Boxes(boxes[keep])
            r.scores = scores[keep]
            r.pred_classes = classes[keep]
            results.append(r)
        return results
