"""Tests of pointdet.data.categories.CategoryIdMap (dataset ids <-> contiguous ids)."""
import pytest
from detectron2.data import MetadataCatalog

from pointdet.data.categories import CategoryIdMap


def test_sorted_ids_to_contiguous_and_back():
    m = CategoryIdMap.from_coco([{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}, {"id": 90, "name": "x"}], "f.json")
    assert m.dataset_ids == [3, 7, 90] and m.num_classes == len(m) == 3
    assert m.dataset_to_contiguous == {3: 0, 7: 1, 90: 2}
    assert m.contiguous_to_dataset == {0: 3, 1: 7, 2: 90}
    assert [m.to_contiguous(i) for i in (3, 7, 90)] == [0, 1, 2]
    assert [m.to_dataset(k) for k in (0, 1, 2)] == [3, 7, 90]


def test_unknown_ids_are_clear_errors():
    m = CategoryIdMap([1, 2], "f.json")
    with pytest.raises(ValueError, match=r"f.json: unknown category id 5 \(annotation id 9\); known ids: \[1, 2\]"):
        m.to_contiguous(5, "annotation id 9")
    with pytest.raises(ValueError, match=r"f.json: unknown category id '1'"):
        m.to_contiguous("1")
    for bad in (2, -1, 1.5):
        with pytest.raises(ValueError, match=r"contiguous category id .* outside \[0, 2\)"):
            m.to_dataset(bad)
    with pytest.raises(ValueError, match=r"f.json: duplicate category ids \[4\]"):
        CategoryIdMap([4, 4, 5], "f.json")
    with pytest.raises(ValueError, match="category id True is not an integer"):
        CategoryIdMap([True], "f.json")


def test_from_metadata():
    meta = MetadataCatalog.get("test_categories_mapped")
    meta.set(thing_classes=["a", "b"], thing_dataset_id_to_contiguous_id={5: 0, 9: 1})
    m = CategoryIdMap.from_metadata(meta)
    assert m.to_dataset(1) == 9 and m.to_contiguous(5) == 0
    meta = MetadataCatalog.get("test_categories_identity")
    meta.set(thing_classes=["a", "b", "c"])  # registered without a COCO file: contiguous ids are the ids
    assert CategoryIdMap.from_metadata(meta).dataset_to_contiguous == {0: 0, 1: 1, 2: 2}
    meta = MetadataCatalog.get("test_categories_unsorted")
    meta.set(thing_classes=["a", "b"], thing_dataset_id_to_contiguous_id={5: 1, 9: 0})
    with pytest.raises(ValueError, match="dataset 'test_categories_unsorted': .* is not the sorted-ids map"):
        CategoryIdMap.from_metadata(meta)
