"""Co-mining's mined boxes outside the training step (Co-mining Sec. "Co-Generation", Fig. 3):
their quality during training, pictures of them, and the final mined set as a file.

* :func:`mine_dataset` -- run a Co-mining model's co-generation (original view, the pseudo boxes
  the original branch gives the augmented one) over training images, in original-image
  pixels, as COCO result records.
* :class:`MinedBoxQualityHook` -- every ``period`` iterations and after training: the number of
  mined boxes per image and their precision / recall against the erased annotations
  (:func:`pointdet.evaluation.annotation_quality.pseudo_label_precision_recall`) into the event
  storage (``comining/mined_*``; metrics.json and tensorboard), PNGs of the mined boxes beside
  the erased and the kept annotations, and the mined set as a results file.
* :func:`mine_checkpoint` -- the hook's final measurement for a saved checkpoint.
* :func:`draw_mined_boxes` -- one such picture.
* :func:`export_mined_annotations` -- a training file with the mined boxes added as annotations.
"""
import copy
import logging
import math
import os
from collections import OrderedDict
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from detectron2.data import DatasetCatalog, DatasetMapper, MetadataCatalog
from detectron2.data import transforms as T
from detectron2.engine import HookBase
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import BoxMode
from detectron2.utils import comm

from pointdet.data.annotations.common import erased_output_path
from pointdet.data.coco_io import CocoFormatError, atomic_write_json, load_coco_dict, load_json_strict
from pointdet.engine.relabel import RelabelProducer, RelabelSource, relabel_file
from pointdet.evaluation.annotation_quality import pseudo_label_precision_recall
from pointdet.utils.file_io import atomic_open

__all__ = ["mine_dataset", "MinedBoxQualityHook", "mine_checkpoint", "draw_mined_boxes", "export_mined_annotations"]

logger = logging.getLogger(__name__)


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


def _contiguous_to_dataset_ids(dataset_name: Optional[str]) -> Dict[int, int]:
    if dataset_name is None:
        return {}
    m = MetadataCatalog.get(dataset_name).get("thing_dataset_id_to_contiguous_id", None)
    return {v: k for k, v in m.items()} if m else {}


@torch.no_grad()
def mine_dataset(
    model, dataset_dicts: Sequence[Dict[str, Any]], mapper, dataset_name: Optional[str] = None
) -> Iterator[Tuple[Dict[str, Any], List[Dict[str, Any]]]]:
    """Co-generation of a Co-mining model over ``dataset_dicts``, one image at a time.

    Args:
        model: a :class:`~pointdet.modeling.comining.CoMiningMixin` detector (DDP-wrapped or not);
            run in eval mode, its mode restored afterwards.
        dataset_dicts: Detectron2 dataset dicts with their (kept) annotations.
        mapper: maps a dict to the model input with ``instances`` (e.g. Detectron2's
            DatasetMapper with ``is_train=True`` and the test-time resize only).
        dataset_name: registered name, to map contiguous classes back to dataset category ids.

    Yields:
        ``(dataset_dict, records)``: the mined boxes of the image as COCO result records
        ``{"image_id", "category_id", "bbox" (XYWH, original-image px), "score"}``.
    """
    net = _unwrap(model)
    to_dataset = _contiguous_to_dataset_ids(dataset_name)
    was_training = net.training
    net.eval()
    try:
        for d in dataset_dicts:
            inputs = mapper(copy.deepcopy(d))
            images = net.preprocess_image([inputs])
            features = net.backbone(images.tensor)
            features = [features[f] for f in net.head_in_features]
            gt = inputs["instances"].to(net.device)
            pseudo = net.generate_pseudo_boxes(features, net.head(features), [gt])[0]
            pseudo = detector_postprocess(pseudo, d.get("height", gt.image_size[0]), d.get("width", gt.image_size[1]))
            boxes = BoxMode.convert(pseudo.pred_boxes.tensor.cpu().numpy(), BoxMode.XYXY_ABS, BoxMode.XYWH_ABS)
            records = [
                {"image_id": d["image_id"], "category_id": to_dataset.get(int(c), int(c)),
                 "bbox": [float(v) for v in b], "score": float(s)}
                for b, c, s in zip(boxes, pseudo.pred_classes.tolist(), pseudo.scores.tolist())
            ]  # fmt: skip
            yield d, records
    finally:
        net.train(was_training)


