"""Atomic file writes: a killed or failed run never leaves a half-written file behind."""
from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Write to a temporary file beside ``path``; flush, fsync and rename it into place on success.

    The directory is fsynced after the rename, so once this returns the new file survives a crash or
    power loss too. Until then ``path`` keeps its old content (or stays absent), whatever happens: a
    kill leaves at most a stray ``.<name>.*.tmp`` file (see :func:`stale_temporaries`).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


def stale_temporaries(path: str | Path) -> list[Path]:
    """Temporary files that :func:`atomic_write` calls for ``path`` left behind when killed mid-write."""
    path = Path(path)
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))


def _fsync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable; skipped where directories cannot be opened or synced."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows, where a rename is durable once the file is
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
