"""Data and evaluation pieces of the SIOD experiments (Li et al. CVPR 2022).

* ``score_aware_evaluator(max_dets)``: :class:`pointdet.evaluation.ScoreAwareCOCOEvaluator` on
  the config's test set (AP@S = mean of AP@S_0..S_9, SIOD Eq. 7-8), writing its table and plot
  to ``train.output_dir``. Assign it to ``dataloader.evaluator``.
* ``TREES_KEEP1`` / ``COCO_KEEP1``: the Keep1 training sets (one box per category per image,
  seed 0), made by ``python tools/make_weak_annotations.py keep1 --input <full json> --seed 0``;
  other seeds: ``..._keep1_s1``, the reference's deterministic choice: ``..._keep1_first``.
* ``centernet_coco_augmentations``: CenterNet's 512 x 512 training crops (random scale
  0.6-1.3 of a 512 square, random crop / pad, horizontal flip; the reference's PCA colour
  jitter is not reproduced) and its test input (original resolution, padded to 32 by the
  model).
"""
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L

from pointdet.evaluation import ScoreAwareCOCOEvaluator

TREES_KEEP1 = "pointdet_trees_train_keep1_s0"
COCO_KEEP1 = "coco_2017_train_keep1_s0"


def score_aware_evaluator(max_dets=100):
    """LazyCall of :class:`ScoreAwareCOCOEvaluator` on ``dataloader.test``'s dataset."""
    return L(ScoreAwareCOCOEvaluator)(
        dataset_name="${..test.dataset.names}",
        output_dir="${train.output_dir}",
        max_dets_per_image=max_dets,
        round_scores=False,
    )


centernet_coco_train_augmentations = [
    L(T.ResizeScale)(min_scale=0.6, max_scale=1.3, target_height=512, target_width=512),
    L(T.FixedSizeCrop)(crop_size=(512, 512)),
    L(T.RandomFlip)(horizontal=True),
]
centernet_coco_test_augmentations = []
