"""Click-supervised MIL re-localization (Papadopoulos et al., "Training object class detectors
with click supervision", CVPR 2017), and its reference MIL without clicks.

Loop (paper Sec. 2-4), per class, over the clicked objects of a click file:

1. initialization: each object's window is the largest window centred on its click (mean of
   two clicks) inside the image; reference MIL: the whole image;
2. re-training: a linear classifier A on frozen ImageNet RoI features (the appearance model,
   :mod:`pointdet.modeling.clickmil.appearance`) with the current windows as positives and
   negatives from images without the class; where there are none (single-class data, e.g. the
   tree demo) the proposals of positive images that contain no click of the class (a warning
   names the class; documented in projects/ClickSupervision/README.md);
3. re-localization: each object takes the proposal of its image maximising
   S = S_ap * s_bc (* s_ba with two clicks and a fitted mu), S_ap = 1/2 A + 1/2 O;
   reference MIL: S = S_ap, one choice per image and class shared by its objects;
4. multi-folding (Cinbis et al.): positive images are split into K folds and each fold is
   re-localized by an A trained on the other folds' windows.

CorLoc and mIoU_box against the true boxes (:func:`pointdet.evaluation.annotation_quality.corloc_miou`,
per object) are computed after the initialization and every iteration, logged, stored and
plotted. The final windows are written as a box file through the relabel engine
(:mod:`pointdet.engine.relabel`): ``bbox``/``area`` per object, ``clickmil_score``, the clicks kept.

Bad input: a click outside its image (warning naming image and annotation id; the object is
left out and counts as missed in CorLoc), an image without proposals (warning naming it; its
objects keep their initial window), a class with neither negative images nor unclicked
proposals (error naming it), a proposal file missing an image (error naming it).
"""
import copy
import json
import logging
import os
from collections import OrderedDict, defaultdict
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from pointdet.data.coco_io import check_outputs_not_inputs, load_coco_dict, resolve_image_path
from pointdet.evaluation.annotation_quality import corloc_miou
from pointdet.layers.image_bounds import points_inside_image
from pointdet.modeling.clickmil.appearance import fit_linear_classifier
from pointdet.modeling.clickmil.proposals import load_image_proposals
from pointdet.modeling.clickmil.scores import AreaFromClickDistance, click_center, initial_window, relocalization_scores

from .relabel import RelabelProducer, relabel_file

__all__ = [
    "ClickMILConfig",
    "ClickMIL",
    "run_click_mil",
    "click_mil_from_config",
    "image_class_corloc",
    "load_clickmil_boxes",
    "plot_corloc_history",
]

logger = logging.getLogger(__name__)


@dataclass
class ClickMILConfig:
    """Hyperparameters of the MIL loop (defaults: the paper where it states them, else ours).

    Attributes:
        use_clicks: False gives the reference MIL (whole-image initialization, S = S_ap).
        use_box_area: multiply by s_ba for objects with two clicks (needs a mu file).
        num_iterations: re-training / re-localization rounds (ours; the paper iterates to
            convergence).
        num_folds: multi-folding K (Cinbis et al. use 10); 1 disables it.
        appearance_weight: w_A in S_ap = w_A A + (1 - w_A) O (paper: 1/2).
        sigma_bc: s_bc spread in px (ours; the paper's value is not stated in what we read).
        sigma_ba: s_ba spread in log-area units (ours; the mu fit's residual std is a data-driven choice).
        l2, lbfgs_iters: the linear classifier's regularisation and optimiser steps.
        max_negatives_per_image: random subsample of an image's negative proposals (seeded).
        seed: folds and negative subsampling.
    """

    use_clicks: bool = True
    use_box_area: bool = True
    num_iterations: int = 5
    num_folds: int = 10
    appearance_weight: float = 0.5
    sigma_bc: float = 20.0
    sigma_ba: float = 1.0
    l2: float = 1e-3
    lbfgs_iters: int = 100
    max_negatives_per_image: int = 200
    seed: int = 0


