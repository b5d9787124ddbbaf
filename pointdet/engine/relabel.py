"""The relabel engine: run a model (or a pure function of predictions) over a training file and
write a new weak-annotation file, annotation by annotation.

CPR's point refinement (CPR Sec. 3.3, Alg. 2), the self-refinement baseline (CPR Sec. 4.2) and
every later "better training labels from a trained model" step (pseudo masks, re-localized
boxes, mined boxes) share the same file handling, done here once:

* a :class:`RelabelProducer` yields, image by image, ``{annotation id: {field: value}}`` with
  the new fields (``point``, ``bbox``, ``segmentation``, scores, ...); a producer with
  :attr:`~RelabelProducer.adds_annotations` may also yield new annotations of the image (e.g.
  Co-mining's mined boxes): they are validated like a COCO file's annotations (image id of the
  image being processed, known category, finite ``bbox`` within bounds, ...), get the ids after
  the largest one of the input (in the input's image order, then in the producer's order) and
  are appended after the input's annotations; ``info.statistics`` counts them (``added``);
* the engine checks every id (unknown annotation, annotation of another image, an annotation
  returned twice: :class:`~pointdet.data.coco_io.CocoFormatError` naming the file and the id),
  keeps the old value of each rewritten field under a named key (``keep``, e.g.
  ``{"point": "coarse_point"}``: every annotation that has a ``point`` gets ``coarse_point``),
  and writes the input's schema with the new values;
* ``info`` records the producer's generator name and parameters, the checksums of the input
  and of every other file the producer read, the caller's config/weights entries, the
  producer's statistics and the input's own ``info`` (:func:`pointdet.data.provenance.build_info`);
* the output is written atomically; progress is shown with tqdm;
* a long run can resume: each finished image (its rewritten fields and added annotations) is
  appended to ``.<output name>.partial`` next to the output, under a key made of the input
  checksum, the producer's parameters and its fingerprint (e.g. a hash of the weights). A killed run continues where it stopped; a changed
  input, parameter or model starts over. The partial file is removed after the final write.
"""
import copy
import hashlib
import json
import logging
import os
from collections import OrderedDict
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from pointdet.data.coco_io import (
    CocoFormatError,
    atomic_write_json,
    check_outputs_not_inputs,
    file_sha256,
    load_coco_dict,
    validate_coco_dict,
)
from pointdet.data.provenance import build_info, with_info
from pointdet.utils.file_io import atomic_open, remove_stale_temp_files

__all__ = [
    "RelabelProducer",
    "RelabelSource",
    "relabel_file",
    "apply_relabel",
    "partial_path",
    "state_dict_sha256",
]

logger = logging.getLogger(__name__)

#: one image's results: ``{annotation id: {field: new value}}``
ImageResults = Dict[int, Dict[str, Any]]


class RelabelSource:
    """The input of a relabel run: ``path`` (the COCO file), ``coco`` (its validated dict),
    ``sha256`` and ``image_root`` (None when the producer reads no images)."""

    def __init__(self, path: str, coco: Dict[str, Any], sha256: str, image_root: Optional[str] = None):
        self.path = path
        self.coco = coco
        self.sha256 = sha256
        self.image_root = image_root


