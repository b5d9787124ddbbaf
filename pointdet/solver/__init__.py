"""Optimizer pieces for LazyConfig experiments: gradient clipping and learning-rate schedules.

``configs/common/optim.py`` and ``configs/common/schedules.py`` re-export these under the
names experiment files import.
"""
from .build import clip_gradients, optimizer_with_gradient_clipping
from .lr_scheduler import multistep_with_warmup

__all__ = ["clip_gradients", "multistep_with_warmup", "optimizer_with_gradient_clipping"]
