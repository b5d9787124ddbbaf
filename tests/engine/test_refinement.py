"""pointdet.engine.refinement: a point file refined by a CPRNet (hand-computed case), from a
LazyConfig and a checkpoint, and RefinePointsHook, which follows the config (the training
dataset, the run's folder and the test mapper's augmentations) and refuses to write outside
the run's folder unless told to. The byte-for-byte golden check is test_refinement_golden.py."""
import json
import os

import pytest

from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog

from pointdet.engine.refinement import RefinePointsHook, refinement_mapper_from_config
from tests.engine import tiny_cpr
from tests.engine.tiny_cpr import tiny_mapper, write_tiny_dataset
from tests.modeling.fixtures import constant_scores, tiny_cprnet, write_tiny_cprnet_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _register(tmp_path, name):
    from pointdet.data.datasets import register_point_coco_instances

    src, root = write_tiny_dataset(tmp_path, name="my_points.json")
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        from detectron2.data import MetadataCatalog

        MetadataCatalog.remove(name)
    register_point_coco_instances(name, {"thing_classes": ["p", "q"]}, src, root)
    return src, root


@pytest.mark.parametrize("config", ["cprnet_mnv2_fpn_trees.py", "cprnet_mnv2_fpn_nuclei.py", "cprnet_R_50_FPN_1x_coco.py"])
def test_hook_follows_the_training_dataset_and_the_run_folder(tmp_path, config):
    src, root = _register(tmp_path, "tests_engine_my_points")
    run_dir = str(tmp_path / "my_run")
    cfg = LazyConfig.load(os.path.join(REPO, "configs", "CPR", config))
    cfg = LazyConfig.apply_overrides(cfg, ["dataloader.train.dataset.names=tests_engine_my_points",
                                           f"train.output_dir={run_dir}"])
    hook = instantiate(cfg.hooks.refine_points)
    assert hook.resolve_input() == (src, root)
    assert hook.resolve_output() == os.path.join(run_dir, "my_points_cpr_refined.json")
    # the refinement loader and the hook read the same file with the same (one) mapper statement
    assert cfg.dataloader.test.dataset.names == "tests_engine_my_points"
    mapper = refinement_mapper_from_config(cfg)
    assert repr(hook.augmentations) == repr(mapper.augmentations.augs)
    assert hook.image_format == mapper.image_format


def test_hook_writes_into_the_run_folder_only(tmp_path):
    src, root = write_tiny_dataset(tmp_path)
    run = tmp_path / "run"
    with pytest.raises(ValueError, match="outside the run's folder"):
        RefinePointsHook(input_json=src, image_root=root, output_dir=str(run), output_name="../refined.json")
    with pytest.raises(ValueError, match="outside the run's folder"):
        RefinePointsHook(input_json=src, image_root=root, output_dir=str(run), output_name=str(tmp_path / "x.json"))
    with pytest.raises(ValueError, match="refines one training file"):
        RefinePointsHook(dataset_name=["a", "b"], output_dir=str(run))
    assert RefinePointsHook(dataset_name=["a"], output_dir=str(run)).dataset_name == "a"

    class _Trainer:
        iter = 7
        max_iter = 8

    mapper = tiny_mapper()
    hook = RefinePointsHook(input_json=src, image_root=root, output_dir=str(run), output_name="../outside.json",
                            augmentations=mapper.augmentations.augs, allow_outside_output_dir=True)
    hook.trainer = _Trainer()
    hook.trainer.model = tiny_cpr.tiny_cprnet()  # the checked-in weights
    hook.after_train()
    assert hook.output_path == str(tmp_path / "outside.json")
    d = json.load(open(hook.output_path))
    assert d["info"]["trainer_iter"] == 7 and d["info"]["source_file"] == "tiny_points.json"


def _write_point_file(tmp_path):
    import cv2
    import numpy as np

    img_dir = tmp_path / "images"
    img_dir.mkdir()
    for name, (h, w) in {"a.png": (32, 48), "b.png": (24, 24)}.items():
        cv2.imwrite(str(img_dir / name), np.full((h, w, 3), 100, dtype=np.uint8))
    coco = {
        "info": {"generator": "test"},
        "images": [
            {"id": 1, "file_name": "a.png", "height": 32, "width": 48},
            {"id": 2, "file_name": "b.png", "height": 24, "width": 24},
        ],
        "categories": [{"id": 5, "name": "x"}, {"id": 9, "name": "y"}],
        "annotations": [
            {"id": 11, "image_id": 1, "category_id": 5, "iscrowd": 0, "point": [4.0, 16.0], "true_bbox": [0, 8, 12, 16]},
            {"id": 12, "image_id": 1, "category_id": 9, "iscrowd": 0, "point": [30.0, 20.0], "true_bbox": [26, 10, 8, 16]},
            {"id": 13, "image_id": 1, "category_id": 5, "iscrowd": 1, "point": [40.0, 4.0]},
        ],
    }
    path = tmp_path / "pts.json"
    path.write_text(json.dumps(coco))
    return str(path), str(img_dir)


