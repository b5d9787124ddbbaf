"""Atomic file output shared by every writer in pointdet (JSON files, PNGs, checkpoints).

A file is written to a temporary name in the destination folder and renamed over the
destination only when the write has succeeded, so a crash or a kill never leaves a truncated
file where a finished one is expected, and an existing file is replaced only by a complete
one. The result gets the permissions an ordinary ``open(path, "w")`` would give (the process
umask), not ``mkstemp``'s 0600. Temporary files are named ``.<name>.tmp-<random>`` so that a
writer can remove the leftovers of killed runs of the same output (:func:`remove_stale_temp_files`).
"""
import contextlib
import glob
import os
import tempfile
from typing import IO, Iterator, List, Sequence

__all__ = ["atomic_open", "atomic_open_all", "atomic_write_bytes", "remove_stale_temp_files"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_prefix(path: str) -> str:
    return "." + os.path.basename(path) + ".tmp-"


def remove_stale_temp_files(path: str) -> int:
    """Delete the temporary files that killed writes of ``path`` left behind; returns how many.

    Call only when no other process is writing ``path`` at the same time.
    """
    folder = os.path.dirname(os.path.abspath(path))
    n = 0
    for tmp in glob.glob(os.path.join(glob.escape(folder), glob.escape(_temp_prefix(path)) + "*")):
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
            n += 1
    return n


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open ``path`` for writing so that it appears complete or not at all.

    Use as ``with atomic_open(p, "wb") as f: f.write(...)``. The parent folder is created. On
    any exception inside the block the temporary file is removed and ``path`` is untouched.
    ``mode`` must be a write mode ("w", "wb", "wt"); ``kwargs`` go to :func:`open`.
    """
    with atomic_open_all([path], mode, **kwargs) as (f,):
        yield f


def _check_mode(mode: str) -> None:
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_open writes whole files; mode must be 'w', 'wt' or 'wb', got {mode!r}")


def _discard(paths) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(p)


@contextlib.contextmanager
def atomic_open_all(paths: Sequence[str], mode: str = "w", **kwargs) -> Iterator[List[IO]]:
    """Open several files for writing so that all of them are replaced, or none.

    Use as ``with atomic_open_all([a, b]) as (fa, fb): ...``. Every file is written to its own
    temporary file first (and flushed to disk); only when all writes have succeeded are they
    renamed over their destinations, in the order given (so put the file whose presence
    means "done" last). If a rename fails, the destinations already renamed get their
    previous version back (kept as a hard link or copy until the end) or are removed when
    they did not exist before: a file that existed before is never lost. An exception inside
    the block leaves every destination untouched.
    """
    _check_mode(mode)
    paths = [os.fspath(p) for p in paths]
    if len({os.path.realpath(p) for p in paths}) != len(paths):
        raise ValueError(f"atomic_open_all: the same destination is given twice in {paths}")
    temps: List[str] = []
    backups: List[str] = []
    try:
        files = []
        try:
            for path in paths:
                folder = os.path.dirname(os.path.abspath(path))
                os.makedirs(folder, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), dir=folder)
                temps.append(tmp)
                os.chmod(tmp, 0o666 & ~_umask())
                files.append(os.fdopen(fd, mode, **kwargs))
            yield files
            for f in files:
                f.flush()
                os.fsync(f.fileno())
        finally:
            for f in files:
                f.close()
        # every temporary file is complete: keep the previous versions, then rename
        for path in paths:
            backups.append(_backup(path) if os.path.exists(path) else None)
        done = []
        try:
            for tmp, path in zip(temps, paths):
                os.replace(tmp, path)
                done.append(path)
        except BaseException:
            for path, backup in zip(done, backups):
                if backup is None:
                    _discard([path])
                else:
                    os.replace(backup, path)
            raise
    finally:
        _discard(temps)
        _discard([b for b in backups if b is not None])


def _backup(path: str) -> str:
    """A second name for ``path``'s current content (hard link, else copy), beside it."""
    import shutil

    fd, backup = tempfile.mkstemp(prefix=_temp_prefix(path), dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    os.remove(backup)
    try:
        os.link(path, backup)
    except OSError:
        shutil.copy2(path, backup)
    return backup


def atomic_write_bytes(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb") as f:
        f.write(data)