class RelabelProducer:
    """What computes the new annotations. Subclasses set :attr:`generator` (and
    :attr:`description`) and implement :meth:`produce`; the other methods have defaults.

    A producer that sets :attr:`adds_annotations` may yield ``(image_id, results, added)``:
    ``added`` a list of new annotations of that image (COCO annotation dicts without ``id``;
    ``image_id`` optional), marked by the producer (e.g. ``mined: true``). Its statistics then
    also hold ``added`` (the number of added annotations).
    """

    generator: str = "pointdet.relabel"
    description: Optional[str] = None
    adds_annotations: bool = False

    def params(self) -> Mapping[str, Any]:
        """Parameters that change the output: recorded in ``info.params`` and in the resume key."""
        return OrderedDict()

    def fingerprint(self) -> Mapping[str, Any]:
        """Further resume-key entries that are not recorded in the file (e.g. the weights' hash)."""
        return {}

    def inputs(self) -> Mapping[str, Optional[str]]:
        """Other files read, ``{name: path}``: checksummed into ``info`` and the resume key."""
        return {}

    def check(self, source: RelabelSource) -> None:
        """Validate the inputs before any image is processed (raise with file and id)."""

    def produce(self, source: RelabelSource, image_ids: Sequence[Any]) -> Iterator[Tuple]:
        """Yield ``(image_id, results)`` (or ``(image_id, results, added)``, see the class
        docstring) for every image of ``image_ids`` (in any order), also for images without
        results (``{}``), so that a resumed run knows they are done."""
        raise NotImplementedError

    def statistics(self, source: RelabelSource, output: Dict[str, Any], results: Dict[int, Dict[str, Any]]):
        """Statistics recorded in ``info.statistics`` and returned by :func:`relabel_file`."""
        return OrderedDict(images=len(source.coco["images"]), annotations=len(source.coco["annotations"]),
                           relabelled=len(results))


def state_dict_sha256(model) -> str:
    """SHA-256 over a module's state dict (names, dtypes, shapes and values): identifies the
    weights of an in-memory model in a resume key."""
    import torch

    h = hashlib.sha256()
    net = model.module if hasattr(model, "module") else model
    for name, t in net.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def partial_path(output_json: str) -> str:
    """Where a run writing ``output_json`` records its finished images."""
    folder, name = os.path.split(os.path.abspath(output_json))
    return os.path.join(folder, f".{name}.partial")


def _resume_key(source: RelabelSource, producer: RelabelProducer, input_records: Mapping[str, Any]) -> str:
    spec = {
        "generator": producer.generator,
        "source_sha256": source.sha256,
        "params": producer.params(),
        "fingerprint": producer.fingerprint(),
        "inputs": input_records,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def _read_partial(path: str, key: str) -> Dict[Any, Tuple[List, List]]:
    """Finished images ``{image_id: ([[ann_id, fields], ...], [added annotation, ...])}`` of a
    partial record written under ``key``; empty (and the file removed) when it belongs to
    another input or configuration."""
    if not os.path.exists(path):
        return {}
    done: Dict[Any, Tuple[List, List]] = {}
    with open(path) as f:
        lines = f.read().split("\n")
    try:
        header = json.loads(lines[0])
    except (json.JSONDecodeError, IndexError):
        header = None
    if not isinstance(header, dict) or header.get("resume_key") != key:
        logger.info("relabel: %s belongs to another input or configuration; starting over", path)
        os.remove(path)
        return {}
    for line in lines[1:]:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            break  # the line a killed run was writing: that image is redone
        done[rec["image_id"]] = (rec["results"], rec.get("added", []))
    return done


class _PartialWriter:
    """Append-only record of finished images (one JSON line each, flushed to disk). It starts
    from the header and the records read back (rewritten atomically, so a line cut by a kill is
    dropped)."""

    def __init__(self, path: str, key: str, done: Mapping[Any, Tuple[List, List]]):
        self.path = path
        with atomic_open(path, "w") as f:
            f.write(json.dumps({"resume_key": key}) + "\n")
            for iid, (res, added) in done.items():
                f.write(self._line(iid, res, added))
        self.f = open(path, "a")

    @staticmethod
    def _line(image_id: Any, results: List, added: List) -> str:
        rec = {"image_id": image_id, "results": results}
        if added:  # absent for producers that add nothing: their records are unchanged
            rec["added"] = added
        return json.dumps(rec, allow_nan=False) + "\n"

    def add(self, image_id: Any, results: List, added: List) -> None:
        self.f.write(self._line(image_id, results, added))
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self):
        self.f.close()


