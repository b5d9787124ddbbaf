"""The C4 ROI head of Faster R-CNN on MobileNetV2 (ResNet paper Appendix A, as Detectron2's
``Res5ROIHeads``, with MobileNetV2's stride-32 stages in place of ResNet's res5).

A C4 detector runs the backbone up to stride 16 ("res4": MobileNetV2 ``features[:14]``, 96
channels), pools each RoI to 14x14 on it, and computes the per-RoI feature with the last
stage ("res5": ``features[14:18]``, stride 2, 320 channels) before averaging it to one vector
for the box predictor. Only the construction of that res5 block differs from Detectron2's
``Res5ROIHeads``, so the forward pass, the losses and the state-dict layout
(``roi_heads.res5.<i>.…``) are Detectron2's.
"""
from detectron2.modeling.roi_heads import ROI_HEADS_REGISTRY, Res5ROIHeads

from ..backbone.mobilenetv2 import mobilenetv2_stage

__all__ = ["MobileNetV2Res5ROIHeads"]


@ROI_HEADS_REGISTRY.register()
class MobileNetV2Res5ROIHeads(Res5ROIHeads):
    """Detectron2's :class:`Res5ROIHeads` whose res5 block is MobileNetV2's res5 stage.

    The constructor is Detectron2's (``res5`` is any module, e.g.
    :func:`~pointdet.modeling.backbone.mobilenetv2.mobilenetv2_stage` in a LazyConfig); the yacs
    route (``MODEL.ROI_HEADS.NAME = "MobileNetV2Res5ROIHeads"``) builds res5 from
    ``MODEL.MOBILENETV2.{WEIGHTS, NORM, WIDTH_MULT}``, the keys of the MobileNetV2 trunk, and reads
    the pooler and predictor keys as ``Res5ROIHeads`` does.
    """

    @classmethod
    def _build_res5_block(cls, cfg):
        """Returns (res5 module, its output channels)."""
        m = cfg.MODEL.MOBILENETV2
        res5 = mobilenetv2_stage("res5", weights=m.WEIGHTS or None, norm=m.NORM, width_mult=m.WIDTH_MULT)
        return res5, res5[-1].out_channels