def _clicks_of(ann: Dict[str, Any]) -> Optional[np.ndarray]:
    if "clicks" in ann:
        return np.asarray(ann["clicks"], dtype=np.float64).reshape(-1, 2)
    if "point" in ann:
        return np.asarray(ann["point"], dtype=np.float64).reshape(1, 2)
    return None


def image_class_corloc(pseudo: Dict[str, Any], gt: Dict[str, Any], iou_threshold: float = 0.5,
                       score_key: str = "clickmil_score") -> float:
    """CorLoc per image-class pair, the paper's protocol (weakly supervised localization).

    For every (image, category) pair with at least one non-crowd GT box, the pair's window is
    the ``bbox`` of its pseudo annotation with the highest ``score_key`` (missing or null
    scores rank last; ties: the lowest annotation id); the pair is correctly localized when
    that window has IoU >= ``iou_threshold`` with any GT box of the category in the image.
    A pair without a pseudo box counts as missed.

    Args:
        pseudo, gt: COCO dicts (pseudo annotations with ``bbox``; GT with ``bbox``).
    Returns:
        the fraction of pairs (nan without pairs).
    """
    from pointdet.evaluation.annotation_quality import box_iou_xywh

    gt_boxes: Dict[Any, List] = defaultdict(list)
    for a in gt["annotations"]:
        if not a.get("iscrowd", 0):
            gt_boxes[(a["image_id"], a["category_id"])].append(a["bbox"])
    best: Dict[Any, Any] = {}
    for a in sorted(pseudo["annotations"], key=lambda a: a["id"]):
        if "bbox" not in a:
            continue
        sc = a.get(score_key)
        sc = float("-inf") if sc is None or not np.isfinite(sc) else float(sc)
        key = (a["image_id"], a["category_id"])
        if key not in best or sc > best[key][0]:
            best[key] = (sc, a["bbox"])
    if not gt_boxes:
        return float("nan")
    hits = [key in best and box_iou_xywh(best[key][1], np.asarray(g)).max() >= iou_threshold
            for key, g in gt_boxes.items()]
    return float(np.mean(hits))