def _check_image_results(src: str, image_id: Any, results: Mapping, anns_by_id: Mapping[int, Dict],
                         seen: Dict[int, Any]) -> List:
    out = []
    if not isinstance(results, Mapping):
        raise CocoFormatError(f"{src}: the producer returned {type(results).__name__} for image id {image_id}, not a dict")
    for aid, fields in results.items():
        ann = anns_by_id.get(aid)
        if ann is None:
            raise CocoFormatError(f"{src}: the producer returned annotation id {aid!r} (image id {image_id}), "
                                  "which the file does not hold")
        if ann["image_id"] != image_id:
            raise CocoFormatError(f"{src}: annotation id {aid} belongs to image id {ann['image_id']}, "
                                  f"relabelled in image id {image_id}")
        if aid in seen:
            raise CocoFormatError(f"{src}: the producer returned annotation id {aid} twice "
                                  f"(image ids {seen[aid]} and {image_id})")
        if not isinstance(fields, Mapping):
            raise CocoFormatError(f"{src}: the producer returned {type(fields).__name__} for annotation id {aid}")
        seen[aid] = image_id
        out.append([aid, dict(fields)])
    return out


def _check_added(src: str, image: Mapping[str, Any], added: Any, categories: List[Dict]) -> List:
    """The annotations a producer added to ``image``, validated as a COCO file's annotations
    (:func:`~pointdet.data.coco_io.validate_coco_dict`), each with ``image_id`` first."""
    iid = image["id"]
    if not isinstance(added, (list, tuple)):
        raise CocoFormatError(f"{src}: the producer added {type(added).__name__} to image id {iid}, not a list")
    out = []
    for k, ann in enumerate(added):
        where = f"{src}: annotation #{k} added to image id {iid}"
        if not isinstance(ann, Mapping):
            raise CocoFormatError(f"{where} is {type(ann).__name__}, not a dict")
        if "id" in ann:
            raise CocoFormatError(f"{where} has id {ann['id']!r}; added annotations get their ids from the engine")
        if ann.get("image_id", iid) != iid:
            raise CocoFormatError(f"{where} has image id {ann['image_id']!r}")
        rec = OrderedDict(image_id=iid)
        rec.update((f, v) for f, v in ann.items() if f != "image_id")
        try:
            validate_coco_dict({"images": [image], "categories": categories, "annotations": [dict(rec, id=1)]},
                               src, warn_out_of_image=False)  # fmt: skip
        except CocoFormatError as e:
            msg = str(e)
            prefix = f"{src}: annotation id 1"
            raise CocoFormatError(where + msg[len(prefix):] if msg.startswith(prefix) else f"{where}: {msg}") from None
        out.append(rec)
    return out


def apply_relabel(coco: Dict[str, Any], results: Mapping[int, Mapping[str, Any]],
                  keep: Mapping[str, str], added: Sequence[Mapping[str, Any]] = ()) -> Dict[str, Any]:
    """A copy of ``coco`` with the new fields written back by annotation id (input unchanged).

    Every annotation that has a field named in ``keep`` gets the old value under
    ``keep[field]`` (also when nothing rewrote it: one schema for the whole file); then the
    returned fields are set in their order (a new key is appended, an existing one replaced
    in place). ``added`` (complete annotations, with ids) are appended after the input's.
    """
    out = copy.deepcopy(coco)
    for ann in out["annotations"]:
        for field, old_key in keep.items():
            if field in ann:
                ann[old_key] = copy.deepcopy(ann[field])
        for field, value in results.get(ann["id"], {}).items():
            ann[field] = value
    out["annotations"].extend(copy.deepcopy(list(added)))
    return out


def _unpack(producer: RelabelProducer, item) -> Tuple[Any, Any, List]:
    """``(image_id, results, added)`` of one item the producer yielded."""
    if isinstance(item, tuple) and len(item) == 3:
        if not producer.adds_annotations:
            raise TypeError(f"{type(producer).__name__} yielded added annotations but does not set adds_annotations")
        return item
    iid, image_results = item
    return iid, image_results, []


