"""Common training options read by :func:`pointdet.engine.do_train` (Detectron2's ``train`` dict).

Experiment files import ``train`` and change what differs, e.g. ``train.max_iter = 300``.
``device`` defaults to CUDA when it is available and to the CPU otherwise; the value is
decided when the config is loaded and can be overridden (``train.device=cpu``).
"""
import torch

train = dict(
    output_dir="./output",
    init_checkpoint="",  # a model checkpoint (.pth/.pkl) loaded before training; "" = none
    max_iter=90000,
    amp=dict(enabled=False),  # automatic mixed precision; CUDA only (turned off on CPU)
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
    # the training loop: LazyCall of a detectron2 TrainerBase subclass taking model, data_loader
    # and optimizer (passed in), e.g. L(MyTrainer)(...); None = SimpleTrainer (AMPTrainer with amp)
    trainer=None,
    # processes the recipe was written for: total_batch_size and lr scale with the actual number,
    # max_iter and the eval/checkpoint periods inversely (pointdet.engine.scale_to_world_size); 0 = off
    reference_world_size=0,
    check_image_files=True,  # check every train/test image exists before training starts
    # True: unpickle checkpoints with Python's full unpickler, which can run code from the file
    allow_unsafe_pickle=False,
)
