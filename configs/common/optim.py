"""Optimizers for LazyConfig experiments, and gradient clipping.

``SGD``, ``Adam`` and ``AdamW`` are Detectron2-style optimizer configs (``params.model`` is set
to the model before instantiation, by :func:`pointdet.engine.do_train`). ``clip_gradients(opt)``
(from :mod:`pointdet.solver`) returns a copy of an optimizer config whose class clips gradients
at every ``step()``, with the semantics of Detectron2's ``SOLVER.CLIP_GRADIENTS``.

On the demo, RetinaNet with lr 0.01 diverged without clipping and trained with value clipping
at 10 plus 100 warm-up iterations.
"""
import torch

from detectron2.config import LazyCall as L
from detectron2.solver.build import get_default_optimizer_params
from pointdet.solver import clip_gradients  # noqa: F401  (experiment files import it from here)

SGD = L(torch.optim.SGD)(
    params=L(get_default_optimizer_params)(
        # params.model is set to the model object before the optimizer is instantiated
        weight_decay_norm=0.0
    ),
    lr=0.02,
    momentum=0.9,
    weight_decay=1e-4,
)

# P2PNet's optimizer (CPR reference: Adam lr 1e-4, no weight decay stated); weight decay 1e-4 is ours
Adam = L(torch.optim.Adam)(
    params=L(get_default_optimizer_params)(weight_decay_norm=0.0),
    lr=1e-4,
    weight_decay=1e-4,
)


AdamW = L(torch.optim.AdamW)(
    params=L(get_default_optimizer_params)(
        base_lr="${..lr}",
        weight_decay_norm=0.0,
    ),
    lr=1e-4,
    betas=(0.9, 0.999),
    weight_decay=0.1,
)
