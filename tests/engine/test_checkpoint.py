"""pointdet.engine.checkpoint: loading never runs code from a checkpoint, last_checkpoint stays
inside the run folder, saves are atomic, and complete checkpoints are recognised."""
import collections
import os
import pickle

import numpy as np
import pytest
import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import LazyConfig

from pointdet.engine import SafeDetectionCheckpointer, do_train, is_complete_checkpoint
from pointdet.engine.checkpoint import UnsafeCheckpointError
from pointdet.utils.safe_pickle import RestrictedUnpickler, UnsafePickleError, load_restricted_pickle
from tests.engine.tiny_train import write_tiny_config


class Payload:
    """Unpickling this runs ``os.mkdir(marker)``: the stand-in for arbitrary code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2))


def _zoo_pickle(path, model, extra=None, protocol=pickle.HIGHEST_PROTOCOL):
    """A Detectron2 model-zoo style .pkl: numpy weights under "model" plus "__author__"."""
    data = {"model": {k: v.numpy() for k, v in model.state_dict().items()}, "__author__": "test"}
    data.update(extra or {})
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=protocol)


def _malicious_pkl(path, marker):
    _zoo_pickle(path, _model(), extra={"note": Payload(marker)})


# ---- the payload is real: Detectron2's own checkpointer runs it ---------------------------
def test_detectron2_checkpointer_runs_the_payload(tmp_path):
    """Sanity check of the tests below: the plain DetectionCheckpointer executes the pickle."""
    evil, marker = tmp_path / "evil.pkl", tmp_path / "marker"
    _malicious_pkl(evil, marker)
    try:
        DetectionCheckpointer(_model()).load(str(evil))
    except Exception:
        pass
    assert marker.exists()


# ---- .pkl -------------------------------------------------------------------------------
def test_malicious_pkl_is_refused_without_running_it(tmp_path):
    evil, marker = tmp_path / "evil.pkl", tmp_path / "marker"
    _malicious_pkl(evil, marker)
    with pytest.raises(UnsafeCheckpointError, match=r"evil.pkl.*posix.mkdir.*allow_unsafe_pickle"):
        SafeDetectionCheckpointer(_model()).load(str(evil))
    assert not marker.exists()


def test_malicious_init_checkpoint_in_training_is_refused(tmp_path):
    """``train.init_checkpoint=evil.pkl`` through the training entry point."""
    evil, marker = tmp_path / "evil.pkl", tmp_path / "marker"
    _malicious_pkl(evil, marker)
    cfg = LazyConfig.load(write_tiny_config(str(tmp_path / "data")))
    cfg.train.output_dir, cfg.train.init_checkpoint = str(tmp_path / "out"), str(evil)
    with pytest.raises(UnsafeCheckpointError):
        do_train(cfg)
    assert not marker.exists()


def test_unsafe_pickle_opt_in_is_explicit(tmp_path):
    evil, marker = tmp_path / "evil.pkl", tmp_path / "marker"
    _malicious_pkl(evil, marker)
    SafeDetectionCheckpointer(_model(), allow_unsafe_pickle=True).load(str(evil))
    assert marker.exists()  # the user asked for it


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_model_zoo_pkl_loads(tmp_path, protocol):
    src, dst = _model(), torch.nn.Sequential(torch.nn.Linear(3, 2))
    path = tmp_path / "zoo.pkl"
    _zoo_pickle(path, src, protocol=protocol)
    SafeDetectionCheckpointer(dst).load(str(path))
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)


def test_restricted_unpickler_builds_tensors_arrays_and_containers(tmp_path):
    data = {
        "tensor": torch.arange(6.0).reshape(2, 3)[:, 1:],  # a view: offset and strides survive
        "param": torch.nn.Parameter(torch.ones(2)),
        "array": np.arange(4, dtype=np.float32),
        "scalar": np.float32(2.5),
        "ordered": collections.OrderedDict(a=1, b=[1.5, "x", None, True]),
        "set": {1, 2},
        "frozen": frozenset({"a"}),
        "bytes": b"\x00\xff",
        "tuple": (1, 2),
    }
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(data, protocol=protocol))
        out = load_restricted_pickle(str(path))
        assert torch.equal(out["tensor"], data["tensor"]) and isinstance(out["param"], torch.nn.Parameter)
        np.testing.assert_array_equal(out["array"], data["array"])
        assert out["array"].dtype == np.float32 and out["scalar"] == np.float32(2.5)
        assert {k: out[k] for k in ("ordered", "set", "frozen", "bytes", "tuple")} == {
            k: data[k] for k in ("ordered", "set", "frozen", "bytes", "tuple")}  # fmt: skip
        assert type(out["ordered"]) is collections.OrderedDict


@pytest.mark.parametrize("payload", [
    b"cos\nsystem\n(S'true'\ntR.",  # os.system("true")
    b"cbuiltins\neval\n(S'1'\ntR.",  # builtins.eval("1")
    b"ctorch\nload\n(S'x'\ntR.",  # torch.load: unrestricted loading one level down
])  # fmt: skip
def test_restricted_unpickler_refuses_other_globals(payload):
    import io

    with pytest.raises(UnsafePickleError, match="refusing to load global"):
        RestrictedUnpickler(io.BytesIO(payload)).load()


# ---- .pth -------------------------------------------------------------------------------
def test_malicious_pth_is_refused_without_running_it(tmp_path):
    evil, marker = tmp_path / "evil.pth", tmp_path / "marker"
    torch.save({"model": _model().state_dict(), "note": Payload(marker)}, evil)
    with pytest.raises(UnsafeCheckpointError, match="evil.pth"):
        SafeDetectionCheckpointer(_model()).load(str(evil))
    assert not marker.exists()
    assert not is_complete_checkpoint(str(evil)) and not marker.exists()
    torch.load(evil, weights_only=False)  # sanity: the payload runs when allowed
    assert marker.exists()


# ---- last_checkpoint stays inside the folder ----------------------------------------------
@pytest.mark.parametrize("tag", ["../evil.pkl", "ABS", "sub/model.pth", "..", ""])
def test_last_checkpoint_outside_the_folder_is_refused(tmp_path, tag):
    run = tmp_path / "run"
    (run / "sub").mkdir(parents=True)
    marker = tmp_path / "marker"
    _malicious_pkl(tmp_path / "evil.pkl", marker)
    torch.save({"model": _model().state_dict()}, run / "sub" / "model.pth")
    (run / "last_checkpoint").write_text(str(tmp_path / "evil.pkl") if tag == "ABS" else tag)
    ckpt = SafeDetectionCheckpointer(_model(), str(run), allow_unsafe_pickle=True)
    with pytest.raises(ValueError, match="last_checkpoint names"):
        ckpt.resume_or_load("", resume=True)
    assert not marker.exists()


def test_last_checkpoint_symlink_out_of_the_folder_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model": _model().state_dict()}, tmp_path / "outside.pth")
    os.symlink(tmp_path / "outside.pth", run / "model_final.pth")
    (run / "last_checkpoint").write_text("model_final.pth")
    with pytest.raises(ValueError, match="resolves outside"):
        SafeDetectionCheckpointer(_model(), str(run)).resume_or_load("", resume=True)


def test_resume_outside_tag_through_training(tmp_path):
    """``--resume`` on a run folder whose last_checkpoint names ``../evil.pkl``."""
    marker = tmp_path / "marker"
    _malicious_pkl(tmp_path / "evil.pkl", marker)
    out = tmp_path / "out"
    out.mkdir()
    (out / "last_checkpoint").write_text("../evil.pkl")
    cfg = LazyConfig.load(write_tiny_config(str(tmp_path / "data")))
    cfg.train.output_dir = str(out)
    with pytest.raises(ValueError, match="not a checkpoint file inside"):
        do_train(cfg, resume=True)
    assert not marker.exists()


# ---- atomic saves -------------------------------------------------------------------------
class Killed(BaseException):
    """A kill in the middle of a write."""


def _dying_save(obj, f, *args, **kwargs):
    f.write(b"PK\x03\x04 half a checkpoint")
    raise Killed()


def test_detectron2_save_leaves_a_truncated_file(tmp_path, monkeypatch):
    """Sanity check of the test below: Detectron2's checkpointer writes in place."""
    monkeypatch.setattr(torch, "save", _dying_save)
    with pytest.raises(Killed):
        DetectionCheckpointer(_model(), str(tmp_path)).save("model_final")
    assert (tmp_path / "model_final.pth").exists()
    assert not is_complete_checkpoint(str(tmp_path / "model_final.pth"))