def draw_mined_boxes(image_rgb: np.ndarray, kept: Sequence, erased: Sequence, mined: Sequence) -> np.ndarray:
    """The annotations and the mined boxes of one image, side by side.

    Left: the kept annotations (green, thick) and the erased ones (yellow, thin); right: the
    mined boxes (red) over the erased ones (yellow). Boxes are XYWH in image pixels.

    Args:
        image_rgb: (H, W, 3) uint8 RGB.
    Returns:
        (H, 2W + 4, 3) uint8 RGB.
    """

    def draw(img, boxes, colour, thickness):
        for x, y, w, h in boxes:
            p0, p1 = (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h)))
            cv2.rectangle(img, p0, p1, colour, thickness)

    left, right = image_rgb.copy(), image_rgb.copy()
    draw(left, erased, (255, 220, 0), 1)
    draw(left, kept, (0, 200, 0), 2)
    draw(right, erased, (255, 220, 0), 1)
    draw(right, mined, (255, 0, 0), 2)
    sep = np.full((image_rgb.shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([left, sep, right], axis=1)


def _write_png(path: str, image_rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", image_rgb[:, :, ::-1])
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    with atomic_open(path, "wb") as f:
        f.write(buf.tobytes())


class MinedBoxQualityHook(HookBase):
    """Quality of the mined boxes during Co-mining training (see the module docstring).

    Every ``period`` iterations (main process only), mines the first ``max_images`` images of
    ``dataset_name`` with the current weights and puts ``comining/mined_per_image``,
    ``comining/mined_precision`` and ``comining/mined_recall`` (IoU >= ``iou_threshold`` with an
    erased annotation of the same class, recall over the erased annotations of the mined images)
    into the storage. After the last iteration it does the same on the first
    ``final_max_images`` images (default: the whole set) and writes into ``output_dir``:
    ``num_vis`` PNGs (:func:`draw_mined_boxes`, the images with the most erased annotations
    first), the mined set ``mined_boxes.json`` (results format) and the numbers
    ``mined_quality.json``. :meth:`measure` does the same for any model
    (:func:`mine_checkpoint`: a saved checkpoint).
    """

    def __init__(
        self,
        dataset_name: str,
        *,
        period: int,
        output_dir: str,
        erased_json: Optional[str] = None,
        max_images: Optional[int] = 16,
        final_max_images: Optional[int] = None,
        num_vis: int = 4,
        iou_threshold: float = 0.5,
        augmentations: Optional[List[T.Augmentation]] = None,
        image_format: str = "RGB",
    ):
        """
        Args:
            dataset_name: the (sparse) training set.
            period: iterations between evaluations (0: only after training).
            output_dir: where the PNGs and ``mined_boxes.json`` go.
            erased_json: the erased annotations; None = ``<training json>_erased.json`` (as
                ``tools/make_weak_annotations.py sparse`` writes it) when it exists, else no
                precision / recall.
            max_images: images mined per periodic evaluation (None: all).
            final_max_images: images mined after training (None: all, so that
                ``mined_boxes.json`` covers the training set).
            augmentations: the deterministic test-time resize (default: none).
            image_format: the model's input format.
        """
        self.dataset_name = dataset_name
        self.period = int(period)
        self.output_dir = output_dir
        if erased_json is None:
            json_file = MetadataCatalog.get(dataset_name).get("json_file", None)
            candidate = erased_output_path(json_file) if json_file else None
            erased_json = candidate if candidate and os.path.isfile(candidate) else None
        self.erased_json = erased_json
        self.max_images = max_images
        self.final_max_images = final_max_images
        self.num_vis = num_vis
        self.iou_threshold = iou_threshold
        self.mapper = DatasetMapper(is_train=True, augmentations=list(augmentations or []), image_format=image_format)
        self.image_format = image_format
        self._dicts = None

    def _images(self, limit: Optional[int]):
        if self._dicts is None:
            self._dicts = DatasetCatalog.get(self.dataset_name)
        return self._dicts if limit is None else self._dicts[:limit]

    def measure(self, model, final: bool = False, progress: bool = False) -> Dict[str, float]:
        """Mine with ``model`` and score the mined boxes: the first ``max_images`` images, or with
        ``final`` the first ``final_max_images`` and write the PNGs, ``mined_boxes.json`` and
        ``mined_quality.json`` into ``output_dir``. ``progress``: a tqdm bar over the images.

        Returns:
            ``mined_per_image``, and with erased annotations ``mined_precision`` and
            ``mined_recall`` (NaN when undefined).
        """
        images = self._images(self.final_max_images if final else self.max_images)
        mining = mine_dataset(model, images, self.mapper, self.dataset_name)
        if progress:
            from tqdm import tqdm

            mining = tqdm(mining, total=len(images), desc="mining", unit="img")
        mined = list(mining)
        records = [r for _, recs in mined for r in recs]
        stats = OrderedDict(mined_per_image=len(records) / max(len(mined), 1))
        if self.erased_json is not None:
            pr = pseudo_label_precision_recall(records, self.erased_json, iou_threshold=self.iou_threshold,
                                               image_ids=[d["image_id"] for d, _ in mined])  # fmt: skip
            stats.update(mined_precision=pr["precision"], mined_recall=pr["recall"])
        logger.info("Co-mining mined boxes on %d images of %s: %s", len(mined), self.dataset_name,
                    ", ".join(f"{k} {v:.3f}" for k, v in stats.items()))  # fmt: skip
        if final:
            os.makedirs(self.output_dir, exist_ok=True)
            atomic_write_json(records, os.path.join(self.output_dir, "mined_boxes.json"))
            quality = OrderedDict(images=len(mined), **{k: None if math.isnan(v) else v for k, v in stats.items()})
            atomic_write_json(quality, os.path.join(self.output_dir, "mined_quality.json"))
            self._write_pictures(mined)
        return stats

    def evaluate(self, final: bool = False) -> Dict[str, float]:
        """:meth:`measure` with the trainer's model, the numbers put into the event storage."""
        stats = self.measure(self.trainer.model, final=final)
        for k, v in stats.items():
            if not math.isnan(v):
                self.trainer.storage.put_scalar(f"comining/{k}", v, smoothing_hint=False)
        return stats

    def _write_pictures(self, mined) -> None:
        from detectron2.data import detection_utils as utils

        erased: Dict[Any, List] = {}
        if self.erased_json is not None:
            for a in load_coco_dict(self.erased_json)["annotations"]:
                erased.setdefault(a["image_id"], []).append(a["bbox"])
        # the tiles with the most erased annotations (the ones there is something to mine in)
        chosen = sorted(mined, key=lambda m: -len(erased.get(m[0]["image_id"], [])))[: self.num_vis]
        for d, recs in chosen:
            image = utils.read_image(d["file_name"], format="RGB")
            kept = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYWH_ABS) for a in d.get("annotations", [])]
            vis = draw_mined_boxes(image, kept, erased.get(d["image_id"], []), [r["bbox"] for r in recs])
            _write_png(os.path.join(self.output_dir, f"mined_{d['image_id']}.png"), vis)

    def after_step(self):
        nxt = self.trainer.iter + 1
        if self.period > 0 and nxt % self.period == 0 and nxt != self.trainer.max_iter and comm.is_main_process():
            self.evaluate()

    def after_train(self):
        if comm.is_main_process() and self.trainer.iter + 1 >= self.trainer.max_iter:
            self.evaluate(final=True)


def mine_checkpoint(
    config_file: str,
    weights: str,
    output_dir: Optional[str] = None,
    opts: Sequence[str] = (),
    device: Optional[str] = None,
    progress: bool = True,
) -> Dict[str, float]:
    """:class:`MinedBoxQualityHook`'s final measurement for a saved Co-mining checkpoint: the
    config's ``hooks.mined_quality`` (its data set, erased annotations, resize and image count)
    mined with ``weights``; writes ``mined_boxes.json``, ``mined_quality.json`` and the PNGs.

    Args:
        config_file: a Co-mining LazyConfig with ``hooks.mined_quality``; ``opts``: overrides.
        output_dir: replaces the hook's ``output_dir`` (None: keep it).
        device: "cpu" / "cuda" (default: the config's). progress: a tqdm bar.
    Returns:
        The hook's numbers (see :meth:`MinedBoxQualityHook.measure`).
    """
    from detectron2.config import instantiate

    from .model_loading import load_model_from_config

    model, cfg = load_model_from_config(config_file, weights, opts, device, require_method="generate_pseudo_boxes")
    hooks = cfg.get("hooks", None)
    spec = hooks.get("mined_quality", None) if hasattr(hooks, "get") else None
    if spec is None:
        raise ValueError(f"{config_file}: no hooks.mined_quality (a MinedBoxQualityHook) to take the settings from")
    if output_dir is not None:
        spec.output_dir = output_dir
    hook = instantiate(spec)
    if not isinstance(hook, MinedBoxQualityHook):
        raise ValueError(f"{config_file}: hooks.mined_quality builds {type(hook).__name__}, not a MinedBoxQualityHook")
    return hook.measure(model, final=True, progress=progress)


class _MinedBoxes(RelabelProducer):
    """Adds the mined boxes of a COCO results file (score >= ``score_threshold``) to their
    images as annotations ``{image_id, category_id, bbox, area, iscrowd 0, mined: true, score}``."""

    generator = "pointdet.comining.mined_annotations"
    description = "annotations plus Co-mining's mined boxes"
    adds_annotations = True

    def __init__(self, mined_results: str, score_threshold: float):
        self.mined_results = mined_results
        self.score_threshold = score_threshold
        self._by_image: Dict[Any, List] = {}

    def params(self):
        return OrderedDict(score_threshold=self.score_threshold)

    def inputs(self):
        return OrderedDict(mined=self.mined_results)

    def check(self, source: RelabelSource) -> None:
        records = load_json_strict(self.mined_results)
        if not isinstance(records, list):
            raise CocoFormatError(f"{self.mined_results}: expected a list of COCO result records")
        images = {im["id"] for im in source.coco["images"]}
        cats = {c["id"] for c in source.coco["categories"]}
        self._by_image = {}
        for i, r in enumerate(records):
            if not isinstance(r, dict) or r.get("image_id") not in images:
                raise CocoFormatError(f"{self.mined_results}: mined box #{i} has image id "
                                      f"{r.get('image_id') if isinstance(r, dict) else None!r}, not in {source.path}")
            if r.get("category_id") not in cats:
                raise CocoFormatError(f"{self.mined_results}: mined box #{i} (image id {r['image_id']}) has unknown "
                                      f"category {r.get('category_id')!r}")  # fmt: skip
            score = r.get("score", 1.0)
            if not isinstance(score, (int, float)) or isinstance(score, bool):
                raise CocoFormatError(f"{self.mined_results}: mined box #{i} (image id {r['image_id']}) has "
                                      f"score {score!r}")  # fmt: skip
            if score < self.score_threshold:
                continue
            try:
                x, y, w, h = (float(v) for v in r["bbox"])
            except (KeyError, TypeError, ValueError):
                raise CocoFormatError(f"{self.mined_results}: mined box #{i} (image id {r['image_id']}) has bbox "
                                      f"{r.get('bbox')!r}") from None  # fmt: skip
            self._by_image.setdefault(r["image_id"], []).append(OrderedDict(
                category_id=r["category_id"], bbox=[x, y, w, h], area=w * h, iscrowd=0, mined=True, score=float(score)))

    def produce(self, source, image_ids):
        for iid in image_ids:
            yield iid, {}, self._by_image.get(iid, [])

    def statistics(self, source, output, results):
        return OrderedDict(images=len(source.coco["images"]), annotations=len(source.coco["annotations"]))


def export_mined_annotations(
    input_json: str, mined_results: str, output_json: str, *, score_threshold: float = 0.0
) -> Dict[str, Any]:
    """Write ``input_json`` with the mined boxes of ``mined_results`` added as annotations.

    Each mined box with ``score >= score_threshold`` becomes an annotation ``{id, image_id,
    category_id, bbox, area, iscrowd 0, mined: true, score}``, added by the relabel engine
    (:func:`pointdet.engine.relabel.relabel_file`: validated, ids after the largest one in the
    input's image order then the results file's order, ``info`` with the inputs' checksums and
    ``statistics.added``, atomic write, resumable); the input's annotations are unchanged.

    Returns:
        statistics ``{images, annotations, mined}``.
    """
    stats = relabel_file(_MinedBoxes(mined_results, score_threshold), input_json, output_json, keep={}, progress=False)
    return OrderedDict(images=stats["images"], annotations=stats["annotations"], mined=stats["added"])
