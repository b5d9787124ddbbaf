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
from typing import IO, Iterator

__all__ = ["atomic_open", "atomic_write_bytes", "remove_stale_temp_files"]


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
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_open writes whole files; mode must be 'w', 'wt' or 'wb', got {mode!r}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def atomic_write_bytes(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb") as f:
        f.write(data)