def relabel_file(
    producer: RelabelProducer,
    input_json: str,
    output_json: str,
    *,
    keep: Mapping[str, str],
    image_root: Optional[str] = None,
    extra_info: Optional[Mapping[str, Any]] = None,
    resume: bool = True,
    progress: bool = True,
) -> Dict[str, Any]:
    """Relabel ``input_json`` with ``producer`` and write ``output_json`` (see the module docstring).

    Args:
        producer: computes the new fields per image.
        input_json: the weak-annotation file (validated; the output keeps its schema).
        output_json: where to write; must not be one of the inputs.
        keep: ``{field: key of the old value}``, e.g. ``{"point": "coarse_point"}``.
        image_root: the images of ``input_json`` (for producers that read images).
        extra_info: further ``info`` entries (config, weights, ...), in order.
        resume: continue a killed run of the same input/configuration from its partial record.
        progress: tqdm progress bar over the images.
    Returns:
        the producer's statistics (also in ``info.statistics``).
    """
    other_inputs = dict(producer.inputs())
    check_outputs_not_inputs([output_json, partial_path(output_json)], [input_json, *other_inputs.values()])
    coco = load_coco_dict(input_json)
    source = RelabelSource(input_json, coco, file_sha256(input_json), image_root)
    input_records = {k: (file_sha256(p) if p is not None else None) for k, p in other_inputs.items()}
    producer.check(source)
    key = _resume_key(source, producer, input_records)
    part = partial_path(output_json)
    for p in (output_json, part):  # temp files of killed writes of this output
        remove_stale_temp_files(p)
    done = _read_partial(part, key) if resume else {}
    if not resume and os.path.exists(part):
        os.remove(part)

    anns_by_id = {a["id"]: a for a in coco["annotations"]}
    image_ids = [im["id"] for im in coco["images"]]
    images = {im["id"]: im for im in coco["images"]}
    known = set(image_ids)
    seen: Dict[int, Any] = {}
    results: Dict[int, Dict[str, Any]] = {}
    for iid, (recs, added) in done.items():
        if iid not in known:  # the key matched, so this cannot happen unless the record was edited
            raise CocoFormatError(f"{part}: image id {iid} is not in {input_json}; delete the partial file")
        for aid, fields in _check_image_results(part, iid, {a: f for a, f in recs}, anns_by_id, seen):
            results[aid] = fields
        done[iid] = (recs, _check_added(part, images[iid], added, coco["categories"]))
    todo = [i for i in image_ids if i not in done]
    if done:
        logger.info("relabel: resuming %s, %d of %d images done", output_json, len(done), len(image_ids))

    writer = _PartialWriter(part, key, done)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(image_ids), initial=len(done), desc=producer.generator, unit="img")
    try:
        for item in producer.produce(source, todo):
            iid, image_results, added = _unpack(producer, item)
            if iid not in known:
                raise CocoFormatError(f"{input_json}: the producer returned image id {iid!r}, which the file does not hold")
            if iid in done:
                raise CocoFormatError(f"{input_json}: the producer returned image id {iid} twice")
            recs = _check_image_results(input_json, iid, image_results, anns_by_id, seen)
            added = _check_added(input_json, images[iid], added, coco["categories"])
            writer.add(iid, recs, added)
            done[iid] = (recs, added)
            for aid, fields in recs:
                results[aid] = fields
            if bar is not None:
                bar.update(1)
    finally:
        writer.close()
        if bar is not None:
            bar.close()
    missing = [i for i in image_ids if i not in done]
    if missing:
        raise RuntimeError(f"{input_json}: the producer did not process image id {missing[0]} "
                           f"({len(missing)} images missing); the finished ones are kept in {part}")

    next_id = max((a["id"] for a in coco["annotations"]), default=0) + 1
    new_anns = []
    for iid in image_ids:  # ids in the input's image order, then in the producer's order
        for ann in done[iid][1]:
            new_anns.append(OrderedDict(id=next_id, **ann))
            next_id += 1
    out = apply_relabel(coco, results, keep, new_anns)
    stats = producer.statistics(source, out, results)
    if producer.adds_annotations:
        stats["added"] = len(new_anns)
    extra = OrderedDict(extra_info or {})
    info = build_info(
        producer.generator,
        description=producer.description,
        params=producer.params(),
        seed=getattr(producer, "seed", None),
        inputs=OrderedDict([("source", input_json), *other_inputs.items()]),
        extra=extra,
        statistics=stats,
        source_info=coco.get("info"),
    )
    atomic_write_json(with_info(out, info), output_json)
    os.remove(part)
    logger.info("%s -> %s: %s", producer.generator, output_json, dict(stats))
    return stats
