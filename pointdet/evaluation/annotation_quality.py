"""Annotation-quality metrics: RSV and the relative-position heat-map (CPR Sec. 4.3, Eq. 13-14),
CorLoc and mIoU_box of pseudo boxes (click supervision; SAPNet Table 7), and precision/recall of
mined pseudo-labels against erased GT (SIOD/DMiner, Co-mining).

Everything works on plain COCO-format dicts or files (read with
:func:`pointdet.data.coco_io.load_coco_dict`). A weak or refined annotation file is compared
with the full GT file by annotation id (point and click generators keep the ids); the
annotation's image and category must agree in both files, and a GT file whose checksum is not
in the weak file's provenance (``info.source_sha256`` along its ``source_info`` chain) is refused.
Boxes are [x, y, w, h] in Detectron2's continuous convention: centre (x + w/2, y + h/2).

:func:`evaluate_rsv_file`, :func:`evaluate_boxes_file` and :func:`evaluate_mined_file` are the
commands of ``tools/evaluate_annotations.py``: each computes one metric, prints it and writes
the requested outputs (never over an input file).
"""
import math
import os
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from pointdet.data.coco_io import (
    CocoFormatError,
    atomic_write_json,
    check_outputs_not_inputs,
    file_sha256,
    load_coco_dict,
    validate_coco_dict,
)
from pointdet.data.provenance import source_checksums
from pointdet.evaluation.results_io import load_results

__all__ = [
    "relative_positions",
    "rsv",
    "compute_rsv",
    "check_pair",
    "check_same_source",
    "relative_position_histogram",
    "box_iou_xywh",
    "corloc_miou",
    "pseudo_label_precision_recall",
    "SAPNET_SIZE_BUCKETS",
    "evaluate_rsv_file",
    "evaluate_boxes_file",
    "evaluate_mined_file",
]

CocoLike = Union[str, Dict[str, Any]]

#: SAPNet's mIoU_box buckets on GT box area (px^2): s < 32^2 <= m < 64^2 <= l < 128^2 <= h
SAPNET_SIZE_BUCKETS = (("s", 0.0, 32.0**2), ("m", 32.0**2, 64.0**2), ("l", 64.0**2, 128.0**2), ("h", 128.0**2, math.inf))


def _load(coco: CocoLike, what: str) -> Tuple[Dict[str, Any], str]:
    if isinstance(coco, (str, os.PathLike)):
        return load_coco_dict(os.fspath(coco)), os.fspath(coco)
    if not isinstance(coco, dict):
        raise TypeError(f"{what} must be a COCO file path or dict, got {type(coco).__name__}")
    validate_coco_dict(coco, f"<{what} dict>")
    return coco, f"<{what} dict>"


def _gt_boxes_by_id(gt: Dict[str, Any], src: str) -> Dict[int, Dict[str, Any]]:
    out = {}
    for a in gt["annotations"]:
        if "bbox" not in a:
            raise CocoFormatError(f"{src}: annotation id {a['id']} has no 'bbox'; the full box GT file is required")
        out[a["id"]] = a
    return out


def check_same_source(weak_d: Dict[str, Any], weak_src: str, gt: CocoLike, gt_src: str) -> None:
    """Refuse a GT file that is not the one the weak file was derived from, when the weak file's
    provenance chain (``info.source_sha256``, ``info.source_info.source_sha256``, ...) records
    checksums and none of them is the GT file's."""
    if not isinstance(gt, (str, os.PathLike)):
        return
    chain = source_checksums(weak_d.get("info"))
    if chain and file_sha256(os.fspath(gt)) not in chain.values():
        raise CocoFormatError(
            f"{weak_src}: was derived from a file with sha256 {chain[min(chain)][:16]}..., not from the GT file "
            f"{gt_src}; compare a weak file with the GT it was made from"
        )


def check_pair(weak_ann: Dict[str, Any], gt_ann: Dict[str, Any], weak_src: str, gt_src: str) -> None:
    """A weak annotation and the GT annotation of the same id must have the same image and category."""
    for k in ("image_id", "category_id"):
        if weak_ann.get(k) != gt_ann.get(k):
            raise CocoFormatError(
                f"{weak_src}: annotation id {weak_ann['id']} has {k} {weak_ann.get(k)!r}, the GT file {gt_src} "
                f"has {gt_ann.get(k)!r} for that id: the files do not describe the same objects"
            )


