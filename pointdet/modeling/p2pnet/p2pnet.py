"""Multi-class P2PNet point localizer (CPR paper Sec. 4.2, "P2PNet" baseline).

P2PNet (Song et al., ICCV 2021) predicts, at every cell of one FPN level, class scores and an
offset from the cell's anchor point. The CPR paper's multi-class variant differs from the
original in four points, all implemented here: a ResNet-50-FPN backbone; a sigmoid focal loss
for classification; a smooth-L1 loss for regression; top-k (k=5) positives per GT by repeated
Hungarian matching (:mod:`.matcher`) followed by point NMS at inference
(:func:`pointdet.layers.point_nms`).

Anchor points: pointdet puts the single anchor of cell (i, j) at ((j + 0.5) s, (i + 0.5) s),
the cell centre in Detectron2's continuous pixel convention. The reference (mmdet
``PointGenerator``) uses (j s, i s); set ``anchor_offsets=((0.0, 0.0),)`` to reproduce it.
Since the offset is regressed, the difference only shifts the initial prediction by s/2.
"""
import logging
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from fvcore.nn import sigmoid_focal_loss_jit, smooth_l1_loss
from torch import Tensor, nn

from detectron2.config import configurable
from detectron2.layers import ShapeSpec, get_norm
from detectron2.modeling import Backbone, META_ARCH_REGISTRY, build_backbone
from detectron2.modeling.meta_arch.dense_detector import permute_to_N_HWA_K
from detectron2.structures import Boxes, Instances

from pointdet.layers.point_nms import point_nms, points_to_pseudo_boxes

from ..point_model import PointModel
from .matcher import point_match_cost, topk_hungarian_match

__all__ = ["P2PHead", "P2PNet", "point_grid"]

logger = logging.getLogger(__name__)


class P2PHead(nn.Module):
    """
    Two separate towers (classification, point regression) of ``num_convs`` 3x3 conv + norm +
    ReLU, then a 3x3 conv to ``K*A`` class logits and a 3x3 conv to ``2*A`` point offsets
    (in units of the stride). No loss logic lives here.
    """

    def __init__(
        self,
        *,
        input_shape: ShapeSpec,
        num_classes: int,
        num_anchor_points: int = 1,
        num_convs: int = 4,
        conv_dims: Optional[int] = 256,
        norm="GN",
        prior_prob: float = 0.01,
    ):
        """
        Args:
            input_shape: shape of the single input feature map.
            num_classes: K.
            num_anchor_points: A, anchor points per cell.
            num_convs: convs per tower (reference: 4; 3 for DOTA).
            conv_dims: channels of the tower convs (None: the input's channels).
            norm: normalization after each tower conv (see :func:`detectron2.layers.get_norm`;
                "GN" is GroupNorm with 32 groups, as the reference). "" for none.
            prior_prob: prior probability for the classification bias (-log((1-p)/p)).
        """
        super().__init__()
        in_channels = input_shape.channels
        conv_dims = in_channels if conv_dims is None else int(conv_dims)
        self.num_classes = num_classes
        self.num_anchor_points = num_anchor_points
        cls_tower, reg_tower = [], []
        for i in range(num_convs):
            c_in = in_channels if i == 0 else conv_dims
            for tower in (cls_tower, reg_tower):
                tower.append(nn.Conv2d(c_in, conv_dims, 3, padding=1, bias=not norm))
                if norm:
                    tower.append(get_norm(norm, conv_dims))
                tower.append(nn.ReLU())
        last = conv_dims if num_convs > 0 else in_channels
        self.cls_tower = nn.Sequential(*cls_tower)
        self.reg_tower = nn.Sequential(*reg_tower)
        self.cls_score = nn.Conv2d(last, num_anchor_points * num_classes, 3, padding=1)
        self.point_pred = nn.Conv2d(last, num_anchor_points * 2, 3, padding=1)

        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, mean=0.0, std=0.01)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0.0)
        nn.init.constant_(self.cls_score.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feature: Tensor) -> Tuple[Tensor, Tensor]:
        """
        Args:
            feature: (N, C, Hi, Wi).

        Returns:
            cls_logits: (N, A*K, Hi, Wi).
            point_deltas: (N, A*2, Hi, Wi), offsets from the anchor points in strides.
        """
        return self.cls_score(self.cls_tower(feature)), self.point_pred(self.reg_tower(feature))


