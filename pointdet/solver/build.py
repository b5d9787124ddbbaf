"""Gradient clipping for LazyConfig optimizers, with Detectron2's ``SOLVER.CLIP_GRADIENTS`` semantics.

The clipping runs inside ``optimizer.step()``, so it works with any trainer, and with
``AMPTrainer`` the gradients are already unscaled when they are clipped.

Detectron2's public :func:`detectron2.solver.build.maybe_add_gradient_clipping` needs a yacs
config and clips every parameter separately, which for "value" clipping fails on a parameter
without a gradient (an unused head, e.g. CPRNet's P4/P5 convolutions) in current PyTorch.
Element-wise value clipping is the same per parameter or over all of them, so here it is given
all parameters that have a gradient at once; norm clipping stays per parameter as in Detectron2.
"""
import copy
from typing import Type, Union

import torch

from detectron2.config import LazyCall as L
from detectron2.utils.registry import locate

__all__ = ["clip_gradients", "optimizer_with_gradient_clipping"]

CLIP_TYPES = ("value", "norm")


def _check(clip_type, clip_value):
    if clip_type not in CLIP_TYPES:
        raise ValueError(f"clip_type must be 'value' or 'norm', got {clip_type!r}")
    if not clip_value > 0:
        raise ValueError(f"clip_value must be > 0, got {clip_value}")


def optimizer_with_gradient_clipping(
    optimizer: Union[str, Type[torch.optim.Optimizer]],
    clip_type: str = "value",
    clip_value: float = 10.0,
    norm_type: float = 2.0,
) -> Type[torch.optim.Optimizer]:
    """
    Return a subclass of ``optimizer`` whose ``step()`` first clips the gradients.

    Args:
        optimizer: a ``torch.optim.Optimizer`` subclass or its dotted name.
        clip_type (str): "value": every gradient element into [-clip_value, clip_value]
            (``clip_grad_value_``); "norm": each parameter's gradient separately to p-norm at
            most ``clip_value`` (``clip_grad_norm_``), as Detectron2's SOLVER.CLIP_GRADIENTS.
        clip_value (float): the threshold (absolute value or norm).
        norm_type (float): the p of the p-norm for "norm".
    """
    _check(clip_type, clip_value)
    base = locate(optimizer) if isinstance(optimizer, str) else optimizer
    if not (isinstance(base, type) and issubclass(base, torch.optim.Optimizer)):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer subclass, got {optimizer!r}")
    clip_value, norm_type = float(clip_value), float(norm_type)

    def step(self, closure=None):
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        if clip_type == "value":
            if params:
                torch.nn.utils.clip_grad_value_(params, clip_value)
        else:
            for p in params:
                torch.nn.utils.clip_grad_norm_(p, clip_value, norm_type)
        return base.step(self, closure)

    return type(base.__name__ + "WithGradientClip", (base,), {"step": step})


def _dotted_name(target) -> str:
    if isinstance(target, str):
        return target
    return f"{target.__module__}.{target.__qualname__}"


def clip_gradients(optimizer, clip_value=10.0, clip_type="value", norm_type=2.0):
    """
    Return a copy of the LazyCall optimizer config ``optimizer`` that clips gradients.

    Args:
        optimizer: a LazyCall config of a ``torch.optim.Optimizer`` (e.g.
            ``configs/common/optim.py``'s ``SGD``).
        clip_value, clip_type, norm_type: as :func:`optimizer_with_gradient_clipping`.

    The result stays a plain, serializable LazyConfig (its class is built at instantiation
    from the optimizer's dotted name).
    """
    _check(clip_type, clip_value)
    opt = copy.deepcopy(optimizer)
    opt._target_ = L(optimizer_with_gradient_clipping)(
        optimizer=_dotted_name(opt._target_),
        clip_type=clip_type,
        clip_value=float(clip_value),
        norm_type=float(norm_type),
    )
    return opt
