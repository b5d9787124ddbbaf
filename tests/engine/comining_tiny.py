"""A tiny Co-mining experiment for multi-process tests: the tiny RetinaNet of
``tests/engine/tiny_train.py`` as :class:`CoMiningRetinaNet`, trained on the first image of the
tiny set through :class:`TwoViewDatasetMapper` (seeded jitter, no random geometry), so that
every process sees the same data at every step."""
import os

from detectron2.data import get_detection_dataset_dicts

from tests.engine.tiny_train import write_tiny_config

__all__ = ["first_images", "write_comining_tiny_config"]


def first_images(names, count=1):
    """The first ``count`` dataset dicts of the registered ``names``."""
    return get_detection_dataset_dicts(names)[:count]


def write_comining_tiny_config(root):
    """Write the tiny data and ``tiny_comining.py`` into ``root``; returns the config path."""
    base = write_tiny_config(root)
    path = os.path.join(root, "tiny_comining.py")
    with open(path, "w") as f:
        f.write(
            "from detectron2.config import LazyCall as L\n"
            "from detectron2.config import LazyConfig\n"
            "from pointdet.data.dataset_mapper import TwoViewDatasetMapper\n"
            "from pointdet.modeling.comining import CoMiningRetinaNet\n"
            "from tests.engine.comining_tiny import first_images\n"
            f"_base = LazyConfig.load({base!r})\n"
            "model, dataloader, optimizer, lr_multiplier, train = (_base.model, _base.dataloader,\n"
            "    _base.optimizer, _base.lr_multiplier, _base.train)\n"
            "model._target_ = CoMiningRetinaNet\n"
            "model.pseudo_score_thresh = 0.005  # below the untrained scores: boxes are mined every step\n"
            "dataloader.train.dataset = L(first_images)(names='tn_tiny_train', count=1)\n"
            "dataloader.train.mapper = L(TwoViewDatasetMapper)(is_train=True, augmentations=[],\n"
            "    image_format='RGB', seed=0)\n"
            "dataloader.evaluator = None\n"
            "train.max_iter = 3\n"
            "train.checkpointer.period = 3\n"
        )
    return path