def point_grid(
    height: int, width: int, stride: int, offsets: Sequence[Sequence[float]], device=None
) -> Tensor:
    """
    Anchor points of a (height, width) feature map.

    Args:
        offsets: A pairs (ox, oy) in units of the stride; anchor of cell (i, j) is
            ((j + ox) * stride, (i + oy) * stride).

    Returns:
        (height * width * A, 2) float tensor of (x, y) in input-image pixels, ordered
        (row i, column j, anchor a) like Detectron2's ``permute_to_N_HWA_K``.
    """
    ys = torch.arange(height, dtype=torch.float32, device=device)
    xs = torch.arange(width, dtype=torch.float32, device=device)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    base = torch.stack([xx, yy], dim=-1).reshape(-1, 1, 2)  # (HW, 1, 2)
    off = torch.as_tensor(offsets, dtype=torch.float32, device=device).reshape(1, -1, 2)
    return ((base + off) * stride).reshape(-1, 2)


@META_ARCH_REGISTRY.register()
class P2PNet(PointModel):
    """
    Multi-class P2PNet localizer. Training input: dicts from pointdet's ``PointDatasetMapper``
    with ``instances.gt_points`` (N, 2) in input-image pixels and ``instances.gt_classes``.
    Output: ``[{"instances": Instances}]`` with ``pred_points`` (N, 2), ``scores`` (N,),
    ``pred_classes`` (N,) and ``pred_boxes`` (the NMS pseudo boxes), all in original-image
    pixels (the "height"/"width" of the input dict).
    """

    @configurable
    def __init__(
        self,
        *,
        backbone: Backbone,
        head: nn.Module,
        num_classes: int,
        in_feature: str = "p3",
        anchor_offsets: Sequence[Sequence[float]] = ((0.5, 0.5),),
        match_topk: int = 5,
        match_cls_weight: float = 2.0,
        match_dist_weight: float = 0.1,
        focal_loss_alpha: float = 0.25,
        focal_loss_gamma: float = 2.0,
        cls_loss_weight: float = 1.0,
        smooth_l1_beta: float = 1.0 / 9.0,
        reg_loss_weight: float = 0.5,
        test_topk_candidates: int = 1000,
        test_score_thresh: float = 0.05,
        test_nms_box_size: float = 32,
        test_nms_thresh: float = 0.01,
        max_detections_per_image: int = 100,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        input_format: str = "BGR",
    ):
        """
        Args:
            backbone: a Detectron2 backbone producing ``in_feature``.
            head: :class:`P2PHead` (or any module with its interface) for that feature.
            num_classes: K.
            in_feature: the single feature map used ("p3": stride 8, COCO; "p2": SeaPerson;
                "p4": DOTA).
            anchor_offsets: A anchor points per cell in strides (module docstring).
            match_topk: k, positives per GT (repeated Hungarian matching).
            match_cls_weight, match_dist_weight: matching cost weights (2.0 focal, 0.1 L1 px).
            focal_loss_alpha, focal_loss_gamma: sigmoid focal loss (and matching cost) params.
            cls_loss_weight: weight of the focal loss.
            smooth_l1_beta: beta of the smooth-L1 loss on points / stride (1/9).
            reg_loss_weight: weight of the smooth-L1 loss (0.5).
            test_topk_candidates: cells kept by max class score before thresholding (nms_pre).
            test_score_thresh: minimum class score of an output point.
            test_nms_box_size: pseudo-box side (original-image px) for point NMS (32).
            test_nms_thresh: pseudo-box IoU threshold of point NMS (0.01).
            max_detections_per_image: points kept per image after NMS (100).
            pixel_mean, pixel_std: per-channel normalisation (order of ``input_format``).
            input_format: "BGR" or "RGB".
        """
        super().__init__(
            backbone=backbone, in_feature=in_feature, pixel_mean=pixel_mean, pixel_std=pixel_std, input_format=input_format
        )
        self.head = head
        self.num_classes = num_classes
        self.anchor_offsets = [tuple(float(v) for v in o) for o in anchor_offsets]
        if any(len(o) != 2 for o in self.anchor_offsets) or not self.anchor_offsets:
            raise ValueError(f"anchor_offsets must be a non-empty list of (ox, oy), got {anchor_offsets}")
        self.match_topk = match_topk
        self.match_cls_weight = match_cls_weight
        self.match_dist_weight = match_dist_weight
        self.focal_loss_alpha = focal_loss_alpha
        self.focal_loss_gamma = focal_loss_gamma
        self.cls_loss_weight = cls_loss_weight
        self.smooth_l1_beta = smooth_l1_beta
        self.reg_loss_weight = reg_loss_weight
        self.test_topk_candidates = test_topk_candidates
        self.test_score_thresh = test_score_thresh
        self.test_nms_box_size = test_nms_box_size
        self.test_nms_thresh = test_nms_thresh
        self.max_detections_per_image = max_detections_per_image

    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        p = cfg.MODEL.P2PNET
        input_shape = backbone.output_shape()[p.IN_FEATURE]
        head = P2PHead(
            input_shape=input_shape,
            num_classes=p.NUM_CLASSES,
            num_anchor_points=len(p.ANCHOR_OFFSETS),
            num_convs=p.NUM_CONVS,
            conv_dims=p.CONV_DIMS,
            norm=p.NORM,
            prior_prob=p.PRIOR_PROB,
        )
        return {
            "backbone": backbone,
            "head": head,
            "num_classes": p.NUM_CLASSES,
            "in_feature": p.IN_FEATURE,
            "anchor_offsets": p.ANCHOR_OFFSETS,
            "match_topk": p.MATCH_TOPK,
            "match_cls_weight": p.MATCH_CLS_WEIGHT,
            "match_dist_weight": p.MATCH_DIST_WEIGHT,
            "focal_loss_alpha": p.FOCAL_LOSS_ALPHA,
            "focal_loss_gamma": p.FOCAL_LOSS_GAMMA,
            "cls_loss_weight": p.CLS_LOSS_WEIGHT,
            "smooth_l1_beta": p.SMOOTH_L1_BETA,
            "reg_loss_weight": p.REG_LOSS_WEIGHT,
            "test_topk_candidates": p.TOPK_CANDIDATES_TEST,
            "test_score_thresh": p.SCORE_THRESH_TEST,
            "test_nms_box_size": p.NMS_BOX_SIZE_TEST,
            "test_nms_thresh": p.NMS_THRESH_TEST,
            "max_detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "input_format": cfg.INPUT.FORMAT,
        }

    def forward(self, batched_inputs: List[Dict[str, Tensor]]):
        """
        Args:
            batched_inputs: list of dicts with "image" (C, H, W) and, in training,
                "instances" (``gt_points``, ``gt_classes``); optional "height"/"width" (the
                output resolution at inference).

        Returns:
            training: dict of losses {"loss_cls", "loss_point"}.
            inference: list of {"instances": Instances} in original-image pixels.
        """
        images = self.preprocess_image(batched_inputs)
        feature = self.backbone(images.tensor)[self.in_feature]
        cls_map, delta_map = self.head(feature)
        cls_logits = permute_to_N_HWA_K(cls_map, self.num_classes)  # (N, HWA, K)
        deltas = permute_to_N_HWA_K(delta_map, 2)  # (N, HWA, 2)
        H, W = feature.shape[-2:]
        anchors = point_grid(H, W, self.stride, self.anchor_offsets, device=feature.device)
        pred_points = anchors[None] + deltas * self.stride  # (N, HWA, 2) input-image px
        valid = self.valid_cells(images.image_sizes, H, W)  # (N, HWA) bool

        if self.training:
            gt_instances = self.ground_truth(batched_inputs)
            return self.losses(cls_logits, pred_points, valid, gt_instances)

        results = []
        for i, x in enumerate(batched_inputs):
            in_h, in_w = images.image_sizes[i]
            out_h, out_w = x.get("height", in_h), x.get("width", in_w)
            results.append(
                {
                    "instances": self.inference_single_image(
                        cls_logits[i][valid[i]],
                        pred_points[i][valid[i]],
                        (in_h, in_w),
                        (int(out_h), int(out_w)),
                    )
                }
            )
        return results

    def valid_cells(self, image_sizes: List[Tuple[int, int]], H: int, W: int) -> Tensor:
        """
        (N, H*W*A) bool: cell (i, j) of image n is valid iff i < ceil(h_n / s) and
        j < ceil(w_n / s), i.e. it sees the image and not only batch padding.
        """
        A = len(self.anchor_offsets)
        rows = torch.arange(H, device=self.device)
        cols = torch.arange(W, device=self.device)
        masks = []
        for h, w in image_sizes:
            m = (rows[:, None] < math.ceil(h / self.stride)) & (cols[None, :] < math.ceil(w / self.stride))
            masks.append(m[:, :, None].expand(H, W, A).reshape(-1))
        return torch.stack(masks)

    def label_points(
        self, cls_logits: Tensor, pred_points: Tensor, gt: Instances
    ) -> Tuple[Tensor, Tensor]:
        """
        Top-k Hungarian assignment for one image over its valid cells.

        Args:
            cls_logits: (M, K) logits of the valid cells.
            pred_points: (M, 2) predicted points (input px).
            gt: Instances with ``gt_points`` (G, 2) and ``gt_classes`` (G,); optional
                ``gt_point_valid`` / ``gt_point_ignore`` (G,) bool from ``PointDatasetMapper``.

        Returns:
            labels: (M,) int64, class of each cell, ``num_classes`` for background.
            target_points: (M, 2), matched GT point (only meaningful where labels < K).
        """
        gt_points = gt.gt_points.to(pred_points.dtype)
        gt_classes = gt.gt_classes.long()
        # Points that left the image (mapper's out_of_image="mark") and crowd/ignore points
        # (keep_crowd=True) are not matched: as in the reference, they are plain background.
        keep = torch.ones_like(gt_classes, dtype=torch.bool)
        if gt.has("gt_point_valid"):
            keep &= gt.gt_point_valid.bool()
        if gt.has("gt_point_ignore"):
            keep &= ~gt.gt_point_ignore.bool()
        gt_points, gt_classes = gt_points[keep], gt_classes[keep]
        labels = torch.full(
            (cls_logits.shape[0],), self.num_classes, dtype=torch.long, device=cls_logits.device
        )
        targets = torch.zeros_like(pred_points)
        if len(gt_points) == 0 or cls_logits.shape[0] == 0:
            return labels, targets
        cost = point_match_cost(
            cls_logits,
            pred_points,
            gt_points,
            gt_classes,
            cls_weight=self.match_cls_weight,
            dist_weight=self.match_dist_weight,
            alpha=self.focal_loss_alpha,
            gamma=self.focal_loss_gamma,
        )
        pred_idx, gt_idx = topk_hungarian_match(cost, k=self.match_topk)
        labels[pred_idx] = gt_classes[gt_idx]
        targets[pred_idx] = gt_points[gt_idx]
        return labels, targets

    def losses(
        self, cls_logits: Tensor, pred_points: Tensor, valid: Tensor, gt_instances: List[Instances]
    ) -> Dict[str, Tensor]:
        """
        Args:
            cls_logits: (N, HWA, K); pred_points: (N, HWA, 2) input px; valid: (N, HWA) bool.

        Returns:
            {"loss_cls": sigmoid focal loss over all valid cells / num_pos,
             "loss_point": smooth-L1(pred / s, gt / s) summed over positives and both
             coordinates / num_pos}, num_pos = max(positives in the batch, 1), each times its
            weight.
        """
        all_labels, all_targets = [], []
        for i, gt in enumerate(gt_instances):
            labels, targets = self.label_points(cls_logits[i][valid[i]], pred_points[i][valid[i]], gt)
            all_labels.append(labels)
            all_targets.append(targets)
        labels = torch.cat(all_labels)  # (M_total,)
        targets = torch.cat(all_targets)  # (M_total, 2)
        logits = cls_logits[valid]  # (M_total, K), same order as the per-image concatenation
        points = pred_points[valid]
        pos = labels < self.num_classes
        num_pos = pos.sum().item()
        normalizer = max(float(num_pos), 1.0)
        self.log_scalar("num_pos_points", num_pos / len(gt_instances))

        onehot = nn.functional.one_hot(labels, self.num_classes + 1)[:, :-1].to(logits.dtype)
        loss_cls = sigmoid_focal_loss_jit(
            logits,
            onehot,
            alpha=self.focal_loss_alpha,
            gamma=self.focal_loss_gamma,
            reduction="sum",
        )
        loss_point = smooth_l1_loss(
            points[pos] / self.stride,
            targets[pos] / self.stride,
            beta=self.smooth_l1_beta,
            reduction="sum",
        )
        return {
            "loss_cls": self.cls_loss_weight * loss_cls / normalizer,
            "loss_point": self.reg_loss_weight * loss_point / normalizer,
        }

    def inference_single_image(
        self,
        cls_logits: Tensor,
        pred_points: Tensor,
        image_size: Tuple[int, int],
        output_size: Tuple[int, int],
    ) -> Instances:
        """
        Args:
            cls_logits: (M, K) logits of the image's valid cells.
            pred_points: (M, 2) points in input-image px.
            image_size: (h, w) of the input image (after resize, before padding).
            output_size: (H, W) of the original image.

        Returns:
            Instances of ``output_size`` with ``pred_points``, ``scores``, ``pred_classes``,
            ``pred_boxes`` (pseudo boxes of ``test_nms_box_size`` px, not clipped, so their
            centre is the point), in original-image pixels.
        """
        scores = cls_logits.sigmoid()
        # top nms_pre cells by their max class score
        num_topk = min(self.test_topk_candidates, scores.shape[0])
        _, top = scores.max(dim=1).values.topk(num_topk)
        scores, points = scores[top], pred_points[top]
        cell_idx, classes = torch.nonzero(scores > self.test_score_thresh, as_tuple=True)
        scores, points = scores[cell_idx, classes], points[cell_idx]

        in_h, in_w = image_size
        out_h, out_w = output_size
        x = points[:, 0].clamp(min=0, max=in_w) * (out_w / in_w)
        y = points[:, 1].clamp(min=0, max=in_h) * (out_h / in_h)
        points = torch.stack([x, y], dim=1)
        keep = point_nms(points, scores, classes, self.test_nms_box_size, self.test_nms_thresh)
        keep = keep[: self.max_detections_per_image]

        result = Instances(output_size)
        result.pred_points = points[keep]
        result.scores = scores[keep]
        result.pred_classes = classes[keep]
        result.pred_boxes = Boxes(points_to_pseudo_boxes(points[keep], self.test_nms_box_size))
        return result
