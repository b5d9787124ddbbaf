#!/usr/bin/env python
"""
Train or evaluate any pointdet LazyConfig experiment (``configs/**/*.py``).

Usage::

    python tools/train_net.py --config-file configs/demo/retinanet_mnv2_fpn_trees.py
    python tools/train_net.py --config-file X.py --eval-only train.init_checkpoint=out/model_final.pth
    python tools/train_net.py --config-file X.py --resume              # continue from output_dir
    python tools/train_net.py --config-file X.py --num-gpus 2          # 2 processes (gloo on CPU)
    python tools/train_net.py --config-file X.py train.max_iter=10 dataloader.train.total_batch_size=2

The keys a config provides are those of Detectron2's ``tools/lazyconfig_train_net.py`` plus
pointdet's (``train.trainer``, ``train.reference_world_size``, ``hooks``, ...), documented in
:mod:`pointdet.engine.defaults`, which does the work.
"""
import os
import sys

if __package__ in (None, ""):  # `python tools/<tool>.py` from a checkout: import its pointdet
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pointdet  # noqa: E402,F401  (registers pointdet's datasets, models and heads)
from detectron2.engine import launch  # noqa: E402
from pointdet.engine import default_argument_parser, train_or_evaluate  # noqa: E402


def main() -> None:
    args = default_argument_parser().parse_args()
    launch(
        train_or_evaluate,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )


if __name__ == "__main__":
    main()  # pragma: no cover
