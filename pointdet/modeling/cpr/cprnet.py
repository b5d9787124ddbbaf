"""CPRNet: point-bag MIL network of Coarse Point Refinement (Yu et al. CVPR 2022, Sec. 3.2-3.3).

Training (Alg. 1): for each annotated point a_j, a bag B_j of circle points (Eq. 1) is
classified by MIL (Eq. 4-7), the annotated point by a focal loss (Eq. 8-9), and cells far from
every annotated point of a class are negatives of that class (Eq. 2, 10). The total loss is
Eq. 3 scaled by the reference's 0.25.

Inference: CPRNet does not detect; it *refines the given annotated points* (Alg. 2) with
:func:`pointdet.modeling.cpr.refinement.refine_points`, under the rules of one injected
:class:`~pointdet.modeling.cpr.refinement.CPRRefinementParams`.
"""
import logging
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from fvcore.nn import sigmoid_focal_loss
from torch import nn

from detectron2.config import configurable
from detectron2.modeling import Backbone, META_ARCH_REGISTRY, build_backbone
from detectron2.structures import Instances

from pointdet.modeling.backbone.imagenet import IMAGENET_RGB_PIXEL_MEAN, IMAGENET_RGB_PIXEL_STD
from pointdet.layers.image_bounds import points_inside_image
from pointdet.layers.mil import mil_bag_scores, mil_loss, negative_loss
from pointdet.layers.point_bags import (
    bag_points,
    circle_bag_offsets,
    class_negative_mask,
    padded_image_sizes,
    sample_point_features,
)

from ..point_model import PointModel
from .cpr_head import CPRHead
from .refinement import CPRRefinementParams, refine_points

__all__ = ["CPRNet"]

logger = logging.getLogger(__name__)


