"""pointdet.solver.build: gradient clipping inside optimizer.step(), against hand-computed values."""
import os

import pytest
import torch

from detectron2.config import LazyConfig, instantiate

from pointdet.solver import clip_gradients, optimizer_with_gradient_clipping

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "configs")


def _step(opt_cls, grads, **kwargs):
    """One plain-SGD step (lr 1) from zero weights: returns -weight = the clipped gradients."""
    params = [torch.nn.Parameter(torch.zeros(2 if g is None else len(g))) for g in grads]
    opt = opt_cls(params, lr=1.0, **kwargs)
    for p, g in zip(params, grads):
        if g is not None:
            p.grad = torch.tensor(g)
    opt.step()
    return [(-p.detach()).tolist() for p in params]


def test_clip_by_value():
    cls = optimizer_with_gradient_clipping(torch.optim.SGD, clip_type="value", clip_value=1.0)
    assert issubclass(cls, torch.optim.SGD) and cls.__name__ == "SGDWithGradientClip"
    # every element into [-1, 1]
    assert _step(cls, [[2.0, -4.0, 0.5]]) == [pytest.approx([1.0, -1.0, 0.5])]


def test_clip_by_norm_is_per_parameter():
    cls = optimizer_with_gradient_clipping("torch.optim.SGD", clip_type="norm", clip_value=1.0)
    # ||(2, -4, 0.5)|| = sqrt(4 + 16 + 0.25) = 4.5 -> scaled to norm 1; ||(3, 4)|| = 5 -> (0.6, 0.8);
    # (0.3, 0.4) has norm 0.5 < 1: unchanged (a global norm would have scaled all three)
    out = _step(cls, [[2.0, -4.0, 0.5], [3.0, 4.0], [0.3, 0.4]])
    assert out[0] == pytest.approx([2 / 4.5, -4 / 4.5, 0.5 / 4.5])
    assert out[1] == pytest.approx([0.6, 0.8])
    assert out[2] == pytest.approx([0.3, 0.4])


def test_clip_by_norm_with_p1():
    cls = optimizer_with_gradient_clipping(torch.optim.SGD, clip_type="norm", clip_value=1.0, norm_type=1.0)
    assert _step(cls, [[3.0, -1.0]]) == [pytest.approx([0.75, -0.25])]  # L1 norm 4


@pytest.mark.parametrize("clip_type", ["value", "norm"])
def test_parameters_without_gradient(clip_type):
    """An unused parameter (grad None) is skipped, not an error."""
    cls = optimizer_with_gradient_clipping(torch.optim.SGD, clip_type=clip_type, clip_value=1.0)
    out = _step(cls, [[3.0, 4.0], None])
    assert out[0] == pytest.approx([1.0, 1.0] if clip_type == "value" else [0.6, 0.8])
    assert out[1] == [0.0, 0.0]
    assert _step(cls, [None]) == [[0.0, 0.0]]  # no gradient at all


def test_clip_gradients_config_is_serializable_and_builds(tmp_path):
    sgd = LazyConfig.load(os.path.join(CONFIGS, "common", "optim.py")).SGD
    cfg = clip_gradients(sgd, clip_value=1.0, clip_type="value")
    assert sgd._target_ is torch.optim.SGD  # the input config is not changed
    holder = LazyConfig.load(os.path.join(CONFIGS, "common", "train.py"))
    holder.optimizer = cfg
    LazyConfig.save(holder, str(tmp_path / "opt.yaml"))
    assert not (tmp_path / "opt.yaml.pkl").exists()  # plain YAML, no pickle fallback
    cfg = LazyConfig.load(str(tmp_path / "opt.yaml")).optimizer
    cfg.momentum, cfg.weight_decay, cfg.lr = 0.0, 0.0, 1.0
    layer = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        layer.weight.zero_()
    cfg.params.model = layer
    opt = instantiate(cfg)
    assert isinstance(opt, torch.optim.SGD) and type(opt) is not torch.optim.SGD
    layer.weight.grad = torch.tensor([[2.0, -4.0, 0.5]])
    opt.step()
    assert (-layer.weight[0]).tolist() == pytest.approx([1.0, -1.0, 0.5])


def test_bad_arguments():
    with pytest.raises(ValueError, match="clip_type"):
        clip_gradients(LazyConfig.load(os.path.join(CONFIGS, "common", "optim.py")).SGD, clip_type="l1")
    with pytest.raises(ValueError, match="clip_value"):
        optimizer_with_gradient_clipping(torch.optim.SGD, clip_value=0)
    with pytest.raises(TypeError, match="Optimizer subclass"):
        optimizer_with_gradient_clipping("builtins.dict")


def test_configs_common_re_export_the_library():
    import configs.common.optim
    import configs.common.schedules
    import pointdet.solver

    assert configs.common.optim.clip_gradients is pointdet.solver.clip_gradients
    assert configs.common.schedules.multistep_with_warmup is pointdet.solver.multistep_with_warmup