class ClickMIL:
    """The MIL loop on one click file (see the module docstring). ``run()`` returns the history."""

    def __init__(self, model, clicks_json: str, image_root: str, proposals: str, cfg: ClickMILConfig = ClickMILConfig(),
                 gt_json: Optional[str] = None, mu: Optional[AreaFromClickDistance] = None, progress: bool = True):
        self.model, self.cfg, self.gt_json, self.mu, self.progress = model, cfg, gt_json, mu, progress
        self.clicks_json, self.image_root, self.proposals_path = clicks_json, image_root, proposals
        self.coco = load_coco_dict(clicks_json)
        self.images = OrderedDict((im["id"], im) for im in self.coco["images"])
        self.props = load_image_proposals(proposals, self.coco, clicks_json)
        self.warnings: List[str] = []
        self._collect_objects()

    # ------------------------------------------------------------------ inputs
    def _warn(self, msg: str) -> None:
        logger.warning(msg)
        self.warnings.append(msg)

    def _collect_objects(self) -> None:
        self.objects: "OrderedDict[int, Dict[str, Any]]" = OrderedDict()
        for a in self.coco["annotations"]:
            if a.get("iscrowd", 0):
                continue
            c = _clicks_of(a)
            if c is None:
                raise ValueError(f"{self.clicks_json}: annotation id {a['id']} (image id {a['image_id']}) has no "
                                 "'clicks' or 'point'")
            im = self.images[a["image_id"]]
            inside = points_inside_image(c, (im["height"], im["width"]))
            if not inside.all():
                self._warn(f"{self.clicks_json}: image id {a['image_id']} ({im['file_name']}), annotation id {a['id']}: "
                           f"click {c[~inside][0].tolist()} lies outside the image ({im['width']}x{im['height']}); "
                           "the object is left out (counts as missed in CorLoc)")
                continue
            self.objects[a["id"]] = dict(image_id=a["image_id"], category_id=a["category_id"], clicks=c,
                                         centre=click_center(c))
        empty = [i for i in {o["image_id"] for o in self.objects.values()} if len(self.props[i][0]) == 0]
        for iid in sorted(empty):
            self._warn(f"{self.proposals_path}: image id {iid} ({self.images[iid]['file_name']}) has no proposals; "
                       "its objects keep their initial windows")
        self.no_proposals = set(empty)
        two = sum(len(o["clicks"]) == 2 for o in self.objects.values())
        if self.cfg.use_clicks and self.cfg.use_box_area and self.mu is None and two:
            self._warn(f"{self.clicks_json}: {two} objects have two clicks but no mu was given; they are scored "
                       "without the box-area score s_ba (fit one with tools/fit_click_area.py)")

    def _read_image(self, iid: int) -> torch.Tensor:
        from detectron2.data.detection_utils import read_image

        im = self.images[iid]
        path = resolve_image_path(self.image_root, im["file_name"], path=self.clicks_json, image_id=iid)
        arr = read_image(path, format=getattr(self.model, "input_format", "RGB"))
        return torch.as_tensor(np.ascontiguousarray(arr.transpose(2, 0, 1)))

    def _init_box(self, obj) -> np.ndarray:
        im = self.images[obj["image_id"]]
        if self.cfg.use_clicks:
            return initial_window(obj["centre"], (im["height"], im["width"]))
        return np.array([0.0, 0.0, im["width"], im["height"]])

    def _extract(self) -> None:
        """Features of every proposal and initial window (once; the backbone is frozen)."""
        self.model.eval()
        self.prop_feats: Dict[int, torch.Tensor] = {}
        self.init_feats: Dict[int, torch.Tensor] = {}
        iids = list(self.images)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(iids, desc="clickmil features", unit="img")
        for iid in (bar if bar is not None else iids):
            objs = [(aid, o) for aid, o in self.objects.items() if o["image_id"] == iid]
            boxes = self.props[iid][0]
            inits = np.stack([self._init_box(o) for _, o in objs]) if objs else np.zeros((0, 4))
            allb = np.concatenate([boxes, inits]).reshape(-1, 4)
            if len(allb) == 0:
                self.prop_feats[iid] = torch.zeros(0, self.model.feature_dim)
                continue
            xyxy = np.concatenate([allb[:, :2], allb[:, :2] + allb[:, 2:]], 1)
            f = self.model.extract_features(self._read_image(iid), xyxy).cpu()
            self.prop_feats[iid] = f[: len(boxes)]
            for k, (aid, _) in enumerate(objs):
                self.init_feats[aid] = f[len(boxes) + k]

    def _negatives(self, cat: int) -> torch.Tensor:
        rng = np.random.default_rng(self.cfg.seed + 7919 * cat)
        pos_images = {o["image_id"] for o in self.objects.values() if o["category_id"] == cat}
        cat_images = {a["image_id"] for a in self.coco["annotations"] if a["category_id"] == cat}
        neg_images = [i for i in self.images if i not in cat_images]
        feats = []
        if not neg_images:
            self._warn(f"{self.clicks_json}: category id {cat} has no negative images (every image holds it); "
                       "negatives are the proposals of its images that contain no click of the category")
            for iid in sorted(pos_images):
                b = self.props[iid][0]
                if len(b) == 0:
                    continue
                clicks = np.concatenate([o["clicks"] for o in self.objects.values()
                                         if o["image_id"] == iid and o["category_id"] == cat])
                x1, y1, x2, y2 = b[:, 0:1], b[:, 1:2], b[:, 0:1] + b[:, 2:3], b[:, 1:2] + b[:, 3:4]
                contains = ((clicks[None, :, 0] >= x1) & (clicks[None, :, 0] <= x2) &
                            (clicks[None, :, 1] >= y1) & (clicks[None, :, 1] <= y2)).any(1)
                feats.append(self._subsample(self.prop_feats[iid][torch.as_tensor(~contains)], rng))
        else:
            for iid in neg_images:
                if iid in self.prop_feats and len(self.prop_feats[iid]):
                    feats.append(self._subsample(self.prop_feats[iid], rng))
        feats = [f for f in feats if len(f)]
        if not feats:
            raise ValueError(f"{self.clicks_json}: category id {cat} has no negatives: no image without it and no "
                             "proposal without a click of it")
        return torch.cat(feats)

    def _subsample(self, f: torch.Tensor, rng) -> torch.Tensor:
        n = self.cfg.max_negatives_per_image
        if n and len(f) > n:
            f = f[torch.as_tensor(np.sort(rng.choice(len(f), n, replace=False)))]
        return f

    # ------------------------------------------------------------------ the loop
    def _relocalize_image(self, iid, objs, w, b):
        boxes, obj = self.props[iid]
        A = torch.sigmoid(self.prop_feats[iid] @ w + b).numpy().astype(np.float64)
        c = self.cfg
        out = {}
        for aid in objs:
            o = self.objects[aid]
            use_area = c.use_clicks and c.use_box_area and self.mu is not None and len(o["clicks"]) == 2
            s = relocalization_scores(boxes, A, obj, o["clicks"] if c.use_clicks else None,
                                      appearance_weight=c.appearance_weight,
                                      sigma_bc=c.sigma_bc if c.use_clicks else None,
                                      mu=self.mu if use_area else None, sigma_ba=c.sigma_ba)
            k = int(np.argmax(s))
            out[aid] = (boxes[k], self.prop_feats[iid][k], float(s[k]))
        return out

    def run(self) -> List[Dict[str, Any]]:
        c = self.cfg
        self._extract()
        self.boxes = {aid: self._init_box(o) for aid, o in self.objects.items()}
        self.scores = {aid: float("nan") for aid in self.objects}
        feats = dict(self.init_feats)
        self.history = [self._evaluate(0)]
        by_cat = defaultdict(list)
        for aid, o in self.objects.items():
            by_cat[o["category_id"]].append(aid)
        negatives = {cat: self._negatives(cat) for cat in by_cat}
        for it in range(1, c.num_iterations + 1):
            new_boxes, new_feats = {}, {}
            for cat, aids in by_cat.items():
                images = sorted({self.objects[a]["image_id"] for a in aids})
                rng = np.random.default_rng(c.seed + 104729 * cat)
                order = rng.permutation(len(images))
                K = max(1, min(c.num_folds, len(images)))
                fold_of = {images[j]: f % K for f, j in enumerate(order)}
                for fold in range(K):
                    train = [a for a in aids if K == 1 or fold_of[self.objects[a]["image_id"]] != fold]
                    if not train:
                        continue
                    w, b = fit_linear_classifier(torch.stack([feats[a] for a in train]), negatives[cat],
                                                 l2=c.l2, max_iter=c.lbfgs_iters)
                    for iid in [i for i in images if fold_of[i] == fold and i not in self.no_proposals]:
                        objs = [a for a in aids if self.objects[a]["image_id"] == iid]
                        for aid, (box, f, s) in self._relocalize_image(iid, objs, w, b).items():
                            new_boxes[aid], new_feats[aid], self.scores[aid] = box, f, s
            self.boxes.update(new_boxes)
            feats.update(new_feats)
            self.history.append(self._evaluate(it))
        return self.history

    # ------------------------------------------------------------------ outputs
    def pseudo_dict(self) -> Dict[str, Any]:
        """The click file with ``bbox`` = current window of every kept object (others dropped)."""
        d = copy.deepcopy(self.coco)
        d["annotations"] = [dict(a, bbox=[float(v) for v in self.boxes[a["id"]]]) for a in d["annotations"]
                            if a["id"] in self.boxes]
        return d

    def _gt(self) -> Dict[str, Any]:
        if getattr(self, "_gt_cache", None) is None:
            self._gt_cache = load_coco_dict(self.gt_json)
        return self._gt_cache

    def proposal_upper_bound(self) -> float:
        """CorLoc of the best proposal of each object's image (the most any choice can reach;
        objects left out or in images without proposals count as missed). Needs ``gt_json``."""
        from pointdet.evaluation.annotation_quality import box_iou_xywh

        gt = self._gt()
        hits = []
        for a in gt["annotations"]:
            if a.get("iscrowd", 0):
                continue
            boxes = self.props.get(a["image_id"], (np.zeros((0, 4)),))[0]
            ok = a["id"] in self.objects and len(boxes) > 0
            hits.append(bool(ok and box_iou_xywh(boxes, np.asarray(a["bbox"])).max() >= 0.5))
        return float(np.mean(hits)) if hits else float("nan")

    def _evaluate(self, it: int) -> Dict[str, Any]:
        rec = OrderedDict(iteration=it)
        if self.gt_json is not None:
            m = corloc_miou(self.pseudo_dict(), self.gt_json)
            rec.update(corloc=m["corloc"], miou_box=m["miou_box"], num_gt=m["num_gt"], num_missing=m["num_missing"])
            pseudo = self.pseudo_dict()
            for a in pseudo["annotations"]:
                a["clickmil_score"] = self.scores.get(a["id"])
            rec["corloc_image_class"] = image_class_corloc(pseudo, self._gt())
            if it == 0:
                rec["proposal_upper_bound"] = self.proposal_upper_bound()
                logger.info("clickmil: CorLoc upper bound of the proposals (best proposal per object) %.4f",
                            rec["proposal_upper_bound"])
            logger.info("clickmil %s iteration %d: CorLoc %.4f, mIoU_box %.4f (%d objects, %d missed), "
                        "CorLoc per image-class pair %.4f", "clicks" if self.cfg.use_clicks else "reference", it,
                        m["corloc"], m["miou_box"], m["num_gt"], m["num_missing"], rec["corloc_image_class"])
        return rec

    def results(self) -> Dict[int, Dict[int, Dict[str, Any]]]:
        """``{image id: {annotation id: {bbox, area, clickmil_score}}}`` for the relabel engine."""
        out: Dict[int, Dict[int, Dict[str, Any]]] = defaultdict(dict)
        for aid, box in self.boxes.items():
            s = self.scores.get(aid)
            fields = OrderedDict(bbox=[float(v) for v in box], area=float(box[2] * box[3]))
            fields["clickmil_score"] = None if s is None or not np.isfinite(s) else float(s)
            out[self.objects[aid]["image_id"]][aid] = fields
        return out