@META_ARCH_REGISTRY.register()
class CPRNet(PointModel):
    """Coarse point refinement network.

    Input per image (a dict from pointdet's ``PointDatasetMapper``): ``image`` (C, H, W) and
    ``instances`` with ``gt_points`` (N, 2) in input-image pixels, ``gt_classes`` (N,) and
    optionally ``gt_ann_ids`` (N,); ``height``/``width`` of the original image.

    Output in training: a dict of losses ``loss_mil``, ``loss_ann``, ``loss_neg`` (and
    ``loss_pos`` with the all-positive ablation). In eval mode: per image
    ``{"instances": Instances}`` (see :meth:`refine`).
    """

    @configurable
    def __init__(
        self,
        *,
        backbone: Backbone,
        head: nn.Module,
        num_classes: int,
        in_feature: str = "p3",
        bag_radius: int = 8,
        refine_bag_radius: Optional[int] = None,
        circle_density: int = 8,
        append_center: bool = True,
        mil_loss_weight: float = 0.25,
        annotation_loss_weight: float = 0.125,
        negative_loss_weight: float = 0.75,
        all_positive_loss_weight: float = 0.25,
        focal_gamma: float = 2.0,
        focal_eps: float = 1e-6,
        use_mil_loss: bool = True,
        use_annotation_loss: bool = True,
        use_negative_loss: bool = True,
        use_all_positive_loss: bool = False,
        refinement: CPRRefinementParams = CPRRefinementParams(),
        pixel_mean=IMAGENET_RGB_PIXEL_MEAN,
        pixel_std=IMAGENET_RGB_PIXEL_STD,
        input_format: str = "RGB",
    ):
        """
        Args:
            backbone: a Detectron2 (FPN) backbone; ``in_feature`` must be one of its outputs.
            head: a :class:`CPRHead` (tower + ``cls_logits`` / ``ins_logits``).
            num_classes: K.
            in_feature: the single feature level used ("p3" stride 8 for COCO, "p2" for tiny objects).
            bag_radius: R, number of circles, in feature cells (paper 8 on P3).
            refine_bag_radius: R of the bags used by the refinement (the reference's separate
                ``refine_pts_extractor``); None = ``bag_radius``, as in every reference config.
            circle_density: u0, points on the first circle (paper 8).
            append_center: the bag also contains the annotated point (reference code).
            mil_loss_weight, annotation_loss_weight, negative_loss_weight: Eq. 3 weights
                (paper 1 / 0.5 / 3, scaled by the reference's 0.25).
            all_positive_loss_weight: weight of the Table 2 "pos loss" (every valid bag point is a
                positive), used when ``use_all_positive_loss``.
            focal_gamma, focal_eps: focal loss gamma (2) and the probability-space epsilon.
            use_*_loss: loss switches (Table 2).
            refinement: the refinement rules (Alg. 2, Table 4c), see :class:`CPRRefinementParams`.
            pixel_mean, pixel_std: normalisation in ``input_format`` channel order.
            input_format: "RGB" or "BGR" (the images' channel order).
        """
        super().__init__(
            backbone=backbone, in_feature=in_feature, pixel_mean=pixel_mean, pixel_std=pixel_std, input_format=input_format
        )
        self.head = head
        self.num_classes = int(num_classes)
        self.bag_radius = int(bag_radius)
        self.refine_bag_radius = self.bag_radius if refine_bag_radius is None else int(refine_bag_radius)
        if self.bag_radius < 1 or self.refine_bag_radius < 1:
            raise ValueError(
                f"CPRNet: bag radii must be >= 1 feature cell, got {self.bag_radius} / {self.refine_bag_radius}"
            )
        self.circle_density = int(circle_density)
        self.append_center = bool(append_center)
        self.mil_loss_weight = mil_loss_weight
        self.annotation_loss_weight = annotation_loss_weight
        self.negative_loss_weight = negative_loss_weight
        self.all_positive_loss_weight = all_positive_loss_weight
        self.focal_gamma = focal_gamma
        self.focal_eps = focal_eps
        self.use_mil_loss = use_mil_loss
        self.use_annotation_loss = use_annotation_loss
        self.use_negative_loss = use_negative_loss
        self.use_all_positive_loss = use_all_positive_loss
        if not (use_mil_loss or use_annotation_loss or use_negative_loss or use_all_positive_loss):
            raise ValueError("CPRNet: every loss is switched off")
        if not isinstance(refinement, CPRRefinementParams):
            raise TypeError(f"CPRNet: refinement must be a CPRRefinementParams, got {type(refinement).__name__}")
        self.refinement = refinement
        offsets = circle_bag_offsets(self.bag_radius, self.circle_density, append_center=True)
        self.register_buffer("bag_offsets", offsets, False)  # (U+1, 2), annotated point last
        offsets = circle_bag_offsets(self.refine_bag_radius, self.circle_density, append_center=True)
        self.register_buffer("refine_bag_offsets", offsets, False)  # the same for the refinement

    @classmethod
    def from_config(cls, cfg):
        c = cfg.MODEL.CPR
        backbone = build_backbone(cfg)
        head = CPRHead(cfg, backbone.output_shape()[c.IN_FEATURE])
        return {
            "backbone": backbone,
            "head": head,
            "num_classes": c.NUM_CLASSES,
            "in_feature": c.IN_FEATURE,
            "bag_radius": c.BAG_RADIUS,
            "refine_bag_radius": c.REFINE.BAG_RADIUS,
            "circle_density": c.CIRCLE_DENSITY,
            "append_center": c.APPEND_CENTER,
            "mil_loss_weight": c.LOSS.MIL_WEIGHT,
            "annotation_loss_weight": c.LOSS.ANNOTATION_WEIGHT,
            "negative_loss_weight": c.LOSS.NEGATIVE_WEIGHT,
            "all_positive_loss_weight": c.LOSS.ALL_POSITIVE_WEIGHT,
            "focal_gamma": c.LOSS.FOCAL_GAMMA,
            "focal_eps": c.LOSS.FOCAL_EPS,
            "use_mil_loss": c.LOSS.USE_MIL,
            "use_annotation_loss": c.LOSS.USE_ANNOTATION,
            "use_negative_loss": c.LOSS.USE_NEGATIVE,
            "use_all_positive_loss": c.LOSS.USE_ALL_POSITIVE,
            "refinement": CPRRefinementParams.from_config(cfg),
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "input_format": cfg.INPUT.FORMAT,
        }

    @property
    def refine_kwargs(self) -> Dict[str, object]:
        """The refinement rules as a plain dict (provenance of refined files)."""
        return self.refinement.as_dict()

    # ------------------------------------------------------------------ common
    def _bag_offsets(self, refine: bool = False) -> torch.Tensor:
        """(U, 2) training (or refinement) bag offsets; the annotated point last iff ``append_center``."""
        offsets = self.refine_bag_offsets if refine else self.bag_offsets
        return offsets if self.append_center else offsets[:-1]

    def _gt(self, batched_inputs: List[Dict]):
        """Per image: annotated points (N, 2), classes (N,), annotation ids (N,) on the device."""
        gts = self.ground_truth(batched_inputs)
        return [g.gt_points for g in gts], [g.gt_classes for g in gts], [g.gt_ann_ids for g in gts]

    def forward(self, batched_inputs: List[Dict]):
        """Losses in training mode; refined points (:meth:`refine`) in eval mode."""
        if not self.training:
            return self.refine(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        tower = self.head(self.backbone(images.tensor)[self.in_feature])
        pts, cls, _ = self._gt(batched_inputs)
        pad_hw = padded_image_sizes(
            images.image_sizes, self.backbone.size_divisibility, images.tensor.shape[-2:], device=self.device
        )
        return self.losses(tower, pts, cls, pad_hw)

    # ------------------------------------------------------------------ training
    def losses(
        self,
        tower: torch.Tensor,
        points_per_image: List[torch.Tensor],
        classes_per_image: List[torch.Tensor],
        pad_hw: torch.Tensor,
    ) -> Dict[str, torch.Tensor]:
        """CPR losses (Eq. 3, 7, 9, 10).

        Args:
            tower: (B, C, H, W) head tower features F.
            points_per_image: B tensors (N_b, 2), annotated points in input-image pixels.
            classes_per_image: B tensors (N_b,) classes in [0, K).
            pad_hw: (B, 2) padded (height, width) per image: points outside are invalid.
        Normalisation (reference code): MIL and negative terms by M = max(#bags with a valid point, 1)
        of this (per-device) batch, the annotation term by max(#valid annotated points, 1), the
        all-positive term by max(#valid bag points, 1).
        """
        B, C, H, W = tower.shape
        K = self.num_classes
        gamma = self.focal_gamma
        points = torch.cat(points_per_image, dim=0) if B else tower.new_zeros((0, 2))
        classes = torch.cat(classes_per_image, dim=0) if B else torch.zeros((0,), dtype=torch.long)
        batch_idx = torch.cat(
            [torch.full((len(p),), b, dtype=torch.long, device=tower.device) for b, p in enumerate(points_per_image)]
        )
        P = points.shape[0]
        offsets = self._bag_offsets()
        U = offsets.shape[0]
        bags = bag_points(points, offsets, self.stride)  # (P, U, 2)
        valid = points_inside_image(bags, pad_hw[batch_idx][:, None, :])  # (P, U)
        feats = sample_point_features(tower, bags.view(-1, 2), batch_idx.repeat_interleave(U), self.stride)
        feats = feats.view(P, U, C)
        cls_logits = self.head.cls_logits(feats)  # (P, U, K)
        onehot = F.one_hot(classes, K).to(tower.dtype)  # (P, K)
        # keeps every parameter in the graph for images without points
        zero = tower.sum() * 0.0

        mil = mil_bag_scores(cls_logits, self.head.ins_logits(feats), valid)
        bag_scores, bag_valid = mil.bag_scores, mil.bag_valid
        M = bag_valid.sum().clamp(min=1).to(tower.dtype)
        out = {}
        if self.use_mil_loss:  # Eq. 7, bags without a valid point have weight 0
            loss = mil_loss(bag_scores, onehot, bag_valid.to(tower.dtype), M, gamma=gamma, eps=self.focal_eps)
            out["loss_mil"] = self.mil_loss_weight * (loss + zero)
        if self.use_annotation_loss:  # Eq. 8-9, S_a at the annotated point
            if self.append_center:
                ann_logits, ann_valid = cls_logits[:, -1], valid[:, -1]
            else:
                ann_valid = points_inside_image(points, pad_hw[batch_idx])
                ann_logits = self.head.cls_logits(sample_point_features(tower, points, batch_idx, self.stride))
            fl = sigmoid_focal_loss(ann_logits, onehot, alpha=-1, gamma=gamma, reduction="none").sum(-1)
            n_ann = ann_valid.sum().clamp(min=1).to(tower.dtype)
            out["loss_ann"] = self.annotation_loss_weight * ((fl * ann_valid).sum() / n_ann + zero)
        if self.use_negative_loss:  # Eq. 2 and 10
            neg = class_negative_mask(
                points_per_image, classes_per_image, (H, W), self.stride, K, self.bag_radius, pad_hw
            )  # (B, H, W, K)
            cell_logits = self.head.cls_logits(tower.permute(0, 2, 3, 1))  # (B, H, W, K)
            out["loss_neg"] = self.negative_loss_weight * negative_loss(cell_logits, neg, M, gamma=gamma)
        if self.use_all_positive_loss:  # Table 2 "pos loss": every valid bag point is a positive
            target = onehot[:, None, :].expand_as(cls_logits)
            fl = sigmoid_focal_loss(cls_logits, target, alpha=-1, gamma=gamma, reduction="none").sum(-1)
            n_pts = valid.sum().clamp(min=1).to(tower.dtype)
            out["loss_pos"] = self.all_positive_loss_weight * ((fl * valid).sum() / n_pts + zero)
        with torch.no_grad():
            if bool(bag_valid.any()):
                acc = (bag_scores.argmax(dim=1) == classes)[bag_valid].float().mean().item()
                self.log_scalar("cpr/bag_acc", acc)
        return out

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def refine(self, batched_inputs: List[Dict], return_bags: bool = False) -> List[Dict[str, Instances]]:
        """Refine the annotated points of each image (Alg. 2).

        Returns, per image, ``{"instances": Instances}`` of the original image size
        (``height``/``width`` of the input, else the input-image size) with fields
        ``pred_points`` (N, 2) refined points in original-image pixels, ``scores`` (N,)
        refinement score (mean class score of the kept bag points, 0 if none),
        ``pred_classes`` (N,), ``ann_ids`` (N,) (-1 when the input had none), ``coarse_points``
        (N, 2) the annotated points in original-image pixels, ``refined`` (N,) bool (False: the
        point was kept as annotated). With ``return_bags`` also ``bag_points`` (N, U, 2) in
        original pixels, ``bag_scores`` (N, U) S_{p,k_j} and ``bag_keep`` (N, U) bool (B_j^+).
        """
        images = self.preprocess_image(batched_inputs)
        tower = self.head(self.backbone(images.tensor)[self.in_feature])
        pts_list, cls_list, ids_list = self._gt(batched_inputs)
        pad_hw = padded_image_sizes(
            images.image_sizes, self.backbone.size_divisibility, images.tensor.shape[-2:], device=self.device
        )
        offsets = self._bag_offsets(refine=True)
        U = offsets.shape[0]
        C = tower.shape[1]
        include_a = self.refinement.always_include_annotated
        results = []
        for b, (pts, cls, ids) in enumerate(zip(pts_list, cls_list, ids_list)):
            N = pts.shape[0]
            bidx = torch.full((N,), b, dtype=torch.long, device=self.device)
            bags = bag_points(pts, offsets, self.stride)
            valid = points_inside_image(bags, pad_hw[b].view(1, 1, 2))
            feats = sample_point_features(tower, bags.view(-1, 2), bidx.repeat_interleave(U), self.stride)
            scores = torch.sigmoid(self.head.cls_logits(feats.view(N, U, C)))  # (N, U, K)
            if self.append_center:
                ann_scores = scores[:, -1]
            else:
                ann_scores = torch.sigmoid(self.head.cls_logits(sample_point_features(tower, pts, bidx, self.stride)))
            # paper mode: a_j enters B_j^+ by itself, so the bag passed on excludes it
            sl = slice(0, U - 1) if (include_a and self.append_center) else slice(0, U)
            h, w = images.image_sizes[b]
            res = refine_points(
                pts, cls, bags[:, sl], scores[:, sl], valid[:, sl], ann_scores, (h, w), self.refinement
            )
            x = batched_inputs[b]
            out_h, out_w = int(x.get("height", h)), int(x.get("width", w))
            scale = pts.new_tensor([out_w / float(w), out_h / float(h)])
            inst = Instances((out_h, out_w))
            inst.pred_points = res["points"] * scale
            inst.scores = res["scores"]
            inst.pred_classes = cls
            inst.ann_ids = ids
            inst.coarse_points = pts * scale
            inst.refined = res["refined"]
            if return_bags:
                inst.bag_points = bags[:, sl] * scale
                inst.bag_scores = scores[:, sl].gather(2, cls.view(N, 1, 1).expand(N, bags[:, sl].shape[1], 1))[..., 0]
                inst.bag_keep = res["keep"]
            results.append({"instances": inst})
        return results
