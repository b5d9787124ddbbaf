"""DMiner (SIOD, Li et al. CVPR 2022, Sec. 3, Eq. 2): SPLG + PGCL on a class-wise heat-map branch.

:class:`DMiner` holds the hyper-parameters and turns a batch of (feature map, heat-map logits,
ground-truth heat-maps and centres) into the heat-map focal loss on Y_bar (Eq. 5) and the PGCL
loss (Eq. 6). It has no parameters: CenterNet applies it to its own heat-map head, Faster
R-CNN to the class-wise branch beside the RPN, FCOS to its classification logits per level.

Recipes (``projects/SIOD/README.md``): joint (SPLG + PGCL from the start, the default) or
two-stage (PGCL with ``loss_mask`` first, then SPLG alone fine-tuned at 0.1x the learning rate);
each stage is a config flipping ``use_splg`` / ``use_pgcl`` / ``loss_mask``.
"""
from typing import Dict, List, Optional

import torch

from pointdet.layers.heatmap import heatmap_focal_loss

from .pgcl import PGCL_NORMALIZATIONS, pgcl_loss
from .splg import merge_pseudo_heatmap, splg_pseudo_heatmap

__all__ = ["DMiner"]


def _log_pseudo_statistics(pseudo: torch.Tensor, prefix: str) -> None:
    """Inside a trainer (Detectron2's event storage active): pseudo-labelled cells per image and
    their mean value, for (N, C, H, W) ``pseudo``."""
    from detectron2.utils.events import get_event_storage

    try:
        storage = get_event_storage()
    except AssertionError:  # no storage outside a trainer
        return
    positive = pseudo > 0
    storage.put_scalars(**{
        f"{prefix}dminer/pseudo_cells_per_image": positive.amax(dim=1).sum().item() / max(len(pseudo), 1),
        f"{prefix}dminer/pseudo_mean_value": pseudo[positive].mean().item() if positive.any() else 0.0,
    })


class DMiner:
    """SPLG + PGCL on dense maps.

    Args:
        use_splg: add SPLG's pseudo heat-map to the focal-loss target (Sec. 3.2).
        use_pgcl: add lambda_pgcl * L_pgcl (Sec. 3.3).
        sim_threshold: T_sim (Eq. 4, 0.6). strict_threshold: v > T_sim (paper) instead of >=.
        scale: eta (Eq. 4, 1.0).
        top_m: m latent positives per image (128; FCOS: per level).
        tau: temperature (Eq. 6, 0.07). pgcl_weight: lambda_pgcl (Eq. 2, 0.1).
        pgcl_normalization: "reference" or "paper" (see :mod:`.pgcl`).
        loss_mask: the reference's optional flag: the top-m cells add no negative focal term.
    """

    def __init__(
        self,
        *,
        use_splg: bool = True,
        use_pgcl: bool = True,
        sim_threshold: float = 0.6,
        strict_threshold: bool = False,
        scale: float = 1.0,
        top_m: int = 128,
        tau: float = 0.07,
        pgcl_weight: float = 0.1,
        pgcl_normalization: str = "reference",
        loss_mask: bool = False,
    ):
        if pgcl_normalization not in PGCL_NORMALIZATIONS:
            raise ValueError(f"pgcl_normalization must be one of {PGCL_NORMALIZATIONS}, got {pgcl_normalization!r}")
        self.use_splg = use_splg
        self.use_pgcl = use_pgcl
        self.sim_threshold = sim_threshold
        self.strict_threshold = strict_threshold
        self.scale = scale
        self.top_m = top_m
        self.tau = tau
        self.pgcl_weight = pgcl_weight
        self.pgcl_normalization = pgcl_normalization
        self.loss_mask = loss_mask

    def __repr__(self):
        keys = ("use_splg", "use_pgcl", "sim_threshold", "scale", "top_m", "tau", "pgcl_weight", "loss_mask")
        return "DMiner(" + ", ".join(f"{k}={getattr(self, k)}" for k in keys) + ")"

    def pseudo_heatmaps(self, features: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) SPLG pseudo heat-maps Y~ (zeros when SPLG is off), no gradient.
        ``features``: (N, D, H, W); ``heatmaps``: (N, C, H, W) Y."""
        if not self.use_splg:
            return torch.zeros_like(heatmaps)
        return torch.stack([
            splg_pseudo_heatmap(f, y, self.sim_threshold, self.scale, self.strict_threshold)
            for f, y in zip(features, heatmaps)
        ])

    def contrastive(
        self,
        features: torch.Tensor,
        scores: torch.Tensor,
        heatmaps: torch.Tensor,
        centers: List[torch.Tensor],
        classes: List[torch.Tensor],
        top_m: Optional[int] = None,
    ):
        """Unweighted L_pgcl over the batch and the (N, H, W) bool top-m selection.

        ``features`` (N, D, H, W) with gradient; ``scores`` (N, C, H, W) probabilities;
        ``centers[i]`` (Q_i, 2) long cells (x, y) and ``classes[i]`` (Q_i,) of image i.
        """
        total, count, selected = features.sum() * 0, 0, []
        for f, s, y, c, k in zip(features, scores.detach(), heatmaps, centers, classes):
            terms = pgcl_loss(f, s, y, c, k, self.top_m if top_m is None else top_m, self.tau, self.pgcl_normalization)
            total, count = total + terms.loss_sum, count + terms.num_terms
            selected.append(terms.selected)
        return total / max(count, 1), torch.stack(selected)

    def losses(
        self,
        features: torch.Tensor,
        logits: torch.Tensor,
        heatmaps: torch.Tensor,
        centers: List[torch.Tensor],
        classes: List[torch.Tensor],
        prefix: str = "",
        pseudo: Optional[torch.Tensor] = None,
    ) -> Dict[str, torch.Tensor]:
        """Heat-map focal loss on Y_bar (positives: the ground-truth centres only) and, with
        PGCL, ``loss_pgcl`` = lambda_pgcl * L_pgcl. Inside a trainer, also logs the number of
        pseudo-labelled cells per image and their mean value (``dminer/...``).

        Args:
            features: (N, D, H, W) the branch's feature map F.
            logits: (N, C, H, W) heat-map logits.
            heatmaps: (N, C, H, W) ground-truth Y.
            centers, classes: per image, the annotated instances' centre cells and classes.
            prefix: prepended to the loss names ("loss_hm", "loss_pgcl").
            pseudo: (N, C, H, W) Y~ when already computed (:meth:`pseudo_heatmaps`).
        """
        if pseudo is None:
            pseudo = self.pseudo_heatmaps(features, heatmaps)
        target = merge_pseudo_heatmap(heatmaps, pseudo)
        out = {}
        negative_mask = None
        if self.use_pgcl:
            loss, selected = self.contrastive(features, logits.sigmoid(), heatmaps, centers, classes)
            out[f"{prefix}loss_pgcl"] = self.pgcl_weight * loss
            if self.loss_mask:
                negative_mask = ~selected[:, None]
        _log_pseudo_statistics(pseudo, prefix)
        out[f"{prefix}loss_hm"] = heatmap_focal_loss(
            logits, target, positive=heatmaps.eq(1), negative_mask=negative_mask
        )
        return out
