"""pointdet.solver.lr_scheduler: learning rates at given iterations, hand-computed."""
import pytest
import torch

from detectron2.config import instantiate
from detectron2.solver import LRMultiplier

from pointdet.solver import multistep_with_warmup


def _lrs(sched_cfg, max_iter, base_lr, at):
    """The lr of each iteration in ``at`` as Detectron2's LRScheduler hook sets it."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = LRMultiplier(opt, instantiate(sched_cfg), max_iter)
    out = {}
    for it in range(max_iter):
        if it in at:
            out[it] = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
    return [out[i] for i in at]


def test_lr_at_iterations():
    cfg = multistep_with_warmup(1000, steps=(0.6, 0.8), warmup_iters=100, warmup_factor=0.1)
    # warm-up: 0.02 * (0.1 + 0.9 * it / 100) up to 100; x0.1 from 600, x0.01 from 800
    at = [0, 50, 100, 599, 600, 799, 800, 999]
    expected = [0.002, 0.011, 0.02, 0.02, 0.002, 0.002, 0.0002, 0.0002]
    assert _lrs(cfg, 1000, 0.02, at) == pytest.approx(expected)


def test_defaults_and_gamma():
    cfg = multistep_with_warmup(300)  # steps at round(0.67 * 300) = 201 and round(0.89 * 300) = 267
    assert list(cfg.scheduler.milestones) == [201, 267]
    assert cfg.warmup_length == pytest.approx(100 / 300) and cfg.warmup_factor == 0.001
    assert list(cfg.scheduler["values"]) == [1.0, 0.1, 0.01]
    cfg = multistep_with_warmup(10, steps=(0.5,), warmup_iters=0, gamma=0.5)
    assert _lrs(cfg, 10, 1.0, [0, 4, 5, 9]) == pytest.approx([1.0, 1.0, 0.5, 0.5])


@pytest.mark.parametrize(
    "kwargs",
    [dict(total_iters=0), dict(total_iters=10, warmup_iters=11), dict(total_iters=10, steps=(0.8, 0.5)),
     dict(total_iters=2, steps=(0.5, 0.6)), dict(total_iters=10, steps=(1.0,))],
)
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        multistep_with_warmup(**kwargs)
