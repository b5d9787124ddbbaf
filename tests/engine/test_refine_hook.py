"""RefinePointsHook follows the config: the training dataset, the run's folder and the test
mapper's augmentations; it refuses to write outside the run's folder unless told to."""
import json
import os

import pytest

from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog

from pointdet.engine.refinement import RefinePointsHook, refinement_mapper_from_config
from tests.engine.tiny_cpr import tiny_cprnet, tiny_mapper, write_tiny_dataset

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
    hook.trainer.model = tiny_cprnet()
    hook.after_train()
    assert hook.output_path == str(tmp_path / "outside.json")
    d = json.load(open(hook.output_path))
    assert d["info"]["trainer_iter"] == 7 and d["info"]["source_file"] == "tiny_points.json"
