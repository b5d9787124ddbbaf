"""SOLOv2 meta-architecture (Wang et al., NeurIPS 2020): category grid + dynamic mask kernels over
FPN levels, unified mask features, Dice + focal losses (Sec. 3.3) and Matrix NMS (Sec. 4.3.1).

Target assignment (SOLO Sec. 3.1, as the reference codes): an object goes to every level whose
scale range holds sqrt(w * h) of its box; its positive cells are those of its centre region
(the mask's centre of mass +- pos_scale * box size / 2), at most 3 x 3 around the centre cell.
Boxes and masks are passed in explicitly (:meth:`SOLOv2.losses`) so that SAPNet can supervise
with its pseudo boxes and selected proposal masks.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from fvcore.nn import sigmoid_focal_loss
from torch import nn

from detectron2.config import configurable
from detectron2.modeling import Backbone, META_ARCH_REGISTRY, build_backbone
from detectron2.structures import BitMasks, Boxes, ImageList, Instances, PolygonMasks

from pointdet.layers.dice_loss import dice_loss
from pointdet.layers.matrix_nms import matrix_nms

from ..backbone.imagenet import IMAGENET_RGB_PIXEL_MEAN, IMAGENET_RGB_PIXEL_STD
from ..preprocess import ImageInputMixin
from .head import SOLOv2InsHead, SOLOv2MaskFeatHead

__all__ = ["SOLOv2", "solov2_level_targets", "mask_centers", "gt_masks_as_tensor"]

logger = logging.getLogger(__name__)


def solov2_level_targets(
    boxes: torch.Tensor,
    masks: torch.Tensor,
    labels: torch.Tensor,
    num_grid: int,
    scale_range: Tuple[float, float],
    pos_scale: float,
    num_classes: int,
    centers: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Category targets and positive cells of one level for one image.

    Args:
        boxes: (N, 4) XYXY in padded-image pixels (scale by sqrt(w * h), centre-region size).
        masks: (N, H, W) bool masks on the padded image (centre of mass); empty masks are skipped.
        labels: (N,) classes in [0, K).
        num_grid: S.
        scale_range: (lower, upper) on sqrt(w * h), both inclusive.
        pos_scale: epsilon, the centre region's size relative to the box.
        num_classes: K, the background label.
        centers: (N, 2) (x, y) centres of mass of ``masks`` (:func:`mask_centers`), NaN for empty
            masks; computed here when None.
    Returns:
        cate: (S*S,) int64 labels (K = background); owner: (S*S,) int64 index of the object whose
        mask a positive cell predicts (-1 elsewhere; a later object overwrites an earlier one).
    """
    dev = boxes.device
    cate = [num_classes] * (num_grid * num_grid)
    owner = [-1] * (num_grid * num_grid)
    if boxes.shape[0] == 0:
        return torch.tensor(cate, dtype=torch.long, device=dev), torch.tensor(owner, dtype=torch.long, device=dev)
    H, W = masks.shape[-2:]
    wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0)
    areas = torch.sqrt(wh[:, 0] * wh[:, 1])
    lower, upper = scale_range
    if centers is None:
        centers = mask_centers(masks)
    hit = ((areas >= lower) & (areas <= upper) & ~torch.isnan(centers[:, 0])).nonzero().flatten().tolist()
    cxy, whl, lab = centers.tolist(), wh.tolist(), labels.tolist()
    for i in hit:
        cx, cy = cxy[i]
        half_w = 0.5 * whl[i][0] * pos_scale
        half_h = 0.5 * whl[i][1] * pos_scale

        def cell(v, size):
            return int(v / size * num_grid)  # floor for v >= 0

        coord_w, coord_h = cell(cx, W), cell(cy, H)
        top_box = max(0, cell(max(cy - half_h, 0.0), H))
        down_box = min(num_grid - 1, cell(cy + half_h, H))
        left_box = max(0, cell(max(cx - half_w, 0.0), W))
        right_box = min(num_grid - 1, cell(cx + half_w, W))
        top, down = max(top_box, coord_h - 1), min(down_box, coord_h + 1)
        left, right = max(coord_w - 1, left_box), min(right_box, coord_w + 1)
        for r in range(top, down + 1):
            for c in range(left, right + 1):
                cate[r * num_grid + c] = lab[i]
                owner[r * num_grid + c] = i
    return torch.tensor(cate, dtype=torch.long, device=dev), torch.tensor(owner, dtype=torch.long, device=dev)


