"""Click-supervised MIL re-localization (Papadopoulos et al. CVPR 2017): the appearance model and
the loop's settings (used by ``tools/click_mil.py``; not a ``tools/train_net.py`` config).

``model``: the appearance model A, frozen ImageNet MobileNetV2 (res4 + res5 RoIAlign features,
3x3 grid averaged: 96 + 320 = 416 dims) with a linear head; ``mil``: the keyword
arguments of :class:`pointdet.engine.clickmil.ClickMILConfig` (a plain dict: the loop is no module). The reference MIL without
clicks is ``mil.use_clicks=False``; one click vs two clicks is the click file (and ``--mu``).

  python tools/click_mil.py --config-file configs/common/models/clickmil_mnv2.py \
      --clicks datasets/pointdet_demo/trees/annotations/trees_train_clicks2_s0.json \
      --image-root datasets/pointdet_demo/trees/images --proposals output/clickmil/trees_ss.pkl \
      --gt datasets/pointdet_demo/trees/annotations/trees_train.json \
      --mu output/clickmil/mu.json --output output/clickmil/trees_train_clickmil2_boxes.json
"""
from detectron2.config import LazyCall as L

from pointdet.modeling.clickmil.appearance import ClickMILAppearanceModel

from .mobilenetv2_fpn import PIXEL_MEAN, PIXEL_STD, mobilenetv2

model = L(ClickMILAppearanceModel)(
    backbone=mobilenetv2(out_features=("res4", "res5")),
    in_features=["res4", "res5"],
    num_classes=1,
    pixel_mean=PIXEL_MEAN,
    pixel_std=PIXEL_STD,
    pooler_resolution=3,
    input_format="RGB",
)

mil = dict(
    use_clicks=True,
    use_box_area=True,
    num_iterations=5,
    num_folds=10,  # multi-folding as Cinbis et al.
    appearance_weight=0.5,  # S_ap = 1/2 A + 1/2 O (paper)
    sigma_bc=20.0,  # px; ours (trees are ~40 px wide)
    sigma_ba=1.0,  # natural-log area units; ours (compare the mu fit's residual std)
    l2=1e-3,
    lbfgs_iters=100,
    max_negatives_per_image=200,
    seed=0,
)
device = "cpu"
