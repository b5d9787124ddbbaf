"""CPRNet (CPR paper Sec. 3.2) on the ImageNet MobileNetV2-FPN backbone.

One feature level, P3 (stride 8), computed by an FPN with GN from res3..res5 (the reference
FPN's start_level=1, num_outs=1); CPRHead of 4 3x3 convs (256 ch, GN(32), ReLU) with linear
f_cls / f_ins on bilinear point features; bag radius R = 8 circles, u0 = 8; loss weights
MIL 0.25 / annotation 0.125 / negative 0.75 (paper 1 / 0.5 / 3 x 0.25), focal gamma 2;
refinement delta_1 0.1, delta_2 0.5, classify + nearest filters, refine_th 0.1.

Variants are configs: ``model.in_feature = "p2"`` (with ``model.backbone.in_features`` and
``model.backbone.bottom_up.out_features`` starting at res2) for tiny objects; loss and
refinement switches (``use_mil_loss``, ``use_annotation_loss``, ``use_negative_loss``,
``use_all_positive_loss``) and the refinement rules, one object ``model.refinement``
(``CPRRefinementParams``: ``score_threshold``, ``relative_score_threshold``,
``use_classify_filter``, ``use_nearest_filter``, ``restrict_to_image``,
``always_include_annotated``, ``refine_th``).
``model.backbone.bottom_up.weights`` holds the ImageNet checkpoint path (None: random init).
"""
from detectron2.config import LazyCall as L

from pointdet.modeling.cpr import CPRHead, CPRNet, CPRRefinementParams

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2_fpn_gn_p3

model = L(CPRNet)(
    backbone=mobilenetv2_fpn_gn_p3(out_channels=256),
    head=L(CPRHead)(
        in_channels="${..backbone.out_channels}",
        num_classes="${..num_classes}",
        conv_dims=256,
        num_convs=4,
        norm="GN",
        num_groups=32,
        prior_prob=0.01,
    ),
    num_classes=80,
    in_feature="p3",
    bag_radius=8,
    refine_bag_radius=None,  # None: the training radius (reference)
    circle_density=8,
    append_center=True,
    mil_loss_weight=0.25,
    annotation_loss_weight=0.125,
    negative_loss_weight=0.75,
    all_positive_loss_weight=0.25,  # Table 2 "pos" ablation only
    focal_gamma=2.0,
    focal_eps=1e-6,  # reference: epsilon of the probability-space focal term
    use_mil_loss=True,  # Table 2: MIL + ann + neg
    use_annotation_loss=True,
    use_negative_loss=True,
    use_all_positive_loss=False,
    refinement=L(CPRRefinementParams)(
        score_threshold=0.1,  # delta_1 (Sec. 3.3, Table 4c)
        relative_score_threshold=0.5,  # delta_2 (Sec. 3.3, Table 4c)
        use_classify_filter=True,  # constraint II
        use_nearest_filter=True,  # constraint III
        restrict_to_image=True,  # bag points inside the unpadded image (reference)
        always_include_annotated=True,  # Alg. 2 line 5; False = reference code
        refine_th=0.1,  # reference: objects with a lower mean kept score stay
    ),
    pixel_mean=PIXEL_MEAN,
    pixel_std=PIXEL_STD,
    input_format="RGB",
)