def mask_centers(masks: torch.Tensor) -> torch.Tensor:
    """(N, 2) (x, y) centres of mass of (N, H, W) masks in pixel-index units (as
    ``scipy.ndimage.center_of_mass``, the reference's); NaN for an empty mask."""
    m = masks.float()
    total = m.sum((1, 2))
    ys = torch.arange(m.shape[1], device=m.device, dtype=m.dtype)
    xs = torch.arange(m.shape[2], device=m.device, dtype=m.dtype)
    cy = (m.sum(2) * ys).sum(1) / total
    cx = (m.sum(1) * xs).sum(1) / total
    out = torch.stack([cx, cy], dim=1)
    out[total <= 0] = float("nan")
    return out


def gt_masks_as_tensor(gt_masks, padded_hw: Tuple[int, int], image_hw: Tuple[int, int]) -> torch.Tensor:
    """(N, Hp, Wp) bool masks on the padded image from ``BitMasks``/``PolygonMasks``/a tensor."""
    if isinstance(gt_masks, PolygonMasks):
        gt_masks = BitMasks.from_polygon_masks(gt_masks, image_hw[0], image_hw[1])
    t = gt_masks.tensor if isinstance(gt_masks, BitMasks) else torch.as_tensor(gt_masks)
    t = t.bool()
    h, w = t.shape[-2:]
    return F.pad(t, (0, padded_hw[1] - w, 0, padded_hw[0] - h))