# ----------------------------------------------------------------------------------------
# RSV (CPR Eq. 13) and the relative-position distribution (Eq. 14, Fig. 6)
# ----------------------------------------------------------------------------------------
def relative_positions(
    weak: CocoLike, gt: Optional[CocoLike] = None, point_key: str = "point"
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative positions x' = (x - xc) / w, y' = (y - yc) / h of annotated points (CPR Eq. 13).

    Args:
        weak: point (``point``) or click (``clicks``) file, or a refined point file.
        gt: the full box file the weak file was made from (same annotation ids, same image and
            category per id, and its checksum in the weak file's provenance where recorded);
            None: the boxes kept in the weak file itself (``true_bbox``; annotations without
            one are skipped).
        point_key: ``"point"`` (or another single-point key such as ``"coarse_point"``), or
            ``"clicks"`` (every click of an object is one sample).
    Returns:
        rel (N, 2) float64, category ids (N,), annotation ids (N,). Crowd objects are skipped.
    Raises:
        CocoFormatError: a weak annotation id absent from the GT file, of another image or
            category there, without ``point_key``, or a GT file the weak file was not made from.
    """
    rel, cats, ids, _ = _relative_positions_and_boxes(weak, gt, point_key)
    return rel, cats, ids


def _relative_positions_and_boxes(
    weak: CocoLike, gt: Optional[CocoLike] = None, point_key: str = "point"
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`relative_positions` plus the (N, 4) xywh GT box of every sample."""
    weak_d, weak_src = _load(weak, "weak")
    if gt is not None:
        gt_d, gt_src = _load(gt, "gt")
        check_same_source(weak_d, weak_src, gt, gt_src)
        gt_by_id = _gt_boxes_by_id(gt_d, gt_src)
    rel, cats, ids, boxes = [], [], [], []
    for a in weak_d["annotations"]:
        aid = a["id"]
        if gt is None:
            tb = a.get("true_bbox")
            if a.get("iscrowd", 0) or tb is None or tb[2] <= 0 or tb[3] <= 0:
                continue
            g = {"bbox": a["true_bbox"], "category_id": a["category_id"]}
        else:
            g = gt_by_id.get(aid)
            if g is None:
                raise CocoFormatError(f"{weak_src}: annotation id {aid} is not in the GT file {gt_src}")
            check_pair(a, g, weak_src, gt_src)
            if g.get("iscrowd", 0):
                continue
        if point_key not in a:
            raise CocoFormatError(f"{weak_src}: annotation id {aid} has no '{point_key}'")
        pts = a[point_key] if point_key == "clicks" else [a[point_key]]
        x, y, w, h = g["bbox"]
        for px, py in pts:
            rel.append(((px - (x + w / 2.0)) / w, (py - (y + h / 2.0)) / h))
            cats.append(g["category_id"])
            ids.append(aid)
            boxes.append((x, y, w, h))
    return (
        np.asarray(rel, dtype=np.float64).reshape(-1, 2),
        np.asarray(cats, dtype=np.int64),
        np.asarray(ids, dtype=np.int64),
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
    )


def rsv(rel: np.ndarray) -> float:
    """Relative semantic variance, CPR Eq. 13: sqrt(Var(x') * Var(y')), population variance (ddof=0).

    Args:
        rel: (N, 2) relative positions. Returns NaN for N == 0.
    """
    rel = np.asarray(rel, dtype=np.float64).reshape(-1, 2)
    if len(rel) == 0:
        return float("nan")
    return float(math.sqrt(np.var(rel[:, 0]) * np.var(rel[:, 1])))


def compute_rsv(
    weak: CocoLike, gt: Optional[CocoLike] = None, point_key: str = "point", size_edges: Optional[Sequence[float]] = None
) -> Dict[str, Any]:
    """RSV overall, per category and optionally per object size.

    Args:
        weak, gt, point_key: see :func:`relative_positions`.
        size_edges: increasing object sizes in pixels, sqrt(w * h) of the GT box, e.g. (25, 40)
            for the bins "<25", "25-40", ">=40".
    Returns:
        ``{"rsv", "num", "per_category": {cat_id: {"rsv", "num"}}}`` and, with ``size_edges``,
        ``"per_size": {label: {"rsv", "num"}}`` (RSV NaN for an empty bin).
    """
    rel, cats, _, boxes = _relative_positions_and_boxes(weak, gt, point_key)
    per = OrderedDict()
    for c in sorted(set(cats.tolist())):
        m = cats == c
        per[int(c)] = {"rsv": rsv(rel[m]), "num": int(m.sum())}
    out = {"rsv": rsv(rel), "num": int(len(rel)), "per_category": per}
    if size_edges is not None:
        edges = [float(e) for e in size_edges]
        if not edges or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] <= 0:
            raise ValueError(f"size_edges must be increasing positive sizes in px, got {list(size_edges)}")
        size = np.sqrt(boxes[:, 2] * boxes[:, 3])
        bounds = [0.0] + edges + [float("inf")]
        out["per_size"] = OrderedDict()
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            label = f"<{hi:g}" if lo == 0 else (f">={lo:g}" if hi == float("inf") else f"{lo:g}-{hi:g}")
            m = (size >= lo) & (size < hi)
            out["per_size"][label] = {"rsv": rsv(rel[m]), "num": int(m.sum())}
    return out


def relative_position_histogram(
    rel: np.ndarray, bins: int = 100, extent: float = 0.5
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised 2-D histogram Prob(x', y') (CPR Eq. 14 / Fig. 6).

    Args:
        rel: (N, 2) relative positions; points clipped to their box lie in [-0.5, 0.5].
        bins: bins per axis (the reference plot uses 100).
        extent: histogram covers [-extent, extent] on both axes; samples outside are clipped
            onto the border bins so that the histogram still sums to 1.
    Returns:
        hist (bins_y, bins_x) summing to 1 (zeros when N == 0), x edges, y edges.
    """
    rel = np.asarray(rel, dtype=np.float64).reshape(-1, 2)
    edges = np.linspace(-extent, extent, bins + 1)
    r = np.clip(rel, -extent, extent)
    hist, _, _ = np.histogram2d(r[:, 1], r[:, 0], bins=[edges, edges])
    if hist.sum() > 0:
        hist = hist / hist.sum()
    return hist, edges, edges


# ----------------------------------------------------------------------------------------
# box quality: CorLoc, mIoU_box
# ----------------------------------------------------------------------------------------
def box_iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes [x, y, w, h] (continuous coordinates): (N, 4) x (M, 4) -> (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def corloc_miou(
    pseudo: CocoLike, gt: CocoLike, iou_threshold: float = 0.5, size_buckets=SAPNET_SIZE_BUCKETS
) -> Dict[str, Any]:
    """CorLoc and mIoU_box of pseudo boxes, matched to GT by annotation id.

    CorLoc = fraction of non-crowd GT objects whose pseudo box has IoU >= ``iou_threshold``;
    mIoU_box = mean IoU of each GT object's pseudo box with its GT box (SAPNet Table 7).
    A GT object without a pseudo box counts as IoU 0 (reported as ``num_missing``).

    Returns:
        ``{"corloc", "miou_box", "num_gt", "num_missing", "miou_by_size": {label: (miou, n)}}``
        with ``miou_by_size`` over SAPNet's buckets of GT box area.
    Raises:
        CocoFormatError: a pseudo annotation without ``bbox`` or with an id not in the GT file.
    """
    ps_d, ps_src = _load(pseudo, "pseudo")
    gt_d, gt_src = _load(gt, "gt")
    check_same_source(ps_d, ps_src, gt, gt_src)
    gt_by_id = _gt_boxes_by_id(gt_d, gt_src)
    ps_by_id = {}
    for a in ps_d["annotations"]:
        if "bbox" not in a:
            raise CocoFormatError(f"{ps_src}: annotation id {a['id']} has no pseudo 'bbox'")
        if a["id"] not in gt_by_id:
            raise CocoFormatError(f"{ps_src}: annotation id {a['id']} is not in the GT file {gt_src}")
        check_pair(a, gt_by_id[a["id"]], ps_src, gt_src)
        ps_by_id[a["id"]] = a["bbox"]
    ious, areas, missing = [], [], 0
    for aid, g in gt_by_id.items():
        if g.get("iscrowd", 0):
            continue
        areas.append(g["bbox"][2] * g["bbox"][3])
        if aid not in ps_by_id:
            ious.append(0.0)
            missing += 1
        else:
            ious.append(float(box_iou_xywh(ps_by_id[aid], g["bbox"])[0, 0]))
    ious, areas = np.asarray(ious), np.asarray(areas)
    by_size = OrderedDict()
    for label, lo, hi in size_buckets:
        m = (areas >= lo) & (areas < hi)
        by_size[label] = (float(ious[m].mean()) if m.any() else float("nan"), int(m.sum()))
    n = len(ious)
    return {
        "corloc": float((ious >= iou_threshold).mean()) if n else float("nan"),
        "miou_box": float(ious.mean()) if n else float("nan"),
        "num_gt": n,
        "num_missing": missing,
        "miou_by_size": by_size,
    }


# ----------------------------------------------------------------------------------------
# mined pseudo-labels vs erased GT (DMiner / Co-mining)
# ----------------------------------------------------------------------------------------
def pseudo_label_precision_recall(
    pseudo,
    erased_gt: CocoLike,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.0,
    image_ids: Optional[Iterable] = None,
) -> Dict[str, Any]:
    """Precision/recall of mined pseudo boxes against the erased (unlabelled) GT.

    A pseudo box is correct when it has IoU >= ``iou_threshold`` with a still unmatched erased
    GT of the same class in the same image; pseudo boxes are taken greedily by descending score
    (per image and class), each taking the unmatched GT of highest IoU.

    Args:
        pseudo: list / results file of ``{image_id, category_id, bbox, score}`` (score optional,
            default 1) or a COCO file whose annotations are the pseudo boxes.
        erased_gt: the ``<name>_erased.json`` file (erased annotations only).
        score_threshold: pseudo boxes with score below it are dropped first.
        image_ids: score only these images (e.g. the subset that was mined): the erased GT of
            other images does not count towards recall; None = every image of ``erased_gt``.
    Returns:
        ``{"precision", "recall", "tp", "num_pseudo", "num_erased"}``; precision is NaN with no
        pseudo boxes, recall NaN with no erased GT.
    Raises:
        CocoFormatError: malformed pseudo boxes, NaN scores, unknown image ids.
    """
    er_d, er_src = _load(erased_gt, "erased")
    plist, p_src = load_results(pseudo, accept_coco_file=True, what="pseudo boxes")
    img_ids = {im["id"] for im in er_d["images"]}
    if image_ids is not None:
        image_ids = set(image_ids)
        unknown = image_ids - img_ids
        if unknown:
            raise CocoFormatError(f"{er_src}: image ids {sorted(unknown, key=str)[:5]} are not in the file")
        img_ids = image_ids
    gts: Dict[Tuple[int, int], List[List[float]]] = {}
    n_erased = 0
    for a in er_d["annotations"]:
        if a.get("iscrowd", 0) or a["image_id"] not in img_ids:
            continue
        if "bbox" not in a:
            raise CocoFormatError(f"{er_src}: annotation id {a['id']} has no 'bbox'")
        gts.setdefault((a["image_id"], a["category_id"]), []).append(a["bbox"])
        n_erased += 1
    dets: Dict[Tuple[int, int], List[Tuple[float, List[float]]]] = {}
    n_pseudo = 0
    for i, p in enumerate(plist):
        if not isinstance(p, dict) or "bbox" not in p:
            raise CocoFormatError(f"{p_src}: pseudo box #{i} has no 'bbox'")
        b, s = p["bbox"], p.get("score", 1.0)
        if not (isinstance(s, (int, float)) and math.isfinite(s)):
            raise CocoFormatError(f"{p_src}: pseudo box #{i} (image id {p.get('image_id')}) has non-finite score {s!r}")
        if not (isinstance(b, (list, tuple)) and len(b) == 4 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in b)):
            raise CocoFormatError(f"{p_src}: pseudo box #{i} (image id {p.get('image_id')}) has malformed bbox {b!r}")
        if p.get("image_id") not in img_ids:
            raise CocoFormatError(
                f"{p_src}: pseudo box #{i} has image id {p.get('image_id')!r}, not in {er_src}"
                + ("" if image_ids is None else " (restricted to the scored images)")
            )
        if s < score_threshold:
            continue
        dets.setdefault((p["image_id"], p.get("category_id")), []).append((float(s), b))
        n_pseudo += 1
    tp = 0
    for key, dl in dets.items():
        g = gts.get(key)
        if not g:
            continue
        dl = sorted(dl, key=lambda t: -t[0])
        iou = box_iou_xywh([b for _, b in dl], g)
        free = np.ones(len(g), dtype=bool)
        for i in range(len(dl)):
            cand = np.where(free, iou[i], -1.0)
            j = int(np.argmax(cand))
            if cand[j] >= iou_threshold:
                free[j] = False
                tp += 1
    return {
        "precision": tp / n_pseudo if n_pseudo else float("nan"),
        "recall": tp / n_erased if n_erased else float("nan"),
        "tp": tp,
        "num_pseudo": n_pseudo,
        "num_erased": n_erased,
    }


# ----------------------------------------------------------------------------------------
# one function per command of tools/evaluate_annotations.py: compute, print, write outputs
# ----------------------------------------------------------------------------------------
def _json_ready(obj: Any) -> Any:
    """``obj`` with NaN as None, tuples as lists and dict keys as strings (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _check_outputs(outputs: Sequence[Optional[str]], inputs: Sequence[Any]) -> None:
    named = [o for o in outputs if o]
    if len(set(named)) < len(named):
        raise ValueError(f"two outputs name the same file: {named}")
    check_outputs_not_inputs(named, [os.fspath(i) for i in inputs if isinstance(i, (str, os.PathLike))])


def evaluate_rsv_file(
    weak: CocoLike,
    gt: Optional[CocoLike] = None,
    *,
    point_key: str = "point",
    size_edges: Optional[Sequence[float]] = None,
    heatmap: Optional[str] = None,
    bins: int = 100,
    output_json: Optional[str] = None,
    print_fn: Callable[[str], Any] = print,
) -> Dict[str, Any]:
    """RSV of a point or click file (:func:`compute_rsv`), printed overall, per category and per
    size bin; optionally the relative-position heat-map (CPR Fig. 6, ``bins`` per axis) as a PNG
    and the numbers as JSON. Neither output may be an input (``ValueError``, nothing written).

    Returns:
        :func:`compute_rsv`'s dict.
    """
    _check_outputs([output_json, heatmap], [weak, gt])
    out = compute_rsv(weak, gt, point_key=point_key, size_edges=size_edges)
    print_fn(f"RSV = {out['rsv']:.4f} over {out['num']} objects")
    for c, v in out["per_category"].items():
        print_fn(f"  category {c}: RSV = {v['rsv']:.4f} (n={v['num']})")
    for label, v in out.get("per_size", {}).items():
        print_fn(f"  size {label} px: RSV = {v['rsv']:.4f} (n={v['num']})")
    if heatmap:
        from .plots import plot_relative_position_heatmap

        rel, _, _ = relative_positions(weak, gt, point_key=point_key)
        hist, xe, ye = relative_position_histogram(rel, bins=bins)
        name = os.path.basename(weak) if isinstance(weak, (str, os.PathLike)) else "<weak dict>"
        plot_relative_position_heatmap(hist, xe, ye, heatmap, title=f"{name}  RSV={out['rsv']:.3f}")
        print_fn(f"wrote {heatmap}")
    if output_json:
        atomic_write_json(_json_ready(out), output_json, indent=2)
    return out


def evaluate_boxes_file(
    pseudo: CocoLike,
    gt: CocoLike,
    *,
    iou_threshold: float = 0.5,
    output_json: Optional[str] = None,
    print_fn: Callable[[str], Any] = print,
) -> Dict[str, Any]:
    """CorLoc and mIoU_box of a pseudo-box file (:func:`corloc_miou`), printed with mIoU_box per
    SAPNet size bucket; optionally written as JSON (never over an input). Returns the dict."""
    _check_outputs([output_json], [pseudo, gt])
    out = corloc_miou(pseudo, gt, iou_threshold=iou_threshold)
    print_fn(f"CorLoc = {out['corloc']:.4f}  mIoU_box = {out['miou_box']:.4f}  "
             f"(GT objects {out['num_gt']}, without pseudo box {out['num_missing']})")
    for k, (v, n) in out["miou_by_size"].items():
        print_fn(f"  mIoU_box[{k}] = {v:.4f} (n={n})")
    if output_json:
        atomic_write_json(_json_ready(out), output_json, indent=2)
    return out


def evaluate_mined_file(
    pseudo,
    erased_gt: CocoLike,
    *,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.0,
    output_json: Optional[str] = None,
    print_fn: Callable[[str], Any] = print,
) -> Dict[str, Any]:
    """Precision/recall of mined pseudo-labels vs the erased GT (:func:`pseudo_label_precision_recall`),
    printed; optionally written as JSON (never over an input). Returns the dict."""
    _check_outputs([output_json], [pseudo, erased_gt])
    out = pseudo_label_precision_recall(pseudo, erased_gt, iou_threshold=iou_threshold,
                                        score_threshold=score_threshold)
    print_fn(f"precision = {out['precision']:.4f}  recall = {out['recall']:.4f}  "
             f"(TP {out['tp']} / pseudo {out['num_pseudo']} / erased {out['num_erased']})")
    if output_json:
        atomic_write_json(_json_ready(out), output_json, indent=2)
    return out
