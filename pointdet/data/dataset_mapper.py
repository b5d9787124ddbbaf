"""Dataset mappers for point, click and sparse-box supervision.

* :class:`PointDatasetMapper` -- one mapper for every annotation type. ``supervision="boxes"``
  is Detectron2's :class:`DatasetMapper` unchanged (DMiner Keep1, Co-mining sparse boxes).
  ``"points"`` / ``"clicks"`` first strip every box, mask and analysis key from the
  annotations (so a weakly supervised trainer cannot read them), then move the points through
  the geometric augmentations with ``transforms.apply_coords`` and output
  ``instances.gt_points`` / ``gt_clicks``.
* :class:`TwoViewDatasetMapper` -- Co-mining's second view (Co-mining Sec. 3.3; the reference
  ``COCOPartial``): the same geometrically augmented image with a SimCLR colour jitter and/or
  the paper's optional Gaussian blur, applied in RGB after the geometric augmentations so that
  both views share the boxes.
* :func:`add_point_data_config` -- the yacs keys these mappers read.
"""
import copy
import logging
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pycocotools.mask as mask_util
import torch
import torchvision.transforms.functional as TF
from detectron2.config import CfgNode as CN
from detectron2.config import configurable
from detectron2.data import DatasetMapper
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import Boxes, BoxMode, Instances

from pointdet.layers.image_bounds import points_inside_image

__all__ = [
    "PointDatasetMapper",
    "TwoViewDatasetMapper",
    "color_jitter",
    "gaussian_blur",
    "add_point_data_config",
    "STRIPPED_KEYS",
]

logger = logging.getLogger(__name__)

#: Annotation keys removed by the point/click mapper before anything else; keys that start
#: with ``true_`` (the analysis copies of the full annotation) are removed as well.
STRIPPED_KEYS = ("bbox", "bbox_mode", "segmentation", "area", "keypoints")
_SUPERVISIONS = ("points", "clicks", "boxes")


def add_point_data_config(cfg: CN) -> CN:
    """Add the keys of :class:`PointDatasetMapper` / :class:`TwoViewDatasetMapper` to ``cfg`` (in place).

    * ``INPUT.POINT_SUPERVISION``: "points" | "clicks" | "boxes".
    * ``INPUT.POINT_OUT_OF_IMAGE``: "drop" | "mark" (points that leave the image).
    * ``INPUT.POINT_KEEP_CROWD``: keep crowd/ignore points, flagged by ``gt_point_ignore``.
    * ``INPUT.PSEUDO_BOX_SIZE``: side in original-image px of the fixed boxes centred on the
      points (CPR's pseudo-box baselines use 16); 0 disables them.
    * ``INPUT.NUM_CLICKS``: clicks per object; 0 infers it from the annotations.
    * ``INPUT.OBJECT_PROPOSALS.ENABLED``: output each object's proposals (``gt_proposal_*``;
      the dataset must be registered with a proposal file); ``.MASKS``: also their masks.
    * ``INPUT.COLOR_JITTER.{BRIGHTNESS, CONTRAST, SATURATION, HUE, PROB, SEED}``: Co-mining's
      second view (0.8, 0.8, 0.8, 0.2, p 0.8; SEED < 0 uses torch's global RNG).
    * ``INPUT.GAUSSIAN_BLUR.{PROB, SIGMA, KERNEL_FRACTION}``: the paper's optional blur of the
      second view (PROB 0 = off, the reference's setting; SimCLR's sigma [0.1, 2.0] and
      kernel 10% of the shorter side when on).
    """
    cfg.INPUT.POINT_SUPERVISION = "points"
    cfg.INPUT.POINT_OUT_OF_IMAGE = "drop"
    cfg.INPUT.POINT_KEEP_CROWD = False
    cfg.INPUT.PSEUDO_BOX_SIZE = 0
    cfg.INPUT.NUM_CLICKS = 0
    cfg.INPUT.OBJECT_PROPOSALS = CN()
    cfg.INPUT.OBJECT_PROPOSALS.ENABLED = False
    cfg.INPUT.OBJECT_PROPOSALS.MASKS = False
    cfg.INPUT.COLOR_JITTER = CN()
    cfg.INPUT.COLOR_JITTER.BRIGHTNESS = 0.8
    cfg.INPUT.COLOR_JITTER.CONTRAST = 0.8
    cfg.INPUT.COLOR_JITTER.SATURATION = 0.8
    cfg.INPUT.COLOR_JITTER.HUE = 0.2
    cfg.INPUT.COLOR_JITTER.PROB = 0.8
    cfg.INPUT.COLOR_JITTER.SEED = -1
    cfg.INPUT.GAUSSIAN_BLUR = CN()
    cfg.INPUT.GAUSSIAN_BLUR.PROB = 0.0
    cfg.INPUT.GAUSSIAN_BLUR.SIGMA = [0.1, 2.0]
    cfg.INPUT.GAUSSIAN_BLUR.KERNEL_FRACTION = 0.1
    return cfg