class _ClickMILBoxes(RelabelProducer):
    """Relabel producer yielding the boxes of a finished :class:`ClickMIL` run."""

    generator = "pointdet.clickmil"
    description = "pointdet click-supervised MIL boxes (Papadopoulos et al. CVPR 2017)"

    def __init__(self, mil: ClickMIL):
        self.mil = mil

    def params(self):
        return OrderedDict(asdict(self.mil.cfg), mu=None if self.mil.mu is None else asdict(self.mil.mu))

    def inputs(self):
        return {"proposals": self.mil.proposals_path}

    def produce(self, source, image_ids):
        res = self.mil.results()
        for iid in image_ids:
            yield iid, res.get(iid, {})

    def statistics(self, source, output, results):
        st = super().statistics(source, output, results)
        st["history"] = self.mil.history
        st["warnings"] = self.mil.warnings
        return st


def plot_corloc_history(histories: Dict[str, List[Dict[str, Any]]], path: str) -> str:
    """CorLoc per iteration of one or more runs (``{label: history}``) as a PNG."""
    from pointdet.evaluation.plots import _figure, _save

    fig = _figure(figsize=(5, 3.5), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for label, h in histories.items():
        ax.plot([r["iteration"] for r in h], [100 * r.get("corloc", float("nan")) for r in h], marker="o", label=label)
    ax.set_xlabel("MIL iteration (0 = initialization)")
    ax.set_ylabel("CorLoc (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return _save(fig, path)


def run_click_mil(model, clicks_json: str, image_root: str, proposals: str, output_json: str,
                  cfg: ClickMILConfig = ClickMILConfig(), gt_json: Optional[str] = None,
                  mu: Optional[str] = None, output_dir: Optional[str] = None, progress: bool = True) -> Dict[str, Any]:
    """Run the MIL loop and write the box file ``output_json`` (relabel engine), the history
    ``<output_dir>/clickmil_history.json`` and the plot ``corloc.png`` (when ``gt_json`` is given).
    Returns the relabel statistics (with ``history`` and ``warnings``)."""
    check_outputs_not_inputs([output_json], [clicks_json, image_root, proposals, gt_json, mu])
    mu_obj = AreaFromClickDistance.load(mu) if mu else None
    mil = ClickMIL(model, clicks_json, image_root, proposals, cfg, gt_json=gt_json, mu=mu_obj, progress=progress)
    mil.run()
    stats = relabel_file(_ClickMILBoxes(mil), clicks_json, output_json, keep={}, image_root=image_root,
                         resume=False, progress=progress)
    output_dir = output_dir or os.path.dirname(os.path.abspath(output_json))
    from pointdet.data.coco_io import atomic_write_json

    atomic_write_json({"config": asdict(cfg), "history": mil.history, "warnings": mil.warnings},
                      os.path.join(output_dir, "clickmil_history.json"), indent=1)
    if gt_json is not None:
        plot_corloc_history({"clicks" if cfg.use_clicks else "reference MIL": mil.history},
                            os.path.join(output_dir, "corloc.png"))
    return stats


def click_mil_from_config(cfg, clicks_json: str, image_root: str, proposals: str, output_json: str,
                          gt_json: Optional[str] = None, mu: Optional[str] = None,
                          output_dir: Optional[str] = None, progress: bool = True) -> Dict[str, Any]:
    """:func:`run_click_mil` with the ``model`` and ``mil`` of a LazyConfig (``cfg.device`` or cpu)."""
    from detectron2.config import instantiate

    model = instantiate(cfg.model).to(cfg.get("device", "cpu"))
    mil_cfg = ClickMILConfig(**dict(cfg.mil)) if "mil" in cfg else ClickMILConfig()
    return run_click_mil(model, clicks_json, image_root, proposals, output_json, mil_cfg, gt_json=gt_json,
                         mu=mu, output_dir=output_dir, progress=progress)


def load_clickmil_boxes(json_file: str, image_root: str, dataset_name: Optional[str] = None) -> List[Dict[str, Any]]:
    """Detectron2 dataset dicts of a click-MIL box file for deep MIL (a detector trained on the
    final windows). Objects the loop left out (click outside the image) have no ``bbox`` and are
    dropped here, with a warning giving their number."""
    from detectron2.data.datasets import load_coco_json

    if not os.path.isfile(json_file):
        raise FileNotFoundError(f"click-MIL box file not found: {json_file} (run tools/click_mil.py first)")
    dicts = load_coco_json(json_file, image_root, dataset_name)
    dropped = 0
    for d in dicts:
        keep = [a for a in d.get("annotations", []) if "bbox" in a]
        dropped += len(d.get("annotations", [])) - len(keep)
        d["annotations"] = keep
    if dropped:
        logger.warning("%s: %d objects have no click-MIL box (left out of the loop) and are dropped", json_file, dropped)
    return dicts
