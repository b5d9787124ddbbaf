"""pointdet.engine.defaults: training / evaluation of a LazyConfig on a tiny synthetic COCO
dataset (CPU, seconds each), the trainer chosen by config, world-size scaling, image checks."""
import json
import logging
import os
import shutil

import numpy as np
import pytest
import torch

from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig, instantiate
from detectron2.data.datasets import register_coco_instances
from detectron2.engine import AMPTrainer, HookBase, SimpleTrainer
from detectron2.evaluation import DatasetEvaluators

from pointdet.engine import (
    build_evaluator,
    build_extra_hooks,
    build_trainer,
    check_image_files,
    default_argument_parser,
    do_train,
    is_complete_checkpoint,
    resolve_device,
    scale_to_world_size,
    setup,
    train_or_evaluate,
)
from pointdet.solver import multistep_with_warmup
from tests.engine.tiny_train import CountingTrainer, write_tiny_config, write_tiny_dataset


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    return write_tiny_config(str(tmp_path_factory.mktemp("tiny_data")))


def _args(config_file, *opts, eval_only=False, resume=False):
    argv = ["--config-file", config_file]
    if eval_only:
        argv.append("--eval-only")
    if resume:
        argv.append("--resume")
    return default_argument_parser().parse_args(argv + list(opts))