@META_ARCH_REGISTRY.register()
class SOLOv2(ImageInputMixin, nn.Module):
    """SOLOv2 instance segmentation.

    Input per image: ``image`` (C, H, W) and in training ``instances`` with ``gt_boxes``,
    ``gt_masks`` (BitMasks, PolygonMasks or (N, H, W) tensor) and ``gt_classes``.
    Output in training: ``{"loss_mask", "loss_cls"}``; in eval mode per image
    ``{"instances": Instances}`` with ``pred_masks`` (R, height, width) bool, ``scores``,
    ``pred_classes`` and ``pred_boxes`` (the masks' tight boxes, so that both the bbox and the
    segm COCO evaluations work).
    """

    @configurable
    def __init__(
        self,
        *,
        backbone: Backbone,
        ins_head: SOLOv2InsHead,
        mask_head: SOLOv2MaskFeatHead,
        num_classes: int,
        in_features: Sequence[str],
        mask_in_features: Sequence[str],
        num_grids: Sequence[int],
        scale_ranges: Sequence[Sequence[float]],
        strides: Sequence[float],
        pos_scale: float = 0.2,
        dice_weight: float = 3.0,
        focal_weight: float = 1.0,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
        nms_pre: int = 500,
        score_thresh: float = 0.1,
        mask_thresh: float = 0.5,
        filter_thresh: float = 0.05,
        nms_kernel: str = "gaussian",
        nms_sigma: float = 2.0,
        max_per_image: int = 100,
        pixel_mean: Sequence[float] = IMAGENET_RGB_PIXEL_MEAN,
        pixel_std: Sequence[float] = IMAGENET_RGB_PIXEL_STD,
        input_format: str = "RGB",
    ):
        """
        Args:
            backbone: FPN backbone with ``in_features`` and ``mask_in_features``.
            ins_head: category / kernel branches, grids ``num_grids``.
            mask_head: mask-feature branch over ``mask_in_features`` (finest first).
            num_classes: K.
            num_grids, scale_ranges, strides: per level of ``in_features``: S, the (lower,
                upper) range of sqrt(w * h), and the stride for the mask-area filter.
            pos_scale: centre-region scale epsilon (0.2).
            dice_weight, focal_weight, focal_alpha, focal_gamma: loss weights (3, 1) and focal
                parameters (0.25, 2).
            nms_pre, score_thresh, mask_thresh, filter_thresh, nms_kernel, nms_sigma,
                max_per_image: inference (500, 0.1, 0.5, 0.05, gaussian, 2.0, 100).
            pixel_mean, pixel_std, input_format: normalisation in the images' channel order.
        """
        super().__init__()
        n = len(in_features)
        if not (len(num_grids) == len(scale_ranges) == len(strides) == n):
            raise ValueError(
                f"SOLOv2: {n} in_features but {len(num_grids)} grids, {len(scale_ranges)} scale ranges, "
                f"{len(strides)} strides"
            )
        shapes = backbone.output_shape()
        for f in list(in_features) + list(mask_in_features):
            if f not in shapes:
                raise KeyError(f"SOLOv2: backbone has no feature {f!r}; it outputs {sorted(shapes)}")
        self.backbone = backbone
        self.ins_head = ins_head
        self.mask_head = mask_head
        self.num_classes = int(num_classes)
        self.in_features = list(in_features)
        self.mask_in_features = list(mask_in_features)
        self.mask_stride = shapes[self.mask_in_features[0]].stride
        self.num_grids = [int(s) for s in num_grids]
        self.scale_ranges = [tuple(float(v) for v in r) for r in scale_ranges]
        self.strides = [float(s) for s in strides]
        self.pos_scale = pos_scale
        self.dice_weight = dice_weight
        self.focal_weight = focal_weight
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.nms_pre = nms_pre
        self.score_thresh = score_thresh
        self.mask_thresh = mask_thresh
        self.filter_thresh = filter_thresh
        self.nms_kernel = nms_kernel
        self.nms_sigma = nms_sigma
        self.max_per_image = max_per_image
        self.init_image_input(pixel_mean, pixel_std, input_format)

    @classmethod
    def from_config(cls, cfg):
        c = cfg.MODEL.SOLOV2
        backbone = build_backbone(cfg)
        shapes = backbone.output_shape()
        ins_head = SOLOv2InsHead(
            in_channels=shapes[c.IN_FEATURES[0]].channels,
            num_classes=c.NUM_CLASSES,
            num_grids=c.NUM_GRIDS,
            kernel_out_channels=c.MASK_OUT_CHANNELS,
            feat_channels=c.FEAT_CHANNELS,
            stacked_convs=c.STACKED_CONVS,
            norm=c.NORM,
            num_groups=c.NUM_GROUPS,
            prior_prob=c.PRIOR_PROB,
        )
        mask_head = SOLOv2MaskFeatHead(
            in_channels=shapes[c.MASK_IN_FEATURES[0]].channels,
            num_levels=len(c.MASK_IN_FEATURES),
            feat_channels=c.MASK_FEAT_CHANNELS,
            out_channels=c.MASK_OUT_CHANNELS,
            norm=c.NORM,
            num_groups=c.NUM_GROUPS,
        )
        return {
            "backbone": backbone,
            "ins_head": ins_head,
            "mask_head": mask_head,
            "num_classes": c.NUM_CLASSES,
            "in_features": c.IN_FEATURES,
            "mask_in_features": c.MASK_IN_FEATURES,
            "num_grids": c.NUM_GRIDS,
            "scale_ranges": c.SCALE_RANGES,
            "strides": c.STRIDES,
            "pos_scale": c.POS_SCALE,
            "dice_weight": c.LOSS.DICE_WEIGHT,
            "focal_weight": c.LOSS.FOCAL_WEIGHT,
            "focal_alpha": c.LOSS.FOCAL_ALPHA,
            "focal_gamma": c.LOSS.FOCAL_GAMMA,
            "nms_pre": c.TEST.NMS_PRE,
            "score_thresh": c.TEST.SCORE_THRESH,
            "mask_thresh": c.TEST.MASK_THRESH,
            "filter_thresh": c.TEST.FILTER_THRESH,
            "nms_kernel": c.TEST.NMS_KERNEL,
            "nms_sigma": c.TEST.NMS_SIGMA,
            "max_per_image": c.TEST.MAX_PER_IMAGE,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "input_format": cfg.INPUT.FORMAT,
        }

    def predict(self, images: ImageList):
        """Backbone and heads: mask features (B, E, Hm, Wm), L category logits, L kernel maps."""
        features = self.backbone(images.tensor)
        mask_feat = self.mask_head([features[f] for f in self.mask_in_features])
        cates, kernels = self.ins_head([features[f] for f in self.in_features])
        return features, mask_feat, cates, kernels

    def forward(self, batched_inputs: List[Dict]):
        if self.training:
            self.check_ground_truth(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        _, mask_feat, cates, kernels = self.predict(images)
        if not self.training:
            return self.inference(batched_inputs, images, mask_feat, cates, kernels)
        return self.losses(mask_feat, cates, kernels, self.mask_targets(batched_inputs, images))

    @staticmethod
    def check_ground_truth(batched_inputs: List[Dict]) -> None:
        """Raise a ValueError naming the image when a training input lacks instances or masks."""
        for x in batched_inputs:
            if "instances" not in x:
                raise ValueError(f"SOLOv2: training input of image {x.get('image_id', '?')} has no 'instances'")
            inst = x["instances"]
            if len(inst) and not inst.has("gt_masks"):
                raise ValueError(
                    f"SOLOv2: instances of image {x.get('image_id', '?')} have no gt_masks "
                    f"(fields: {list(inst.get_fields())}); load the dataset with masks"
                )

    def mask_targets(self, batched_inputs: List[Dict], images: ImageList):
        """Per image (gt boxes (N, 4), gt masks (N, Hp, Wp) bool on the padded image, classes (N,))."""
        padded = tuple(images.tensor.shape[-2:])
        targets = []
        for x, hw in zip(batched_inputs, images.image_sizes):
            inst = x["instances"].to(self.device)
            n = len(inst)
            masks = (
                gt_masks_as_tensor(inst.gt_masks, padded, hw).to(self.device)
                if n
                else torch.zeros((0,) + padded, dtype=torch.bool, device=self.device)
            )
            targets.append((inst.gt_boxes.tensor if n else torch.zeros(0, 4, device=self.device), masks, inst.gt_classes))
        return targets

    # ------------------------------------------------------------------ training
    def assign(self, targets: List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]], mask_hw: Tuple[int, int]):
        """Per level, per image: (category targets (S*S,), owner (S*S,)) and the masks resized to the
        mask-feature size ``mask_hw`` (N, Hm, Wm) float."""
        centers = [mask_centers(m) for _, m, _ in targets]
        per_level = []
        for s, rng in zip(self.num_grids, self.scale_ranges):
            per_level.append(
                [
                    solov2_level_targets(b, m, l, s, rng, self.pos_scale, self.num_classes, c)
                    for (b, m, l), c in zip(targets, centers)
                ]
            )
        small = []
        for _, m, _ in targets:
            if m.shape[0] == 0:
                small.append(m.new_zeros((0,) + tuple(mask_hw), dtype=torch.float32))
                continue
            r = F.interpolate(m[:, None].float(), size=mask_hw, mode="bilinear", align_corners=False)[:, 0]
            small.append((r > 0.5).float())
        return per_level, small

    def losses(
        self,
        mask_feat: torch.Tensor,
        cates: List[torch.Tensor],
        kernels: List[torch.Tensor],
        targets: List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        mask_only: bool = False,
    ) -> Dict[str, torch.Tensor]:
        """Dice mask loss (mean over positive cells, x ``dice_weight``) and the focal category loss
        (sum / (positives + 1), x ``focal_weight``) (SOLOv2 Sec. 3.3).

        Args:
            mask_feat: (B, E, Hm, Wm) mask features at ``mask_stride``.
            cates, kernels: per level (B, K, S, S) and (B, E, S, S).
            targets: per image (boxes (N, 4) XYXY, masks (N, Hp, Wp) bool on the padded image,
                classes (N,)).
            mask_only: return only ``loss_mask`` (SAPNet's multi-mask supervision).
        """
        per_level, small = self.assign(targets, tuple(mask_feat.shape[-2:]))
        pred_masks, tgt_masks, cate_targets = [], [], []
        for lvl, level_targets in enumerate(per_level):
            for b, (cate, owner) in enumerate(level_targets):
                cate_targets.append(cate)
                pos = (owner >= 0).nonzero().flatten()
                if pos.numel() == 0:
                    continue
                k = kernels[lvl][b].flatten(1)[:, pos].t()  # (P, E)
                pred_masks.append(torch.einsum("pe,ehw->phw", k, mask_feat[b]))
                tgt_masks.append(small[b][owner[pos]])
        zero = mask_feat.sum() * 0.0 + sum(k.sum() for k in kernels) * 0.0 + sum(c.sum() for c in cates) * 0.0
        if pred_masks:
            pm, tm = torch.cat(pred_masks), torch.cat(tgt_masks)
            loss_mask = dice_loss(torch.sigmoid(pm), tm).mean() * self.dice_weight + zero
            num_pos = pm.shape[0]
        else:
            loss_mask, num_pos = zero, 0
        if mask_only:
            return {"loss_mask": loss_mask}
        # category targets in level-major, then image, then cell order, as the logits below
        logits = torch.cat([c.permute(0, 2, 3, 1).reshape(-1, self.num_classes) for c in cates])
        labels = torch.cat(cate_targets)
        onehot = torch.zeros_like(logits)
        fg = labels < self.num_classes
        onehot[fg.nonzero().flatten(), labels[fg]] = 1.0
        fl = sigmoid_focal_loss(logits, onehot, alpha=self.focal_alpha, gamma=self.focal_gamma, reduction="sum")
        loss_cls = fl / (num_pos + 1) * self.focal_weight
        return {"loss_mask": loss_mask, "loss_cls": loss_cls}

    # ------------------------------------------------------------------ inference
    def inference(self, batched_inputs, images: ImageList, mask_feat, cates, kernels) -> List[Dict[str, Instances]]:
        """Per image ``{"instances": ...}`` at the input's ``height``/``width`` (its image size if absent)."""
        results = []
        for b, x in enumerate(batched_inputs):
            h, w = images.image_sizes[b]
            out_h, out_w = x.get("height", h), x.get("width", w)
            results.append(
                {"instances": self.inference_single(mask_feat[b], [c[b] for c in cates], [k[b] for k in kernels], (h, w), (out_h, out_w))}
            )
        return results

    def inference_single(self, mask_feat, cates, kernels, image_hw, out_hw) -> Instances:
        """SOLOv2 inference for one image: local-max category scores, dynamic masks, area filter,
        maskness rescoring, Matrix NMS, top ``max_per_image``.

        Args:
            mask_feat: (E, Hm, Wm); cates: L tensors (K, S, S); kernels: L tensors (E, S, S).
            image_hw: the image's size inside the padded batch; out_hw: output size.
        """
        K = self.num_classes
        scores_l, kernels_l, strides_l = [], [], []
        for c, k, stride in zip(cates, kernels, self.strides):
            prob = torch.sigmoid(c)
            hmax = F.max_pool2d(prob[None], 2, stride=1, padding=1)[0, :, :-1, :-1]
            prob = prob * (hmax == prob)  # 2x2 local maxima (the reference's points_nms)
            scores_l.append(prob.permute(1, 2, 0).reshape(-1, K))
            kernels_l.append(k.flatten(1).t())
            strides_l.append(torch.full((prob.shape[1] * prob.shape[2],), stride, device=c.device))
        scores = torch.cat(scores_l)
        kern = torch.cat(kernels_l)
        strides = torch.cat(strides_l)
        out = Instances(tuple(out_hw))
        cells, labels = (scores > self.score_thresh).nonzero(as_tuple=True)
        cand = scores[cells, labels]
        masks = None
        if cand.numel():
            seg = torch.sigmoid(torch.einsum("pe,ehw->phw", kern[cells], mask_feat))
            binary = seg > self.mask_thresh
            sum_masks = binary.flatten(1).sum(1).float()
            keep = sum_masks > strides[cells]
            seg, binary, sum_masks, cand, labels = seg[keep], binary[keep], sum_masks[keep], cand[keep], labels[keep]
            if cand.numel():
                maskness = (seg * binary).flatten(1).sum(1) / sum_masks
                cand = cand * maskness
                order = torch.argsort(cand, descending=True)[: self.nms_pre]
                seg, binary, sum_masks, cand, labels = seg[order], binary[order], sum_masks[order], cand[order], labels[order]
                cand = matrix_nms(binary, labels, cand, kernel=self.nms_kernel, sigma=self.nms_sigma, mask_areas=sum_masks)
                keep = cand >= self.filter_thresh
                seg, cand, labels = seg[keep], cand[keep], labels[keep]
                order = torch.argsort(cand, descending=True)[: self.max_per_image]
                seg, cand, labels = seg[order], cand[order], labels[order]
                if cand.numel():
                    h, w = image_hw
                    up = F.interpolate(seg[None], scale_factor=self.mask_stride, mode="bilinear", align_corners=False)
                    up = up[:, :, :h, :w]
                    up = F.interpolate(up, size=tuple(out_hw), mode="bilinear", align_corners=False)[0]
                    masks = up > self.mask_thresh
        if masks is None:
            masks = torch.zeros((0,) + tuple(out_hw), dtype=torch.bool, device=self.device)
            cand = torch.zeros(0, device=self.device)
            labels = torch.zeros(0, dtype=torch.long, device=self.device)
        out.pred_masks = masks
        out.scores = cand
        out.pred_classes = labels
        out.pred_boxes = BitMasks(masks).get_bounding_boxes() if len(masks) else Boxes(torch.zeros(0, 4, device=self.device))
        return out
