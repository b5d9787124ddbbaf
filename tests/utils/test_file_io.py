"""Tests of pointdet.utils.file_io: permissions, stale temporary files, all-or-nothing writes."""
import os
import stat

import pytest

from pointdet.utils import file_io
from pointdet.utils.file_io import atomic_open, atomic_open_all, atomic_write_bytes, remove_stale_temp_files


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_respect_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    p = tmp_path / "out.json"
    atomic_write_bytes(b"{}", str(p))
    assert stat.S_IMODE(os.stat(p).st_mode) == expected
    with atomic_open_all([str(tmp_path / "a"), str(tmp_path / "b")], "wb") as (fa, fb):
        fa.write(b"a")
        fb.write(b"b")
    assert stat.S_IMODE(os.stat(tmp_path / "b").st_mode) == expected


def test_remove_stale_temp_files_only_touches_that_output(tmp_path):
    out = tmp_path / "x.json"
    stale = [tmp_path / ".x.json.tmp-abc123", tmp_path / ".x.json.tmp-zzz"]
    keep = [tmp_path / ".y.json.tmp-abc", tmp_path / "x.json.tmp-abc", tmp_path / "x.json"]
    for f in stale + keep:
        f.write_text("partial")
    assert remove_stale_temp_files(str(out)) == 2
    assert sorted(os.listdir(tmp_path)) == sorted(f.name for f in keep)


def test_failure_inside_block_leaves_destinations_untouched(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text("old a")
    with pytest.raises(RuntimeError):
        with atomic_open_all([str(a), str(b)]) as (fa, fb):
            fa.write("new a")
            raise RuntimeError("serialisation failed")
    assert a.read_text() == "old a" and not b.exists()
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


@pytest.mark.parametrize("existed", [True, False])
def test_failed_second_rename_restores_the_first(tmp_path, monkeypatch, existed):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    if existed:
        a.write_text("old a")
        b.write_text("old b")
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if str(dst) == str(b):  # the second file cannot be renamed into place
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(file_io.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        with atomic_open_all([str(a), str(b)]) as (fa, fb):
            fa.write("new a")
            fb.write("new b")
    monkeypatch.undo()
    assert calls[:2] == [str(a), str(b)]
    if existed:  # both previous versions are still there, unchanged
        assert a.read_text() == "old a" and b.read_text() == "old b"
        assert sorted(os.listdir(tmp_path)) == ["a.json", "b.json"]
    else:  # neither file appears
        assert os.listdir(tmp_path) == []


def test_both_written_on_success(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text("old a")
    with atomic_open_all([str(a), str(b)]) as (fa, fb):
        fa.write("new a")
        fb.write("new b")
    assert a.read_text() == "new a" and b.read_text() == "new b"
    assert sorted(os.listdir(tmp_path)) == ["a.json", "b.json"]
    with atomic_open(str(a)) as f:
        f.write("newer a")
    assert a.read_text() == "newer a"
    with pytest.raises(ValueError, match="same destination"):
        with atomic_open_all([str(a), str(tmp_path / "." / "a.json")]):
            pass
