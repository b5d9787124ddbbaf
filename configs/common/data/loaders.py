"""One builder for the LazyConfig ``dataloader`` of every pointdet dataset family.

``make_dataloader(...)`` returns the ``dataloader`` node (``train``, ``test``, ``evaluator``) that
``tools/train_net.py`` reads. The train mapper depends on the supervision:

* ``"boxes"``: Detectron2's :class:`DatasetMapper` (full, Keep1 and sparse box files);
* ``"points"`` / ``"clicks"``: pointdet's :class:`PointDatasetMapper`, which strips every box,
  mask and ``true_*`` analysis key before augmentation and outputs ``gt_points`` /
  ``gt_clicks``.

The test loader always uses :class:`DatasetMapper` (inference needs only the image) and the
evaluator is COCO's, with the pure-Python COCOeval (no compiled Detectron2 ops).
"""
from omegaconf import OmegaConf

from detectron2.config import LazyCall as L
from detectron2.data import (
    DatasetMapper,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.evaluation import COCOEvaluator
from pointdet.data.dataset_mapper import PointDatasetMapper

SUPERVISIONS = ("boxes", "points", "clicks")


def make_dataloader(
    train_names,
    test_names,
    train_augmentations,
    test_augmentations,
    *,
    supervision="boxes",
    image_format="RGB",
    use_instance_mask=False,
    instance_mask_format="polygon",
    total_batch_size=16,
    num_workers=4,
    max_dets_per_image=100,
    evaluator_tasks=None,
):
    """
    Args:
        train_names, test_names (str or list[str]): registered dataset names.
        train_augmentations, test_augmentations (list): LazyCall configs of
            ``detectron2.data.transforms`` augmentations.
        supervision (str): "boxes", "points" or "clicks" (the train mapper, see module doc).
        image_format (str): "RGB" for torchvision-pretrained backbones, "BGR" for Detectron2's.
        use_instance_mask, instance_mask_format: as :class:`DatasetMapper` ("bitmask" for
            RLE masks such as the demo nuclei). Boxes supervision only.
        total_batch_size (int): images per iteration over all processes.
        num_workers (int): data-loading processes per training process.
        max_dets_per_image (int): COCOeval's maxDets (raise it for dense images).
        evaluator_tasks (tuple[str] or None): e.g. ("bbox", "segm"); None infers from the model.

    Returns:
        DictConfig with ``train``, ``test`` and ``evaluator``.
    """
    if supervision not in SUPERVISIONS:
        raise ValueError(f"supervision must be one of {SUPERVISIONS}, got {supervision!r}")
    if supervision != "boxes" and use_instance_mask:
        raise ValueError(f"supervision={supervision!r} cannot use instance masks")
    if supervision == "boxes":
        train_mapper = L(DatasetMapper)(
            is_train=True,
            augmentations=train_augmentations,
            image_format=image_format,
            use_instance_mask=use_instance_mask,
            instance_mask_format=instance_mask_format,
        )
    else:
        train_mapper = L(PointDatasetMapper)(
            is_train=True,
            augmentations=train_augmentations,
            image_format=image_format,
            supervision=supervision,
            out_of_image="drop",
        )
    dataloader = OmegaConf.create()
    dataloader.train = L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(names=train_names),
        mapper=train_mapper,
        total_batch_size=total_batch_size,
        num_workers=num_workers,
    )
    dataloader.test = L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names=test_names, filter_empty=False),
        mapper=L(DatasetMapper)(
            is_train=False,
            augmentations=test_augmentations,
            image_format="${...train.mapper.image_format}",
        ),
        num_workers=num_workers,
    )
    dataloader.evaluator = L(COCOEvaluator)(
        dataset_name="${..test.dataset.names}",
        tasks=evaluator_tasks,
        use_fast_impl=False,
        max_dets_per_image=max_dets_per_image,
    )
    return dataloader