def _metrics(output_dir):
    with open(os.path.join(output_dir, "metrics.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def trained(tiny_config, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("train_out"))
    assert train_or_evaluate(_args(tiny_config, f"train.output_dir={out}")) is None
    return out


# ---- train / evaluate / resume ------------------------------------------------------------
def test_train_writes_checkpoints_metrics_and_evaluates(trained):
    files = set(os.listdir(trained))
    assert {"model_final.pth", "model_0000001.pth", "model_0000003.pth", "last_checkpoint",
            "config.yaml", "metrics.json", "log.txt"} <= files, files
    assert not [f for f in files if ".tmp-" in f], files  # no temp files of the atomic writes
    assert any(f.startswith("events.out.tfevents") for f in files), files
    rows = _metrics(trained)
    train_rows = [r for r in rows if "total_loss" in r]
    assert [r["iteration"] for r in train_rows] == [0, 1, 2, 3]
    assert all(np.isfinite(r["total_loss"]) for r in train_rows)
    # warm-up from 0.001 * lr to lr in 1 iteration, then the base lr 0.001
    assert train_rows[0]["lr"] == pytest.approx(1e-6)
    assert train_rows[1]["lr"] == pytest.approx(1e-3)
    # the EvalHook wrote the COCO metrics of the last iteration
    assert "bbox/AP" in rows[-1] and rows[-1]["iteration"] == 4, rows[-2:]
    # the checkpoint holds only tensors and plain values: it loads without unpickling code
    ckpt = torch.load(os.path.join(trained, "model_final.pth"), map_location="cpu", weights_only=True)
    assert ckpt["iteration"] == 3 and "optimizer" in ckpt
    assert "LRScheduler" in ckpt["trainer"]["hooks"]  # the LR schedule resumes too
    with open(os.path.join(trained, "last_checkpoint")) as f:
        assert f.read() == "model_final.pth"


def test_eval_only_loads_the_checkpoint(trained, tiny_config, tmp_path):
    final = os.path.join(trained, "model_final.pth")
    res = train_or_evaluate(
        _args(tiny_config, f"train.output_dir={tmp_path}", f"train.init_checkpoint={final}", eval_only=True)
    )
    assert set(res) == {"bbox"} and "AP50" in res["bbox"]
    # pointdet's own loggers (hooks, evaluators) reach the run's log.txt too
    logging.getLogger("pointdet.engine.refinement").info("marker-from-pointdet")
    log = (tmp_path / "log.txt").read_text()
    assert f"Loading from {final}" in log
    assert "marker-from-pointdet" in log
    assert "not found in the checkpoint" not in log and "not used in the model" not in log
    in_training = [r for r in _metrics(trained) if "bbox/AP" in r][-1]
    # same weights, same data: the same numbers as the evaluation at the end of training
    for k in ("AP", "AP50", "AP75"):
        assert res["bbox"][k] == pytest.approx(in_training["bbox/" + k], nan_ok=True, abs=1e-6)


def test_eval_only_missing_checkpoint_fails(tiny_config, tmp_path):
    with pytest.raises(Exception, match="nope.pth"):
        train_or_evaluate(_args(tiny_config, f"train.output_dir={tmp_path}",
                                f"train.init_checkpoint={tmp_path}/nope.pth", eval_only=True))  # fmt: skip


def test_resume_continues_from_last_checkpoint(trained, tiny_config, tmp_path):
    out = str(tmp_path / "resumed")
    shutil.copytree(trained, out)
    before = len(_metrics(out))
    train_or_evaluate(_args(tiny_config, f"train.output_dir={out}", "train.max_iter=6", "train.eval_period=100",
                            resume=True))  # fmt: skip
    new_rows = [r for r in _metrics(out)[before:] if "total_loss" in r]
    assert [r["iteration"] for r in new_rows] == [4, 5]
    ckpt = torch.load(os.path.join(out, "model_final.pth"), map_location="cpu", weights_only=True)
    assert ckpt["iteration"] == 5


def test_resume_refuses_a_truncated_checkpoint(trained, tiny_config, tmp_path):
    """A checkpoint cut short (a killed write of an older version) is named, not trained on."""
    out = tmp_path / "cut"
    shutil.copytree(trained, out)
    data = (out / "model_final.pth").read_bytes()
    (out / "model_final.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="model_final.pth is not a complete checkpoint"):
        train_or_evaluate(_args(tiny_config, f"train.output_dir={out}", "train.max_iter=6", resume=True))


def test_resume_after_the_last_iteration_writes_the_missing_final_checkpoint(trained, tiny_config, tmp_path):
    """Killed while model_final.pth was written: last_checkpoint names the checkpoint of the last
    iteration; --resume runs no step but must still leave a complete model_final.pth."""
    out = tmp_path / "killed"
    shutil.copytree(trained, out)
    os.remove(out / "model_final.pth")
    (out / "last_checkpoint").write_text("model_0000003.pth")  # iteration 3 of max_iter 4
    before = len(_metrics(out))
    train_or_evaluate(_args(tiny_config, f"train.output_dir={out}", resume=True))
    assert not [r for r in _metrics(out)[before:] if "total_loss" in r]  # no training step
    assert is_complete_checkpoint(str(out / "model_final.pth"))
    ckpt = torch.load(out / "model_final.pth", map_location="cpu", weights_only=True)
    ref = torch.load(out / "model_0000003.pth", map_location="cpu", weights_only=True)
    assert ckpt["iteration"] == 3
    assert all(torch.equal(ckpt["model"][k], v) for k, v in ref["model"].items())


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such.py"):
        train_or_evaluate(_args(str(tmp_path / "no_such.py")))


def test_evaluator_list_is_wrapped(tiny_config):
    cfg = LazyConfig.load(tiny_config)
    ev = build_evaluator(cfg)
    assert isinstance(ev, DatasetEvaluators) and len(ev._evaluators) == 1
    cfg.dataloader.evaluator = cfg.dataloader.evaluator[0]
    assert not isinstance(build_evaluator(cfg), DatasetEvaluators)
    del cfg.dataloader["evaluator"]
    assert build_evaluator(cfg) is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only fallbacks")
def test_cpu_device_turns_amp_off_and_refuses_cuda(tiny_config):
    cfg = LazyConfig.load(tiny_config)
    cfg.train.amp.enabled = True
    assert resolve_device(cfg) == torch.device("cpu")
    assert cfg.train.amp.enabled is False
    cfg.train.device = "cuda"
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device(cfg)


# ---- hooks and trainers from the config ---------------------------------------------------
RECORDED = []


class RecordingHook(HookBase):
    """Records the iterations it sees and whether it can reach the model."""

    def __init__(self, tag="rec"):
        self.tag = tag

    def after_step(self):
        RECORDED.append((self.tag, self.trainer.iter, self.trainer.model is not None))


def test_extra_hooks_from_config_are_registered(tiny_config, tmp_path):
    cfg = LazyConfig.load(tiny_config)
    cfg.train.output_dir = str(tmp_path)
    cfg.train.max_iter = 2
    cfg.train.eval_period = 100
    cfg.hooks = {"b": L(RecordingHook)(tag="b"), "a": L(RecordingHook)(tag="a")}
    RECORDED.clear()
    trainer = do_train(cfg)
    # dict hooks run in sorted name order, every iteration, before the writers
    assert RECORDED == [("a", 0, True), ("b", 0, True), ("a", 1, True), ("b", 1, True)]
    names = [type(h).__name__ for h in trainer._hooks]
    assert names.index("RecordingHook") < names.index("PeriodicWriter")


def test_extra_hooks_reject_non_hooks(tiny_config):
    cfg = LazyConfig.load(tiny_config)
    cfg.hooks = [L(RecordingHook)(), L("builtins.dict")(a=1)]
    with pytest.raises(TypeError, match=r"hooks\[1\]"):
        build_extra_hooks(cfg)
    cfg.hooks = None
    assert build_extra_hooks(cfg) == []


def _parts():
    model = torch.nn.Linear(2, 1)
    return model, [{}], torch.optim.SGD(model.parameters(), lr=0.1)


def test_build_trainer_default_and_from_config(tiny_config):
    cfg = LazyConfig.load(tiny_config)
    assert cfg.train.trainer is None  # configs/common/train.py: Detectron2's default loop
    trainer = build_trainer(cfg, *_parts())
    assert type(trainer) is SimpleTrainer
    if torch.cuda.is_available():
        cfg.train.amp.enabled = True
        assert isinstance(build_trainer(cfg, *_parts()), AMPTrainer)
        cfg.train.amp.enabled = False
    cfg.train.trainer = L(CountingTrainer)(tag="mine")
    model, loader, optim = _parts()
    trainer = build_trainer(cfg, model, loader, optim)
    assert type(trainer) is CountingTrainer and trainer.tag == "mine"
    assert trainer.model is model and trainer.optimizer is optim
    assert "model" not in cfg.train.trainer  # the config is not changed


def test_build_trainer_rejects_bad_specs(tiny_config):
    cfg = LazyConfig.load(tiny_config)
    cfg.train.trainer = L("builtins.dict")()
    with pytest.raises(TypeError, match="not a detectron2 TrainerBase"):
        build_trainer(cfg, *_parts())
    cfg.train.trainer = L(CountingTrainer)(optimizer=None)
    with pytest.raises(ValueError, match="must not set"):
        build_trainer(cfg, *_parts())
    cfg.train.trainer = "CountingTrainer"
    with pytest.raises(TypeError, match="LazyCall"):
        build_trainer(cfg, *_parts())


def test_custom_trainer_trains(tiny_config, tmp_path):
    cfg = LazyConfig.load(tiny_config)
    cfg.train.output_dir = str(tmp_path)
    cfg.train.max_iter, cfg.train.eval_period = 2, 100
    cfg.train.trainer = L(CountingTrainer)(tag="mine")
    trainer = do_train(cfg)
    assert type(trainer) is CountingTrainer and trainer.steps == 2
    assert [r["mine_steps"] for r in _metrics(tmp_path) if "mine_steps" in r] == [1, 2]


# ---- world-size scaling -------------------------------------------------------------------
def _recipe(ref=8, batch=16, lr=0.02, max_iter=90000, eval_period=5000, ckpt_period=5000):
    cfg = LazyConfig.load(os.path.join(os.path.dirname(__file__), "..", "..", "configs", "common", "train.py"))
    cfg.train.update(reference_world_size=ref, max_iter=max_iter, eval_period=eval_period)
    cfg.train.checkpointer.period = ckpt_period
    cfg.dataloader = dict(train=dict(total_batch_size=batch))
    cfg.optimizer = dict(lr=lr, params=dict(base_lr="${..lr}"))
    cfg.lr_multiplier = multistep_with_warmup(max_iter, steps=(0.5,), warmup_iters=max_iter // 10)
    return cfg


def test_scale_to_world_size_hand_computed():
    cfg = _recipe()
    one, changes = scale_to_world_size(cfg, 1)  # scale 1/8
    assert one.dataloader.train.total_batch_size == 2
    assert one.optimizer.lr == pytest.approx(0.0025)
    assert one.optimizer.params.base_lr == pytest.approx(0.0025)  # interpolated from lr
    assert (one.train.max_iter, one.train.eval_period, one.train.checkpointer.period) == (720000, 40000, 40000)
    assert one.train.reference_world_size == 1  # scaling the result again changes nothing
    assert scale_to_world_size(one, 1) == (one, [])
    assert [c[0] for c in changes] == [
        "dataloader.train.total_batch_size", "optimizer.lr", "train.max_iter", "train.eval_period",
        "train.checkpointer.period", "train.reference_world_size"]  # fmt: skip
    assert changes[0][1:] == (16, 2) and changes[2][1:] == (90000, 720000)
    # the input is not modified
    assert (cfg.dataloader.train.total_batch_size, cfg.optimizer.lr, cfg.train.max_iter) == (16, 0.02, 90000)

    sixteen, _ = scale_to_world_size(cfg, 16)  # scale 2
    assert sixteen.dataloader.train.total_batch_size == 32 and sixteen.optimizer.lr == pytest.approx(0.04)
    assert (sixteen.train.max_iter, sixteen.train.eval_period, sixteen.train.checkpointer.period) == (45000, 2500, 2500)


def test_scale_to_world_size_rounding_and_off():
    cfg = _recipe(ref=4, batch=8, max_iter=10, eval_period=0, ckpt_period=1)
    big, _ = scale_to_world_size(cfg, 32)  # scale 8: 10 / 8 = 1.25 -> 1; period 1 / 8 stays >= 1; 0 stays 0
    assert (big.train.max_iter, big.train.eval_period, big.train.checkpointer.period) == (1, 0, 1)
    assert big.dataloader.train.total_batch_size == 64
    off = _recipe(ref=0)
    assert scale_to_world_size(off, 3) == (off, [])
    same = _recipe(ref=2, batch=4)
    assert scale_to_world_size(same, 2) == (same, [])


def test_scale_to_world_size_rejects_bad_recipes():
    with pytest.raises(ValueError, match="not a multiple"):
        scale_to_world_size(_recipe(ref=4, batch=10), 1)
    with pytest.raises(ValueError, match=">= 0"):
        scale_to_world_size(_recipe(ref=-1), 1)
    cfg = _recipe()
    del cfg.optimizer["lr"]
    with pytest.raises(ValueError, match="no lr"):
        scale_to_world_size(cfg, 1)


def test_scaled_schedule_keeps_warmup_and_steps_in_proportion():
    """The schedule is a fraction of max_iter: warm-up 100 and step 500 of 1,000 iterations for
    2 processes become warm-up 200 and step 1,000 of 2,000 iterations on 1 process."""
    cfg, _ = scale_to_world_size(_recipe(ref=2, batch=4, max_iter=1000), 1)
    assert cfg.train.max_iter == 2000
    sched = instantiate(cfg.lr_multiplier)

    def mult(it):  # Detectron2's LRScheduler hook evaluates the multiplier at iter / max_iter
        return sched(it / cfg.train.max_iter)

    # linear warm-up from 0.001: halfway (iteration 100 of 200) 0.001 * 0.5 + 0.5
    assert mult(0) == pytest.approx(0.001)
    assert mult(100) == pytest.approx(0.5005)
    assert mult(200) == pytest.approx(1.0)
    assert mult(999) == pytest.approx(1.0)
    assert mult(1000) == pytest.approx(0.1)


def test_setup_scales_and_logs(tiny_config, tmp_path):
    """``train.reference_world_size=2`` on 1 process: half the batch and lr, twice the iterations,
    logged, and written to config.yaml as what ran."""
    cfg = setup(_args(tiny_config, f"train.output_dir={tmp_path}", "train.reference_world_size=2",
                      "dataloader.train.total_batch_size=4"))  # fmt: skip
    assert cfg.dataloader.train.total_batch_size == 2 and cfg.optimizer.lr == pytest.approx(0.0005)
    assert (cfg.train.max_iter, cfg.train.eval_period, cfg.train.checkpointer.period) == (8, 8, 4)
    saved = LazyConfig.load(str(tmp_path / "config.yaml"))
    assert saved.train.max_iter == 8 and saved.train.reference_world_size == 1
    log = (tmp_path / "log.txt").read_text()
    assert "Scaled the recipe to 1 process(es): dataloader.train.total_batch_size 4 -> 2, optimizer.lr 0.001 -> 0.0005" in log


# ---- image files checked before training --------------------------------------------------
def test_missing_image_is_named_before_training(tiny_config, tmp_path):
    root = tmp_path / "data"
    write_tiny_dataset(str(root))
    os.remove(root / "images" / "train_2.png")  # image id 3
    register_coco_instances("tn_missing_train", {}, str(root / "train.json"), str(root / "images"))
    cfg = LazyConfig.load(tiny_config)
    cfg.train.output_dir = str(tmp_path / "out")
    cfg.dataloader.train.dataset.names = "tn_missing_train"
    with pytest.raises(FileNotFoundError) as e:
        do_train(cfg)
    msg = str(e.value)
    assert "'tn_missing_train'" in msg and "1 of 4" in msg and "image id 3" in msg
    assert str(root / "images" / "train_2.png") in msg
    assert not os.path.exists(tmp_path / "out" / "last_checkpoint")  # nothing trained
    check_image_files(["tn_tiny_train", "tn_tiny_val"])  # complete datasets pass
