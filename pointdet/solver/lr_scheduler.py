"""Learning-rate multipliers (fvcore parameter schedulers) for LazyConfig experiments.

Every fvcore scheduler is scale-free: Detectron2's ``LRScheduler`` hook reads it at
``iter / train.max_iter``. Warm-up and decay steps therefore stay at the same fraction of
training when ``train.max_iter`` changes (e.g. when it is scaled with the number of processes,
see :func:`pointdet.engine.scale_to_world_size`).
"""
from fvcore.common.param_scheduler import MultiStepParamScheduler

from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler

__all__ = ["multistep_with_warmup"]


def multistep_with_warmup(
    total_iters, steps=(0.67, 0.89), warmup_iters=100, warmup_factor=0.001, gamma=0.1
):
    """
    Return the LazyCall config of Detectron2's step schedule (x ``gamma`` at each step) with a
    linear warm-up, sized in iterations.

    Args:
        total_iters (int): the training length the other arguments refer to (normally
            ``train.max_iter``).
        steps (tuple[float]): where the multiplier is multiplied by ``gamma``, as fractions of
            ``total_iters`` (Detectron2's 1x schedule decays at 2/3 and 8/9 of training).
        warmup_iters (int): length of the linear warm-up in iterations of ``total_iters``.
        warmup_factor (float): multiplier at iteration 0 of the warm-up.
        gamma (float): decay factor at each step.

    Returns:
        LazyCall config of :class:`detectron2.solver.WarmupParamScheduler` (a multiplier of
        ``optimizer.lr``): ``warmup_factor`` at 0, rising linearly to 1 at ``warmup_iters``, then
        ``gamma ** k`` after the k-th milestone ``round(steps[k-1] * total_iters)``.
    """
    total_iters = int(total_iters)
    if total_iters <= 0:
        raise ValueError(f"total_iters must be > 0, got {total_iters}")
    if not 0 <= warmup_iters <= total_iters:
        raise ValueError(f"warmup_iters={warmup_iters} must be in [0, total_iters={total_iters}]")
    if any(not 0 < s < 1 for s in steps) or list(steps) != sorted(steps):
        raise ValueError(f"steps must be increasing fractions in (0, 1), got {steps}")
    milestones = [min(max(1, int(round(s * total_iters))), total_iters - 1) for s in steps]
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ValueError(
            f"total_iters={total_iters} is too short for steps={steps} (milestones {milestones})"
        )
    values = [round(gamma**i, 12) for i in range(len(steps) + 1)]
    return L(WarmupParamScheduler)(
        scheduler=L(MultiStepParamScheduler)(
            values=values, milestones=milestones, num_updates=total_iters
        ),
        warmup_length=warmup_iters / total_iters,
        warmup_method="linear",
        warmup_factor=warmup_factor,
    )
