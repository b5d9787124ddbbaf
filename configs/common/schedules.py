"""Learning-rate multipliers (fvcore schedulers) for LazyConfig experiments.

``multistep_with_warmup`` is Detectron2's step schedule (x0.1 at each step) with a linear
warm-up, sized in iterations so that short demo schedules and long benchmark schedules use
the same function.
"""
from fvcore.common.param_scheduler import MultiStepParamScheduler

from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler


def multistep_with_warmup(
    total_iters, steps=(0.67, 0.89), warmup_iters=100, warmup_factor=0.001, gamma=0.1
):
    """
    Return the LazyCall config of a multi-step LR multiplier with linear warm-up.

    Args:
        total_iters (int): the training length (``train.max_iter``).
        steps (tuple[float]): where the multiplier is multiplied by ``gamma``, as fractions of
            ``total_iters`` (Detectron2's 1x schedule decays at 2/3 and 8/9 of training).
        warmup_iters (int): length of the linear warm-up in iterations.
        warmup_factor (float): multiplier at iteration 0 of the warm-up.
        gamma (float): decay factor at each step.

    Returns:
        LazyCall config of ``WarmupParamScheduler`` (multiplier in [0, 1] over training).
        Like every fvcore scheduler it is scale-free: Detectron2's ``LRScheduler`` hook reads it
        at ``iter / train.max_iter``, so ``total_iters`` should equal ``train.max_iter``.
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