def _no_resize_mapper():
    from detectron2.data import transforms as T

    from pointdet.engine.refinement import build_refinement_mapper

    return build_refinement_mapper([T.ResizeShortestEdge(32, 1000)], "RGB")


def test_refine_annotation_file(tmp_path):
    from pointdet.engine.refinement import refine_annotation_file

    src, root = _write_point_file(tmp_path)
    model = tiny_cprnet()
    constant_scores(model, 0.0)
    out_path = str(tmp_path / "out" / "refined.json")
    stats = refine_annotation_file(model, src, root, out_path, mapper=_no_resize_mapper(), progress=False,
                                   info={"weights": "w.pth"})
    out = json.loads(open(out_path).read())
    anns = {a["id"]: a for a in out["annotations"]}
    # image a is 32 px high -> no resize; object 11 (class 0) refined as in the inference test
    assert anns[11]["point"] == pytest.approx([6.0, 16.0], abs=1e-4)
    assert anns[11]["coarse_point"] == [4.0, 16.0] and anns[11]["cpr_score"] == pytest.approx(0.5)
    assert anns[12]["point"] == [30.0, 20.0]  # class 1 loses the argmax tie: exactly unchanged
    assert anns[13]["point"] == [40.0, 4.0] and "cpr_score" not in anns[13]  # crowd: not seen
    assert "true_bbox" in anns[11] and "bbox" not in anns[11]
    assert out["info"]["generator"] == "pointdet.cpr_refinement" and out["info"]["weights"] == "w.pth"
    assert out["info"]["source_info"] == {"generator": "test"}
    assert stats["seen"] == 2 and stats["refined"] == 1
    # RSV (Eq. 13) before: x' = (-2/12, 0), y' = (0, 2/16) -> sqrt((1/12)^2 (1/16)^2) = 1/192;
    # after: object 11 moves to its box centre, x' = (0, 0) -> 0
    assert stats["rsv_before"] == pytest.approx(1 / 192, rel=1e-6)
    assert stats["rsv_after"] == pytest.approx(0.0, abs=1e-9)
    assert stats["mean_shift_px"] == pytest.approx(2.0 / 3, rel=1e-5)  # over all 3 point annotations
    with pytest.raises(ValueError, match="overwrite"):
        refine_annotation_file(model, src, root, src, mapper=_no_resize_mapper(), progress=False)


def test_refine_with_checkpoint(tmp_path):
    from pointdet.engine.refinement import refine_with_checkpoint

    src, root = _write_point_file(tmp_path)
    model = tiny_cprnet()
    constant_scores(model, 0.0)
    cfg, weights = write_tiny_cprnet_config(tmp_path, model)
    out = tmp_path / "refined.json"
    vis = tmp_path / "vis"
    stats = refine_with_checkpoint(cfg, weights, src, root, str(out), vis_dir=str(vis), device="cpu", progress=False)
    d = json.loads(out.read_text())
    anns = {a["id"]: a for a in d["annotations"]}
    # resized x1.5: a = (6, 24), bag (14,24), (6,32), (6,16) inside, (-2,24) outside -> (8, 24) / 1.5
    assert anns[11]["point"] == pytest.approx([16.0 / 3.0, 16.0], abs=1e-3)
    assert d["info"]["weights"] == "w.pth" and len(d["info"]["config_sha256"]) == 64
    assert stats["seen"] == 2 and stats["refined"] == 1
    assert sorted(p.name for p in vis.iterdir()) == ["1.png", "2.png"]
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        refine_with_checkpoint(cfg, str(tmp_path / "missing.pth"), src, root, str(out), progress=False)


def test_hook_refines_after_the_last_iteration_only(tmp_path):
    src, root = _write_point_file(tmp_path)
    model = tiny_cprnet()
    constant_scores(model, 0.0)

    class _Trainer:
        iter = 6
        max_iter = 8

    hook = RefinePointsHook(input_json=src, image_root=root, output_dir=str(tmp_path / "hook"),
                            augmentations=[], image_format="RGB")
    hook.trainer = _Trainer()
    hook.trainer.model = model.train()
    hook.after_train()  # iteration 6 of 8: training did not finish, nothing written
    assert hook.output_path is None
    hook.trainer.iter = 7
    hook.after_train()
    assert model.training  # mode restored
    h = json.loads(open(hook.output_path).read())
    assert hook.output_path.endswith("pts_cpr_refined.json") and h["info"]["trainer_iter"] == 7
    assert {a["id"]: a for a in h["annotations"]}[11]["point"] == pytest.approx([6.0, 16.0], abs=1e-4)
