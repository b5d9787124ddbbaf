"""SAPNet (Wei et al., "Semantic-aware SAM for Point-Prompted Instance Segmentation", CVPR 2024).

Training (Fig. 2): each annotated point comes with a bag of M mask proposals (SAM masks and
their tight boxes, from a proposal file). The PSM (Sec. 3.2) scores the bag by MIL with point
distance guidance (Eq. 1-3) and picks box_psm; the PNPG (Sec. 3.3) builds a positive bag around
it (Eq. 4) and background / part negatives; the PRM (Sec. 3.3, Eq. 5-8) re-scores the positive
bag, picks a box and refines it by the Box Mining Strategy (Supp. Alg. 2) into box_prm. The SAM
mask whose box best overlaps box_prm supervises the SOLOv2 branch, helped by three other
proposal masks (Multi-mask Proposal Supervision, Sec. 3.4, Eq. 11). Total loss Eq. 9:
L = L_mask + L_cls + lambda L_psm + L_prm, trained end to end.

Inference runs the SOLOv2 branch only: a SAPNet checkpoint loads into a plain
:class:`~pointdet.modeling.solov2.SOLOv2` (the MIL head's weights are left out).
"""
import logging
from typing import Dict, List, NamedTuple, Sequence

import torch
import torch.nn.functional as F

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.structures import Boxes
from detectron2.utils.events import get_event_storage
from torchvision.ops import box_iou

from pointdet.layers.mil import mil_bag_scores, mil_loss, negative_loss
from pointdet.layers.vectorized_roi_align import ROIPooler

from ..solov2.solov2 import SOLOv2
from .functions import (
    background_negative_valid,
    box_mining,
    mps_indices,
    part_negatives,
    point_distance_guidance,
    positive_proposals,
    random_negative_boxes,
)
from .mil_head import SAPNetMILHead

__all__ = ["SAPNet", "SAPNetSelection"]

logger = logging.getLogger(__name__)

PDG_MODES = ("paper", "reference")
NEG_NORMALIZERS = ("negatives", "bags")


class SAPNetSelection(NamedTuple):
    """Per-object selection results of one batch (objects of all images, in input order)."""

    top1_psm: torch.Tensor  # (N,) index of the PSM's top proposal in the SAM bag
    box_psm: torch.Tensor  # (N, 4) box_psm (XYXY, input pixels)
    box_prm: torch.Tensor  # (N, 4) box_prm after BMS
    mask_index: torch.Tensor  # (N,) SAM proposal whose box best overlaps box_prm (Mask_prm)
    prm_scores: torch.Tensor  # (N, M) PRM scores of the M SAM proposals at the object's class
    bag_weight: torch.Tensor  # (N,) PSM bag score at the object's class (detached)


