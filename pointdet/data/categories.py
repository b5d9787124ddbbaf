"""Category ids: the dataset's ids <-> contiguous ids [0, K).

Detectron2's COCO loader maps a file's category ids to contiguous ids in the order of the
sorted ids and stores the map in the metadata as ``thing_dataset_id_to_contiguous_id``;
models predict contiguous ids and evaluators map them back. :class:`CategoryIdMap` is that
rule, in one place, for every pointdet loader, evaluator and engine; an unknown id is a
``ValueError`` that names the id, the known ids and where it came from.
"""
from typing import Any, Dict, Iterable, List, Mapping, Optional

__all__ = ["CategoryIdMap"]


class CategoryIdMap:
    """Bijection between dataset category ids and contiguous ids [0, K) (sorted dataset ids).

    Example::

        m = CategoryIdMap.from_coco(coco_dict["categories"], "train.json")
        m.to_contiguous(7)   # 1 when the file's ids are [3, 7]
        m.to_dataset(1)      # 7
        meta.thing_dataset_id_to_contiguous_id = m.dataset_to_contiguous
    """

    def __init__(self, dataset_ids: Iterable[int], source: str = "<categories>"):
        """
        Args:
            dataset_ids: the dataset's category ids (any order, unique integers).
            source: named in error messages (a file name or dataset name).
        """
        ids = list(dataset_ids)
        for i in ids:
            if not isinstance(i, int) or isinstance(i, bool):
                raise ValueError(f"{source}: category id {i!r} is not an integer")
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"{source}: duplicate category ids {dup}")
        self.source = source
        self.dataset_ids: List[int] = sorted(ids)
        self.dataset_to_contiguous: Dict[int, int] = {cid: k for k, cid in enumerate(self.dataset_ids)}

    @classmethod
    def from_coco(cls, categories: Iterable[Mapping[str, Any]], source: str = "<categories>") -> "CategoryIdMap":
        """From a COCO file's ``categories`` list (each with an ``id``)."""
        return cls((c["id"] for c in categories), source)

    @classmethod
    def from_metadata(cls, metadata: Any) -> "CategoryIdMap":
        """From Detectron2 metadata: its ``thing_dataset_id_to_contiguous_id`` when set.

        That map must be the sorted-ids rule of this class (Detectron2's loaders and
        :func:`pointdet.data.datasets.load_point_coco_json` write it so). Without it the
        contiguous ids are the dataset ids themselves (``0 .. len(thing_classes)-1``, as in a
        dataset registered without a COCO file).
        """
        name = getattr(metadata, "name", "<metadata>")
        mapping = getattr(metadata, "thing_dataset_id_to_contiguous_id", None)
        if mapping is None:
            classes = getattr(metadata, "thing_classes", None)
            if classes is None:
                raise ValueError(f"dataset '{name}': metadata has neither thing_dataset_id_to_contiguous_id nor thing_classes")
            return cls(range(len(classes)), f"dataset '{name}'")
        m = cls(mapping.keys(), f"dataset '{name}'")
        if dict(mapping) != m.dataset_to_contiguous:
            raise ValueError(
                f"dataset '{name}': thing_dataset_id_to_contiguous_id {dict(mapping)} is not the sorted-ids map "
                f"{m.dataset_to_contiguous}"
            )
        return m

    @property
    def num_classes(self) -> int:
        """K."""
        return len(self.dataset_ids)

    @property
    def contiguous_to_dataset(self) -> Dict[int, int]:
        return {k: cid for cid, k in self.dataset_to_contiguous.items()}

    def to_contiguous(self, dataset_id: int, where: Optional[str] = None) -> int:
        """Contiguous id of ``dataset_id``; ``where`` (e.g. "annotation id 5") is named in the error."""
        try:
            return self.dataset_to_contiguous[dataset_id]
        except (KeyError, TypeError):
            at = f" ({where})" if where else ""
            raise ValueError(
                f"{self.source}: unknown category id {dataset_id!r}{at}; known ids: {self.dataset_ids}"
            ) from None

    def to_dataset(self, contiguous_id: int, where: Optional[str] = None) -> int:
        """Dataset id of contiguous id ``contiguous_id`` in [0, K)."""
        k = int(contiguous_id)
        if not 0 <= k < self.num_classes or k != contiguous_id:
            at = f" ({where})" if where else ""
            raise ValueError(
                f"{self.source}: contiguous category id {contiguous_id!r}{at} is outside [0, {self.num_classes})"
            )
        return self.dataset_ids[k]

    def __len__(self) -> int:
        return self.num_classes

    def __repr__(self) -> str:
        return f"CategoryIdMap({self.dataset_to_contiguous}, source={self.source!r})"