def _strip_annotation(ann: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in ann.items() if k not in STRIPPED_KEYS and not k.startswith("true_")}


class PointDatasetMapper(DatasetMapper):
    """Map a Detectron2 dataset dict with points, clicks or boxes into model inputs.

    Output of ``__call__`` for ``supervision="points"`` in training: ``image`` (C, H, W) uint8
    tensor in ``image_format`` after augmentation, the dict's ``file_name``/``image_id``/
    ``height``/``width`` (original size), and ``instances`` (:class:`Instances` of the
    augmented image size) with

    * ``gt_points``: (N, 2) float32, (x, y) in augmented-image pixels, continuous
      coordinates (a point at x == W is inside the image, as Detectron2's transforms define);
    * ``gt_classes``: (N,) int64 contiguous category ids;
    * ``gt_ann_ids``: (N,) int64 annotation ``id`` (-1 when the dict has none, e.g. loaded by
      Detectron2's ``load_coco_json``);
    * ``gt_point_valid``: (N,) bool, only with ``out_of_image="mark"`` (False = left the image);
    * ``gt_point_ignore``: (N,) bool, only with ``keep_crowd=True`` (True = crowd/ignore);
    * ``gt_boxes``: :class:`Boxes` (N, 4) XYXY, only with ``pseudo_box_size``;
    * with ``object_proposals=True`` (the annotations carry ``proposal_boxes``, see
      :func:`pointdet.data.proposals.attach_proposals`), each object's bag of M_i candidates
      padded to M = max_i M_i: ``gt_proposal_boxes`` (N, M, 4) float32 XYXY in augmented-image
      pixels (transformed like the image with ``transforms.apply_box``, clipped to it; 0 at
      padding), ``gt_proposal_valid`` (N, M) bool (False at padding and for boxes left empty
      by the clipping), ``gt_proposal_scores`` (N, M) float32 when the file has scores, and with
      ``object_proposal_masks=True`` ``gt_proposal_masks`` (N, M, H, W) bool (transformed like
      the image).

    ``supervision="clicks"`` gives ``gt_clicks`` (N, C, 2) instead of ``gt_points``; a click
    object is inside the image when all its clicks are. An image without (kept) points yields
    empty Instances with the same fields (``gt_points`` of shape (0, 2)).

    Crowd handling (our decision): crowd (``iscrowd``) and ``ignore`` annotations carry no
    object position a point model can be supervised with, so by default they are removed, as
    Detectron2's :class:`DatasetMapper` removes crowd boxes; ``keep_crowd=True`` keeps them
    flagged by ``gt_point_ignore`` for models that want ignore regions.

    At inference (``is_train=False``) only the image is kept, like :class:`DatasetMapper`,
    unless ``keep_points_in_inference=True`` (point refinement runs a trained model over the
    annotated points of a training file with test-time augmentation).
    """

    @configurable
    def __init__(
        self,
        is_train: bool,
        *,
        augmentations: List[Any],
        image_format: str,
        supervision: str = "points",
        out_of_image: str = "drop",
        keep_crowd: bool = False,
        pseudo_box_size: Optional[float] = None,
        num_clicks: Optional[int] = None,
        keep_points_in_inference: bool = False,
        object_proposals: bool = False,
        object_proposal_masks: bool = False,
        use_instance_mask: bool = False,
        use_keypoint: bool = False,
        instance_mask_format: str = "polygon",
        keypoint_hflip_indices: Optional[np.ndarray] = None,
        precomputed_proposal_topk: Optional[int] = None,
        recompute_boxes: bool = False,
    ):
        """
        Args:
            is_train, augmentations, image_format, use_instance_mask, use_keypoint,
            instance_mask_format, keypoint_hflip_indices, precomputed_proposal_topk,
            recompute_boxes: as Detectron2's :class:`DatasetMapper` (masks and keypoints are
                only used with ``supervision="boxes"``).
            supervision: "points" (annotation key ``point``), "clicks" (``clicks``) or
                "boxes" (Detectron2's behaviour).
            out_of_image: "drop" removes points that leave the image after augmentation
                (e.g. a crop); "mark" keeps them with ``gt_point_valid`` False.
            keep_crowd: keep crowd/ignore points with ``gt_point_ignore`` True.
            pseudo_box_size: if set, add ``gt_boxes``: boxes of this side (original-image
                pixels; scaled by the resize like the image) centred on each point, clipped to
                the image. Points supervision only.
            num_clicks: clicks per object (C); None infers it from the annotations (and uses 1
                for an image without any).
            keep_points_in_inference: build ``instances`` also when ``is_train`` is False.
            object_proposals: add the ``gt_proposal_*`` fields of every object (points and
                clicks supervision; an object without ``proposal_boxes`` is an error).
            object_proposal_masks: also ``gt_proposal_masks`` (needs ``object_proposals``).
        """
        if supervision not in _SUPERVISIONS:
            raise ValueError(f"supervision must be one of {_SUPERVISIONS}, got {supervision!r}")
        if out_of_image not in ("drop", "mark"):
            raise ValueError(f"out_of_image must be 'drop' or 'mark', got {out_of_image!r}")
        if pseudo_box_size is not None and supervision != "points":
            raise ValueError("pseudo_box_size is only defined for supervision='points'")
        if pseudo_box_size is not None and pseudo_box_size <= 0:
            raise ValueError(f"pseudo_box_size must be > 0 or None, got {pseudo_box_size!r}")
        if num_clicks is not None and num_clicks < 1:
            raise ValueError(f"num_clicks must be >= 1 or None, got {num_clicks!r}")
        if object_proposals and supervision == "boxes":
            raise ValueError("object_proposals is defined for supervision='points' or 'clicks'")
        if object_proposal_masks and not object_proposals:
            raise ValueError("object_proposal_masks needs object_proposals=True")
        if supervision != "boxes" and (use_instance_mask or use_keypoint or recompute_boxes):
            raise ValueError(
                f"supervision={supervision!r} cannot use instance masks, keypoints or recomputed "
                "boxes: weak annotations carry none (set use_instance_mask/use_keypoint False)"
            )
        super().__init__(
            is_train,
            augmentations=augmentations,
            image_format=image_format,
            use_instance_mask=use_instance_mask,
            use_keypoint=use_keypoint,
            instance_mask_format=instance_mask_format,
            keypoint_hflip_indices=keypoint_hflip_indices,
            precomputed_proposal_topk=precomputed_proposal_topk,
            recompute_boxes=recompute_boxes,
        )
        self.supervision = supervision
        self.out_of_image = out_of_image
        self.keep_crowd = keep_crowd
        self.pseudo_box_size = pseudo_box_size
        self.num_clicks = num_clicks
        self.keep_points_in_inference = keep_points_in_inference
        self.object_proposals = object_proposals
        self.object_proposal_masks = object_proposal_masks
        logger.info(
            f"[PointDatasetMapper] supervision={supervision}, out_of_image={out_of_image}, "
            f"keep_crowd={keep_crowd}, pseudo_box_size={pseudo_box_size}"
        )

    @classmethod
    def from_config(cls, cfg, is_train: bool = True):
        supervision = cfg.INPUT.POINT_SUPERVISION
        ret = super().from_config(cfg, is_train)
        if supervision != "boxes":
            ret.update(use_instance_mask=False, use_keypoint=False, recompute_boxes=False)
            ret.pop("keypoint_hflip_indices", None)
        ret.update(
            supervision=supervision,
            out_of_image=cfg.INPUT.POINT_OUT_OF_IMAGE,
            keep_crowd=cfg.INPUT.POINT_KEEP_CROWD,
            pseudo_box_size=cfg.INPUT.PSEUDO_BOX_SIZE or None,
            num_clicks=cfg.INPUT.NUM_CLICKS or None,
            object_proposals=cfg.INPUT.OBJECT_PROPOSALS.ENABLED,
            object_proposal_masks=cfg.INPUT.OBJECT_PROPOSALS.MASKS,
        )
        return ret

    def __call__(self, dataset_dict: Dict[str, Any]) -> Dict[str, Any]:
        """
        Args:
            dataset_dict: one image in Detectron2 dataset format.

        Returns:
            dict: the model input described in the class docstring.
        """
        if self.supervision == "boxes":
            return super().__call__(dataset_dict)

        # Strip boxes/masks/analysis keys before anything else, then copy (never mutate the input).
        dataset_dict = {k: v for k, v in dataset_dict.items() if k not in ("sem_seg_file_name", "pan_seg_file_name")}
        if "annotations" in dataset_dict:
            dataset_dict["annotations"] = [_strip_annotation(a) for a in dataset_dict["annotations"]]
        dataset_dict = copy.deepcopy(dataset_dict)

        image = utils.read_image(dataset_dict["file_name"], format=self.image_format)
        utils.check_image_size(dataset_dict, image)
        aug_input = T.AugInput(image)
        transforms = self.augmentations(aug_input)
        image = aug_input.image
        image_shape = image.shape[:2]  # h, w
        dataset_dict["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))

        if self.proposal_topk is not None:
            utils.transform_proposals(dataset_dict, image_shape, transforms, proposal_topk=self.proposal_topk)

        if not self.is_train and not self.keep_points_in_inference:
            dataset_dict.pop("annotations", None)
            return dataset_dict
        if "annotations" in dataset_dict:
            dataset_dict["instances"] = self._annotations_to_instances(
                dataset_dict.pop("annotations"), transforms, image_shape, dataset_dict.get("image_id")
            )
        return dataset_dict

    def _annotations_to_instances(self, annos, transforms, image_shape, image_id) -> Instances:
        key = "point" if self.supervision == "points" else "clicks"
        coords, classes, ann_ids, ignore, objs = [], [], [], [], []
        for ann in annos:
            crowd = bool(ann.get("iscrowd", 0)) or bool(ann.get("ignore", 0))
            if crowd and not self.keep_crowd:
                continue
            if key not in ann:
                if crowd:
                    continue  # a crowd region without a point: nothing to supervise
                raise ValueError(
                    f"image id {image_id}, annotation id {ann.get('id')}: supervision="
                    f"'{self.supervision}' needs a '{key}' key but the annotation has "
                    f"{sorted(ann.keys())} (box/mask keys were removed); was a "
                    f"{'box' if 'category_id' in ann else 'non-COCO'} file given instead of a "
                    f"{self.supervision} file?"
                )
            c = np.asarray(ann[key], dtype=np.float64).reshape(-1, 2)
            if self.supervision == "points" and c.shape[0] != 1:
                raise ValueError(f"image id {image_id}, annotation id {ann.get('id')}: malformed point {ann[key]!r}")
            coords.append(c)
            classes.append(ann["category_id"])
            ann_ids.append(ann.get("id", -1))
            ignore.append(crowd)
            objs.append(ann)

        num_clicks = self.num_clicks
        if self.supervision == "clicks":
            counts = {c.shape[0] for c in coords}
            if num_clicks is None:
                if len(counts) > 1:
                    raise ValueError(f"image id {image_id}: objects have different numbers of clicks {sorted(counts)}")
                num_clicks = counts.pop() if counts else 1
            elif counts - {num_clicks}:
                raise ValueError(
                    f"image id {image_id}: expected {num_clicks} clicks per object, found {sorted(counts)}"
                )
        per_obj = 1 if self.supervision == "points" else num_clicks
        n = len(coords)
        orig = np.concatenate(coords, axis=0) if n else np.zeros((0, 2), dtype=np.float64)
        # apply_coords may work in place (e.g. HFlipTransform): pass a copy.
        moved = transforms.apply_coords(orig.copy()).reshape(n, per_obj, 2)
        h, w = image_shape
        inside = points_inside_image(moved, (h, w)).all(axis=1)  # the one rule: closed [0, w] x [0, h]
        keep = inside if self.out_of_image == "drop" else np.ones(n, dtype=bool)

        inst = Instances(image_shape)
        moved_t = torch.as_tensor(moved[keep], dtype=torch.float32)
        if self.supervision == "points":
            inst.gt_points = moved_t.reshape(-1, 2)
        else:
            inst.gt_clicks = moved_t.reshape(-1, per_obj, 2)
        inst.gt_classes = torch.as_tensor(np.asarray(classes, dtype=np.int64)[keep].reshape(-1), dtype=torch.int64)
        inst.gt_ann_ids = torch.as_tensor(np.asarray(ann_ids, dtype=np.int64)[keep].reshape(-1), dtype=torch.int64)
        if self.out_of_image == "mark":
            inst.gt_point_valid = torch.as_tensor(inside, dtype=torch.bool).reshape(-1)
        if self.keep_crowd:
            inst.gt_point_ignore = torch.as_tensor(np.asarray(ignore, dtype=bool)[keep].reshape(-1), dtype=torch.bool)
        if self.pseudo_box_size is not None:
            half = self.pseudo_box_size / 2.0
            p = orig[keep]
            boxes = np.concatenate([p - half, p + half], axis=1)  # XYXY, original-image px
            boxes = Boxes(torch.as_tensor(transforms.apply_box(boxes).reshape(-1, 4), dtype=torch.float32))
            boxes.clip(image_shape)
            inst.gt_boxes = boxes
        if self.object_proposals:
            kept_objs = [o for o, k in zip(objs, keep) if k]
            _add_object_proposals(inst, kept_objs, transforms, image_shape, image_id, self.object_proposal_masks)
        return inst


def _add_object_proposals(inst: Instances, objs, transforms, image_shape, image_id, with_masks: bool) -> None:
    """Set the padded ``gt_proposal_*`` fields of :class:`PointDatasetMapper` on ``inst``."""
    n = len(objs)
    for o in objs:
        if "proposal_boxes" not in o:
            raise ValueError(
                f"image id {image_id}, annotation id {o.get('id')}: object_proposals is on but the annotation "
                f"has no 'proposal_boxes' (register the dataset with a proposal file)"
            )
    sizes = [len(o["proposal_boxes"]) for o in objs]
    m = max(sizes, default=0)
    h, w = image_shape
    boxes = np.zeros((n, m, 4), dtype=np.float32)
    valid = np.zeros((n, m), dtype=bool)
    has_scores = n > 0 and all("proposal_scores" in o for o in objs)
    scores = np.zeros((n, m), dtype=np.float32)
    masks = np.zeros((n, m, h, w), dtype=bool) if with_masks else None
    for i, (o, k) in enumerate(zip(objs, sizes)):
        if k == 0:
            continue
        b = BoxMode.convert(
            np.asarray(o["proposal_boxes"], dtype=np.float64).reshape(-1, 4),
            o.get("proposal_bbox_mode", BoxMode.XYXY_ABS),
            BoxMode.XYXY_ABS,
        )
        b = transforms.apply_box(b).reshape(-1, 4)
        b[:, 0::2] = b[:, 0::2].clip(0, w)
        b[:, 1::2] = b[:, 1::2].clip(0, h)
        boxes[i, :k] = b
        valid[i, :k] = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        if has_scores:
            scores[i, :k] = o["proposal_scores"]
        if with_masks:
            segms = o.get("proposal_segmentations")
            if segms is None:
                raise ValueError(
                    f"image id {image_id}, annotation id {o.get('id')}: object_proposal_masks is on but the "
                    f"proposal file has no segmentations"
                )
            decoded = mask_util.decode([mask_util.frPyObjects(r, *r["size"]) if isinstance(r["counts"], list) else r
                                        for r in segms])  # (H0, W0, k)
            for j in range(k):
                masks[i, j] = transforms.apply_segmentation(np.ascontiguousarray(decoded[:, :, j]).astype(np.uint8)) > 0
    inst.gt_proposal_boxes = torch.as_tensor(boxes)
    inst.gt_proposal_valid = torch.as_tensor(valid)
    if has_scores:
        inst.gt_proposal_scores = torch.as_tensor(scores)
    if with_masks:
        inst.gt_proposal_masks = torch.as_tensor(masks)


def color_jitter(
    image: torch.Tensor,
    *,
    brightness: float = 0.8,
    contrast: float = 0.8,
    saturation: float = 0.8,
    hue: float = 0.2,
    prob: float = 0.8,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """SimCLR colour jitter of one RGB image (Co-mining's augmented view, Sec. 3.3).

    With probability ``prob`` apply, in a random order, brightness, contrast and saturation
    factors drawn uniformly from [max(0, 1 - s), 1 + s] and a hue shift from [-hue, hue] (the
    semantics of ``torchvision.transforms.ColorJitter``; the ops are torchvision's).

    Args:
        image: (3, H, W) uint8 tensor in RGB order.
        generator: source of randomness (torch's global RNG when None).

    Returns:
        (3, H, W) uint8 tensor, RGB.
    """
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"color_jitter expects a (3, H, W) RGB tensor, got shape {tuple(image.shape)}")
    if torch.rand(1, generator=generator).item() >= prob:
        return image.clone()

    def uniform(lo, hi):
        return float(lo + (hi - lo) * torch.rand(1, generator=generator).item())

    ops = [
        (brightness, lambda img, s: TF.adjust_brightness(img, uniform(max(0.0, 1 - s), 1 + s))),
        (contrast, lambda img, s: TF.adjust_contrast(img, uniform(max(0.0, 1 - s), 1 + s))),
        (saturation, lambda img, s: TF.adjust_saturation(img, uniform(max(0.0, 1 - s), 1 + s))),
        (hue, lambda img, s: TF.adjust_hue(img, uniform(-s, s))),
    ]
    out = image
    for i in torch.randperm(4, generator=generator).tolist():
        strength, op = ops[i]
        if strength > 0:
            out = op(out, strength)
    return out if out is not image else image.clone()


def gaussian_blur(
    image: torch.Tensor,
    *,
    sigma: Tuple[float, float] = (0.1, 2.0),
    kernel_fraction: float = 0.1,
    prob: float = 0.5,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Gaussian blur of one image, the paper's alternative second view (Co-mining Sec. 3.3,
    Table 4 "blur"); parameters as SimCLR's (Chen et al. 2020, App. A), which the paper cites.

    With probability ``prob``, blur with a standard deviation drawn uniformly from ``sigma``
    (pixels) and a square kernel of odd side ~``kernel_fraction`` of the shorter image side
    (at least 3), by ``torchvision.transforms.functional.gaussian_blur``.

    Args:
        image: (C, H, W) uint8 tensor.
        generator: source of randomness (torch's global RNG when None).

    Returns:
        (C, H, W) uint8 tensor.
    """
    if image.dim() != 3:
        raise ValueError(f"gaussian_blur expects a (C, H, W) tensor, got shape {tuple(image.shape)}")
    if torch.rand(1, generator=generator).item() >= prob:
        return image.clone()
    lo, hi = float(sigma[0]), float(sigma[1])
    s = lo + (hi - lo) * torch.rand(1, generator=generator).item()
    k = max(3, int(round(kernel_fraction * min(image.shape[1:]))) // 2 * 2 + 1)
    return TF.gaussian_blur(image, kernel_size=[k, k], sigma=[s, s])


class TwoViewDatasetMapper(PointDatasetMapper):
    """:class:`PointDatasetMapper` plus Co-mining's augmented second view.

    In training the output also has ``image_jittered``: (C, H, W) uint8, ``image_format``
    channel order, the same geometrically augmented image as ``image`` with
    :func:`color_jitter` (probability ``jitter_prob``) and then :func:`gaussian_blur`
    (probability ``blur_prob``, 0 by default as in the reference code) applied in RGB (the
    reference jittered BGR as if it were RGB; we convert). Both views therefore share
    ``instances``. With ``jitter_prob = blur_prob = 0`` the second view is a copy of the first
    (the paper's "w/o aug", Table 4). At inference the output is that of
    :class:`PointDatasetMapper`.

    ``seed``: with an int, the jitter draws from a ``torch.Generator`` seeded once at
    construction (the sequence of outputs is reproducible; every DataLoader worker holds a copy
    of the same generator); None uses torch's global RNG, which Detectron2 seeds per worker.
    """

    @configurable
    def __init__(
        self,
        is_train: bool,
        *,
        brightness: float = 0.8,
        contrast: float = 0.8,
        saturation: float = 0.8,
        hue: float = 0.2,
        jitter_prob: float = 0.8,
        blur_prob: float = 0.0,
        blur_sigma: Tuple[float, float] = (0.1, 2.0),
        blur_kernel_fraction: float = 0.1,
        seed: Optional[int] = None,
        **kwargs,
    ):
        """
        Args:
            brightness, contrast, saturation, hue, jitter_prob: :func:`color_jitter`
                strengths and probability (Co-mining: 0.8, 0.8, 0.8, 0.2, p 0.8).
            blur_prob, blur_sigma, blur_kernel_fraction: :func:`gaussian_blur` (off by default).
            seed: see the class docstring.
            kwargs: as :class:`PointDatasetMapper` (``supervision`` defaults to "boxes" here).
        """
        kwargs.setdefault("supervision", "boxes")
        super().__init__(is_train, **kwargs)
        if self.image_format not in ("RGB", "BGR"):
            raise ValueError(f"TwoViewDatasetMapper needs image_format RGB or BGR, got {self.image_format!r}")
        self.jitter_params = dict(
            brightness=brightness, contrast=contrast, saturation=saturation, hue=hue, prob=jitter_prob
        )
        self.blur_params = dict(sigma=tuple(blur_sigma), kernel_fraction=blur_kernel_fraction, prob=blur_prob)
        self.generator = None if seed is None else torch.Generator().manual_seed(int(seed))

    @classmethod
    def from_config(cls, cfg, is_train: bool = True):
        ret = super().from_config(cfg, is_train)
        cj = cfg.INPUT.COLOR_JITTER
        ret.update(
            brightness=cj.BRIGHTNESS,
            contrast=cj.CONTRAST,
            saturation=cj.SATURATION,
            hue=cj.HUE,
            jitter_prob=cj.PROB,
            blur_prob=cfg.INPUT.GAUSSIAN_BLUR.PROB,
            blur_sigma=tuple(cfg.INPUT.GAUSSIAN_BLUR.SIGMA),
            blur_kernel_fraction=cfg.INPUT.GAUSSIAN_BLUR.KERNEL_FRACTION,
            seed=None if cj.SEED < 0 else cj.SEED,
        )
        return ret

    def __call__(self, dataset_dict: Dict[str, Any]) -> Dict[str, Any]:
        out = super().__call__(dataset_dict)
        if self.is_train:
            image = out["image"]
            rgb = image if self.image_format == "RGB" else image.flip(0)
            jittered = color_jitter(rgb, generator=self.generator, **self.jitter_params)
            if self.blur_params["prob"] > 0:  # no draw when off: the jitter sequence stays as before
                jittered = gaussian_blur(jittered, generator=self.generator, **self.blur_params)
            out["image_jittered"] = jittered if self.image_format == "RGB" else jittered.flip(0)
        return out