def test_killed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = _model()
    ckpt = SafeDetectionCheckpointer(model, str(tmp_path))
    ckpt.save("model_final", iteration=1)
    before = (tmp_path / "model_final.pth").read_bytes()
    ckpt.save("model_0000001", iteration=1)
    monkeypatch.setattr(torch, "save", _dying_save)
    with pytest.raises(Killed):
        ckpt.save("model_final", iteration=2)
    monkeypatch.undo()
    assert (tmp_path / "model_final.pth").read_bytes() == before
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000001.pth"
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000001.pth", "model_final.pth"]
    assert is_complete_checkpoint(str(tmp_path / "model_final.pth"))
    # a stale temp file of an earlier kill is removed by the next save of that file
    (tmp_path / ".model_final.pth.tmp-stale").write_bytes(b"x")
    ckpt.save("model_final", iteration=3)
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000001.pth", "model_final.pth"]
    assert torch.load(tmp_path / "model_final.pth", weights_only=True)["iteration"] == 3


def test_saved_checkpoint_keeps_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        SafeDetectionCheckpointer(_model(), str(tmp_path)).save("model_final")
    finally:
        os.umask(old)
    assert (tmp_path / "model_final.pth").stat().st_mode & 0o777 == 0o644


# ---- is_complete_checkpoint ---------------------------------------------------------------
def test_is_complete_checkpoint(tmp_path):
    SafeDetectionCheckpointer(_model(), str(tmp_path)).save("model_final")
    good = tmp_path / "model_final.pth"
    assert is_complete_checkpoint(str(good))
    data = good.read_bytes()
    for n in (0, 10, len(data) // 2, len(data) - 1):
        cut = tmp_path / f"cut{n}.pth"
        cut.write_bytes(data[:n])
        assert not is_complete_checkpoint(str(cut)), n
    assert not is_complete_checkpoint(str(tmp_path / "missing.pth"))
    (tmp_path / "x.json").write_text("{}")
    assert not is_complete_checkpoint(str(tmp_path / "x.json"))
    torch.save({"model": {}}, tmp_path / "empty.pth")
    assert not is_complete_checkpoint(str(tmp_path / "empty.pth"))
    torch.save(_model().state_dict(), tmp_path / "bare.pth")  # a plain state dict counts too
    assert is_complete_checkpoint(str(tmp_path / "bare.pth"))
