"""A tiny COCO file with its images on disk, shared by the data, tool and drawing tests."""
import numpy as np

__all__ = ["TINY_BOXES", "write_tiny_images_coco", "write_tiny_images_coco_file"]

#: image id -> [(category id, [x, y, w, h], iscrowd)]: small and sub-2-px boxes, a crowd box, image 3 empty
TINY_BOXES = {
    1: [(1, [4.0, 5.0, 12.0, 10.0], 0), (1, [20.5, 8.2, 15.0, 14.0], 0), (2, [6.0, 22.0, 9.0, 11.0], 0),
        (2, [25.0, 25.0, 10.0, 8.0], 1)],
    2: [(2, [10.0, 10.0, 20.0, 20.0], 0), (2, [2.0, 2.0, 6.0, 6.0], 0), (1, [30.0, 4.0, 1.5, 1.5], 0)],
}


def write_tiny_images_coco(folder, boxes=TINY_BOXES):
    """Write three 48x40 noise images ``im{1,2,3}.png`` (seed 0) under ``folder/images`` and
    return ``(coco, image_dir)``: categories 1 "tree" and 2 "cell", one annotation per entry of
    ``boxes`` ({image id: [(category id, [x, y, w, h], iscrowd), ...]}), ids 1, 2, ... in that
    order, each with a triangular polygon mask inside its box."""
    from PIL import Image

    img_dir = folder / "images"
    img_dir.mkdir()
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in (1, 2, 3):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(img_dir / f"im{i}.png")
        images.append({"id": i, "file_name": f"im{i}.png", "width": 48, "height": 40})
        for cat, (x, y, w, h), crowd in boxes.get(i, []):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cat, "bbox": [x, y, w, h], "area": w * h,
                         "iscrowd": crowd, "segmentation": [[x, y + h, x + w / 2, y, x + w, y + h]]})
    coco = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "tree"}, {"id": 2, "name": "cell"}]}
    return coco, str(img_dir)


def write_tiny_images_coco_file(folder, boxes=TINY_BOXES, name="train.json"):
    """:func:`write_tiny_images_coco` and the COCO file ``folder/name``: ``(path, image_dir, coco)``."""
    import json

    coco, img_dir = write_tiny_images_coco(folder, boxes)
    path = folder / name
    path.write_text(json.dumps(coco))
    return str(path), img_dir, coco