@META_ARCH_REGISTRY.register()
class SAPNet(SOLOv2):
    """SOLOv2 trained from point prompts and SAM proposal bags through the PSM / PNPG / PRM branch.

    Training input per image (``PointDatasetMapper`` with ``object_proposals=True`` and
    ``object_proposal_masks=True``): ``instances`` with ``gt_points`` (N, 2), ``gt_classes``,
    ``gt_proposal_boxes`` (N, M, 4), ``gt_proposal_valid`` (N, M), ``gt_proposal_masks``
    (N, M, H, W). Output: ``loss_mask``, ``loss_cls`` (SOLOv2), ``loss_psm``, ``loss_prm_pos``,
    ``loss_prm_neg`` (the last two only with the PRM). Eval mode: SOLOv2's output.
    """

    @configurable
    def __init__(
        self,
        *,
        mil_head: SAPNetMILHead,
        roi_in_features: Sequence[str] = ("p2", "p3", "p4", "p5", "p6"),
        pooler_resolution: int = 7,
        pdg_mode: str = "paper",
        pdg_exponent: float = 0.015,
        pdg_distance_power: float = 1.0,
        psm_weight: float = 0.25,
        prm_alpha: float = 0.25,
        prm_focal_gamma: float = 2.0,
        neg_normalizer: str = "negatives",
        num_random_negatives: int = 500,
        neg_iou_thresh: float = 0.3,
        part_neg_iou_thresh: float = 0.5,
        part_neg_min_area: float = 4096.0,
        ppg_num_enlarge: int = 15,
        ppg_enlarge_step: float = 0.01,
        ppg_num_adaptive: int = 5,
        ppg_adaptive_step: float = 0.005,
        bms_t_min1: float = 0.6,
        bms_t_min2: float = 0.3,
        bms_topk: int = 3,
        bms_contain_slack: float = 0.0,
        bms_in_psm: bool = False,
        mps_weight: float = 0.25,
        mps_mode: str = "paper",
        use_prm: bool = True,
        **solov2_kwargs,
    ):
        """
        Args:
            mil_head: :class:`SAPNetMILHead` (PSM and PRM branches).
            roi_in_features: FPN levels for RoIAlign (P2-P6, Detectron2's canonical level
                mapping, which equals the reference's finest-scale-56 rule).
            pooler_resolution: RoIAlign output (7).
            pdg_mode: "paper": S_dis multiplies the instance scores used for the PSM bag score
                and the selection (Eq. 3); "reference": it multiplies the PSM class logits of
                the loss only.
            pdg_exponent, pdg_distance_power: d (0.015) and the distance's power (1; reference 0.5).
            psm_weight: lambda (0.25, Eq. 9).
            prm_alpha: alpha (0.25, Eq. 8); prm_focal_gamma: the PRM focal gamma (2).
            neg_normalizer: "negatives" (|U|, Eq. 7) or "bags" (the number of positive bags, reference).
            num_random_negatives, neg_iou_thresh, part_neg_iou_thresh, part_neg_min_area: NPG
                (500, T_neg1 0.3, T_neg2 0.5, objects > 64x64 px).
            ppg_*: PPG (15 enlargements by 0.01, 5 adaptive boxes by v = 0.005).
            bms_*: BMS thresholds (0.6 / 0.3), top-k candidates by PRM score (3), containment
                slack (0 px), and whether the PSM selection is mined too (reference: yes).
            mps_weight, mps_mode: gamma of Eq. 11 (0.25; 0 = no MPS) and the auxiliary choice.
            use_prm: the PNPG + PRM stage; False is the single-MIL baseline (Table 1 "MIL-SOLOv2",
                Table 4 "mil1"): box_psm is final (with ``pdg_exponent=0``, ``bms_in_psm=False``).
            solov2_kwargs: arguments of :class:`SOLOv2`.
        """
        super().__init__(**solov2_kwargs)
        if pdg_mode not in PDG_MODES:
            raise ValueError(f"SAPNet: pdg_mode must be one of {PDG_MODES}, got {pdg_mode!r}")
        if neg_normalizer not in NEG_NORMALIZERS:
            raise ValueError(f"SAPNet: neg_normalizer must be one of {NEG_NORMALIZERS}, got {neg_normalizer!r}")
        shapes = self.backbone.output_shape()
        self.roi_in_features = list(roi_in_features)
        self.pooler = ROIPooler(
            output_size=pooler_resolution,
            scales=[1.0 / shapes[f].stride for f in self.roi_in_features],
            sampling_ratio=0,
            pooler_type="ROIAlignV2",
        )
        self.mil_head = mil_head
        self.pdg_mode = pdg_mode
        self.pdg_exponent = pdg_exponent
        self.pdg_distance_power = pdg_distance_power
        self.psm_weight = psm_weight
        self.prm_alpha = prm_alpha
        self.prm_focal_gamma = prm_focal_gamma
        self.neg_normalizer = neg_normalizer
        self.num_random_negatives = num_random_negatives
        self.neg_iou_thresh = neg_iou_thresh
        self.part_neg_iou_thresh = part_neg_iou_thresh
        self.part_neg_min_area = part_neg_min_area
        self.ppg = dict(
            num_enlarge=ppg_num_enlarge, enlarge_step=ppg_enlarge_step,
            num_adaptive=ppg_num_adaptive, adaptive_step=ppg_adaptive_step,
        )
        self.bms = dict(t_min1=bms_t_min1, t_min2=bms_t_min2, contain_slack=bms_contain_slack)
        self.bms_topk = bms_topk
        self.bms_in_psm = bms_in_psm
        self.mps_weight = mps_weight
        self.mps_mode = mps_mode
        self.use_prm = bool(use_prm)

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        c = cfg.MODEL.SAPNET
        shapes = ret["backbone"].output_shape()
        channels = shapes[c.ROI_IN_FEATURES[0]].channels
        ret.update(
            mil_head=SAPNetMILHead(
                input_shape=ShapeSpec(channels=channels, height=c.POOLER_RESOLUTION, width=c.POOLER_RESOLUTION),
                num_classes=cfg.MODEL.SOLOV2.NUM_CLASSES,
                fc_dim=c.FC_DIM,
            ),
            roi_in_features=c.ROI_IN_FEATURES,
            pooler_resolution=c.POOLER_RESOLUTION,
            pdg_mode=c.PDG_MODE,
            pdg_exponent=c.PDG_EXPONENT,
            pdg_distance_power=c.PDG_DISTANCE_POWER,
            psm_weight=c.PSM_WEIGHT,
            prm_alpha=c.PRM_ALPHA,
            prm_focal_gamma=c.PRM_FOCAL_GAMMA,
            neg_normalizer=c.NEG_NORMALIZER,
            num_random_negatives=c.NUM_RANDOM_NEGATIVES,
            neg_iou_thresh=c.NEG_IOU_THRESH,
            part_neg_iou_thresh=c.PART_NEG_IOU_THRESH,
            part_neg_min_area=c.PART_NEG_MIN_AREA,
            ppg_num_enlarge=c.PPG_NUM_ENLARGE,
            ppg_enlarge_step=c.PPG_ENLARGE_STEP,
            ppg_num_adaptive=c.PPG_NUM_ADAPTIVE,
            ppg_adaptive_step=c.PPG_ADAPTIVE_STEP,
            bms_t_min1=c.BMS_T_MIN1,
            bms_t_min2=c.BMS_T_MIN2,
            bms_topk=c.BMS_TOPK,
            bms_contain_slack=c.BMS_CONTAIN_SLACK,
            bms_in_psm=c.BMS_IN_PSM,
            mps_weight=c.MPS_WEIGHT,
            mps_mode=c.MPS_MODE,
            use_prm=c.USE_PRM,
        )
        return ret

    # ------------------------------------------------------------------ inputs
    REQUIRED = ("gt_points", "gt_classes", "gt_proposal_boxes", "gt_proposal_valid", "gt_proposal_masks")

    def check_ground_truth(self, batched_inputs: List[Dict]) -> None:
        """Raise a ValueError naming the image when a training input lacks a point / proposal field."""
        for x in batched_inputs:
            name = x.get("image_id", x.get("file_name", "?"))
            if "instances" not in x:
                raise ValueError(f"SAPNet: training input of image {name} has no 'instances'")
            inst = x["instances"]
            missing = [f for f in self.REQUIRED if not inst.has(f)]
            if len(inst) and missing:
                raise ValueError(
                    f"SAPNet: instances of image {name} lack {'/'.join(missing)} (fields: {list(inst.get_fields())}); "
                    f"use PointDatasetMapper(object_proposals=True, object_proposal_masks=True) with a proposal file"
                )

    def _objects(self, batched_inputs):
        """Per image (points (N,2), classes (N,), boxes (N,M,4), valid (N,M), masks (N,M,H,W)) on the device."""
        out = []
        for x in batched_inputs:
            inst = x["instances"].to(self.device)
            if len(inst) == 0:
                out.append(None)
                continue
            pts = inst.gt_points
            pts = (pts.tensor if hasattr(pts, "tensor") else pts).float().reshape(-1, 2)
            out.append(
                (pts, inst.gt_classes.long(), inst.gt_proposal_boxes.float(), inst.gt_proposal_valid.bool(),
                 inst.gt_proposal_masks.bool())
            )
        return out

    # ------------------------------------------------------------------ training
    def forward(self, batched_inputs: List[Dict]):
        if not self.training:
            return super().forward(batched_inputs)
        self.check_ground_truth(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        features, mask_feat, cates, kernels = self.predict(images)
        objs = self._objects(batched_inputs)
        losses, sel = self.selection_losses(features, objs, images.image_sizes)
        padded = tuple(images.tensor.shape[-2:])
        main, aux = self.mask_targets_from_selection(objs, sel, padded)
        losses.update(self.losses(mask_feat, cates, kernels, main))
        if self.mps_weight > 0 and aux:
            aux_losses = [self.losses(mask_feat, cates, kernels, t, mask_only=True)["loss_mask"] for t in aux]
            losses["loss_mask"] = losses["loss_mask"] + self.mps_weight * sum(aux_losses) / len(aux_losses)
        return losses

    @torch.no_grad()
    def select(self, batched_inputs: List[Dict]) -> List[Dict[str, torch.Tensor]]:
        """The pseudo labels SAPNet would train with, per image (training inputs, any mode).

        Returns per image ``{"ann_ids" (N,), "box_prm" (N, 4) XYXY in input-image pixels,
        "box_psm" (N, 4), "mask_index" (N,) Mask_prm's proposal, "top1_psm" (N,)}``.
        """
        self.check_ground_truth(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        features, _, _, _ = self.predict(images)
        objs = self._objects(batched_inputs)
        _, sel = self.selection_losses(features, objs, images.image_sizes)
        out, start = [], 0
        for x, o in zip(batched_inputs, objs):
            n = 0 if o is None else o[0].shape[0]
            inst = x["instances"]
            ids = inst.gt_ann_ids if inst.has("gt_ann_ids") else torch.full((n,), -1, dtype=torch.long)
            sl = slice(start, start + n)
            out.append(dict(ann_ids=ids.cpu(), box_prm=sel.box_prm[sl].cpu(), box_psm=sel.box_psm[sl].cpu(),
                            mask_index=sel.mask_index[sl].cpu(), top1_psm=sel.top1_psm[sl].cpu()))
            start += n
        return out

    def _pool(self, features, boxes_per_image: List[torch.Tensor]) -> torch.Tensor:
        """(sum R_b, fc_dim) MIL embeddings of boxes (R_b, 4) per image."""
        feats = self.pooler([features[f] for f in self.roi_in_features], [Boxes(b) for b in boxes_per_image])
        return self.mil_head(feats)

    def selection_losses(self, features, objs, image_sizes):
        """PSM, PNPG and PRM over all objects of the batch: their losses and :class:`SAPNetSelection`."""
        dev = self.device
        K = self.num_classes
        present = [o for o in objs if o is not None]
        M = max([o[2].shape[1] for o in present], default=1)
        n_per = [0 if o is None else o[0].shape[0] for o in objs]

        def pad_m(t, fill):
            return F.pad(t, (0, 0, 0, M - t.shape[1]), value=fill) if t.dim() == 3 else F.pad(t, (0, M - t.shape[1]), value=fill)

        boxes = [pad_m(o[2], 0.0) if o is not None else torch.zeros(0, M, 4, device=dev) for o in objs]
        valid = [pad_m(o[3], False) if o is not None else torch.zeros(0, M, dtype=torch.bool, device=dev) for o in objs]
        classes = torch.cat([o[1] if o is not None else torch.zeros(0, dtype=torch.long, device=dev) for o in objs])
        N = classes.shape[0]
        all_boxes, all_valid = torch.cat(boxes), torch.cat(valid)
        rows = torch.arange(N, device=dev)

        # ---- PSM (Sec. 3.2, Eq. 1-3)
        h0 = self._pool(features, [b.reshape(-1, 4) for b in boxes])
        h0 = h0.view(N, M, h0.shape[-1])
        cls0, ins0 = self.mil_head.psm_cls(h0), self.mil_head.psm_ins(h0)
        s_dis = torch.ones(N, M, device=dev)
        s_raw = torch.ones(N, M, device=dev)
        start = 0
        for o, n in zip(objs, n_per):
            if n:
                sd, sr = point_distance_guidance(
                    all_boxes[start : start + n], o[0], o[1],
                    exponent=self.pdg_exponent, distance_power=self.pdg_distance_power,
                )
                s_dis[start : start + n], s_raw[start : start + n] = sd, sr
            start += n
        onehot0 = F.one_hot(classes, K + 1).to(h0.dtype)
        if self.pdg_mode == "paper":
            mil0 = mil_bag_scores(cls0, ins0, all_valid, activation="softmax")
            inst0 = mil0.instance_scores * s_dis[..., None]
            bag0 = inst0.sum(1)
        else:  # reference: S_dis scales the logits of the loss; the selection uses the plain scores
            mil0 = mil_bag_scores(cls0 * s_dis[..., None], ins0, all_valid, activation="softmax")
            bag0 = mil0.bag_scores
            inst0 = mil_bag_scores(cls0, ins0, all_valid, activation="softmax").instance_scores
        zero = h0.sum() * 0.0 + cls0.sum() * 0.0 + ins0.sum() * 0.0
        norm = max(N, 1)
        loss_psm = mil_loss(bag0, onehot0, normalizer=norm, gamma=0.0) if N else zero
        score0 = inst0[rows, :, classes].detach().masked_fill(~all_valid, -1.0)  # (N, M)
        top0 = score0.argmax(1) if N else torch.zeros(0, dtype=torch.long, device=dev)
        box_psm = all_boxes[rows, top0]
        bag_weight = bag0[rows, classes].detach() if N else torch.zeros(0, device=dev)
        if self.bms_in_psm and N:
            box_psm = self._mine(box_psm, score0, all_boxes, all_valid)

        if self.use_prm:
            # ---- PNPG (Sec. 3.3, Eq. 4)
            ppg = positive_proposals(box_psm.detach(), s_raw[rows, top0], **self.ppg)
            bag1 = torch.cat([all_boxes, ppg], dim=1)
            valid1 = torch.cat([all_valid, torch.ones(ppg.shape[:2], dtype=torch.bool, device=dev)], dim=1)
            M1 = bag1.shape[1]
            negs, neg_valid = [], []
            start = 0
            for b, n in enumerate(n_per):
                nb = random_negative_boxes(image_sizes[b], self.num_random_negatives, device=dev)
                img_props = all_boxes[start : start + n][all_valid[start : start + n]]
                nv = background_negative_valid(nb, img_props, self.neg_iou_thresh)
                if n:
                    parts, keep = part_negatives(
                        all_boxes[start : start + n][torch.arange(n, device=dev), top0[start : start + n]],
                        min_area=self.part_neg_min_area, iou_thresh=self.part_neg_iou_thresh,
                    )
                    nb, nv = torch.cat([nb, parts]), torch.cat([nv, keep])
                negs.append(nb)
                neg_valid.append(nv)
                start += n

            # ---- PRM (Sec. 3.3, Eq. 5-8)
            start = 0
            pos_lists = []
            for n in n_per:  # the SAM boxes' embeddings are the PSM's (same boxes, same features)
                pos_lists.append(ppg[start : start + n].reshape(-1, 4))
                start += n
            emb = self._pool(features, [torch.cat([p, q]) for p, q in zip(pos_lists, negs)])
            pos_emb, neg_emb = [], []
            offset = 0
            for p, q in zip(pos_lists, negs):
                pos_emb.append(emb[offset : offset + len(p)])
                neg_emb.append(emb[offset + len(p) : offset + len(p) + len(q)])
                offset += len(p) + len(q)
            h1 = torch.cat([h0, torch.cat(pos_emb).view(N, M1 - M, emb.shape[-1])], dim=1)
            cls1, ins1 = self.mil_head.prm_cls(h1), self.mil_head.prm_ins(h1)
            mil1 = mil_bag_scores(cls1, ins1, valid1, activation="sigmoid")
            onehot1 = F.one_hot(classes, K).to(h1.dtype)
            zero = zero + h1.sum() * 0.0 + cls1.sum() * 0.0 + ins1.sum() * 0.0
            loss_pos = (
                mil_loss(mil1.bag_scores, onehot1, bag_weights=bag_weight, normalizer=norm, gamma=self.prm_focal_gamma)
                if N
                else zero
            )
            neg_logits = self.mil_head.prm_cls(torch.cat(neg_emb))
            neg_mask = torch.cat(neg_valid)
            if self.neg_normalizer == "negatives":
                neg_norm = neg_mask.sum().clamp(min=1).to(h1.dtype)
            else:
                neg_norm = float(norm)
            beta = bag_weight.mean() if N else torch.zeros((), device=dev)
            loss_neg = negative_loss(neg_logits, neg_mask[:, None], normalizer=neg_norm, gamma=self.prm_focal_gamma) * beta
            loss_neg = loss_neg + neg_logits.sum() * 0.0

            score1 = mil1.instance_scores[rows, :, classes].detach().masked_fill(~valid1, -1.0)  # (N, M1)
            top1 = score1.argmax(1) if N else torch.zeros(0, dtype=torch.long, device=dev)
            box_prm = self._mine(bag1[rows, top1], score1, bag1, valid1) if N else torch.zeros(0, 4, device=dev)
        else:  # single MIL (Table 4 row 1): the PSM's choice is final
            score1, box_prm = score0, box_psm
            loss_pos = loss_neg = None
        if N:
            ious = box_iou(box_prm, all_boxes.reshape(-1, 4)).view(N, N, M)[rows, rows]  # (N, M)
            mask_index = ious.masked_fill(~all_valid, -1.0).argmax(1)
        else:
            mask_index = torch.zeros(0, dtype=torch.long, device=dev)
        losses = {"loss_psm": self.psm_weight * (loss_psm + zero)}
        if self.use_prm:
            losses["loss_prm_pos"] = self.prm_alpha * (loss_pos + zero)
            losses["loss_prm_neg"] = (1 - self.prm_alpha) * loss_neg
        sel = SAPNetSelection(top0, box_psm.detach(), box_prm.detach(), mask_index, score1[:, :M], bag_weight)
        self._log_selection(sel)
        return losses, sel

    def _mine(self, selected, scores, bag, valid):
        """BMS with the top-k proposals of each bag by ``scores`` (N, M') as candidates."""
        k = min(self.bms_topk, bag.shape[1])
        top = scores.topk(k, dim=1).indices
        cands = torch.gather(bag, 1, top[..., None].expand(-1, -1, 4))
        return box_mining(selected, cands, torch.gather(valid, 1, top), **self.bms)

    def mask_targets_from_selection(self, objs, sel: SAPNetSelection, padded):
        """SOLOv2 targets per image: (box_prm, Mask_prm, classes), and the MPS auxiliary target lists."""
        dev = self.device
        main, aux = [], [[], [], []]
        use_mps = self.mps_weight > 0
        if use_mps:
            valid_all = torch.cat(
                [F.pad(o[3], (0, sel.prm_scores.shape[1] - o[3].shape[1])) for o in objs if o is not None]
            ) if any(o is not None for o in objs) else None
            aux_idx = (
                mps_indices(sel.prm_scores, sel.mask_index, valid_all, mode=self.mps_mode)
                if valid_all is not None
                else None
            )
        start = 0
        for o in objs:
            if o is None:
                empty = (torch.zeros(0, 4, device=dev), torch.zeros((0,) + padded, dtype=torch.bool, device=dev),
                         torch.zeros(0, dtype=torch.long, device=dev))
                main.append(empty)
                for a in aux:
                    a.append(empty)
                continue
            n = o[0].shape[0]
            masks = o[4]
            h, w = masks.shape[-2:]
            masks = F.pad(masks, (0, padded[1] - w, 0, padded[0] - h))
            r = torch.arange(n, device=dev)
            idx = sel.mask_index[start : start + n]
            main.append((sel.box_prm[start : start + n], masks[r, idx], o[1]))
            if use_mps:
                for j, a in enumerate(aux):
                    ij = aux_idx[start : start + n, j]
                    m = masks[r, ij.clamp(min=0)] & (ij >= 0)[:, None, None]  # -1: an empty mask, skipped
                    a.append((sel.box_prm[start : start + n], m, o[1]))
            start += n
        return main, (aux if use_mps else [])

    @staticmethod
    def _log_selection(sel: SAPNetSelection) -> None:
        try:
            storage = get_event_storage()
        except (AssertionError, IndexError):
            return
        if sel.bag_weight.numel():
            storage.put_scalar("sapnet/psm_bag_score", float(sel.bag_weight.mean()))
