"""Common training options read by ``tools/train_net.py`` (Detectron2's ``train`` dict).

Experiment files import ``train`` and change what differs, e.g. ``train.max_iter = 300``.
``device`` defaults to CUDA when it is available and to the CPU otherwise; the value is
decided when the config is loaded and can be overridden (``train.device=cpu``).
"""
import torch

train = dict(
    output_dir="./output",
    init_checkpoint="",  # a model checkpoint (.pth/.pkl) loaded before training; "" = none
    max_iter=90000,
    amp=dict(enabled=False),  # automatic mixed precision; CUDA only (train_net turns it off on CPU)
    ddp=dict(  # options of DistributedDataParallel
        broadcast_buffers=False,
        find_unused_parameters=False,
        fp16_compression=False,
    ),
    checkpointer=dict(period=5000, max_to_keep=100),  # options of PeriodicCheckpointer
    eval_period=5000,  # run dataloader.test + evaluator every N iterations (and at the end)
    log_period=20,  # console / metrics.json / tensorboard every N iterations
    device="cuda" if torch.cuda.is_available() else "cpu",
    seed=-1,  # >= 0: deterministic seed (plus the process rank), as Detectron2's default_setup
)
