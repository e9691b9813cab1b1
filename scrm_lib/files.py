"""Replacing a file whole: readers and crashes see the old content or the new, never half.

>>> from scrm_lib.files import write_atomically, atomic_path
>>> write_atomically(path, json.dumps(data))  # doctest: +SKIP
>>> with atomic_path(path) as tmp:  # doctest: +SKIP
...     df.to_parquet(tmp)

The new content goes to a temporary file beside the target, is fsynced, and
replaces the target with one ``os.replace``; the folder is then fsynced so the
rename itself survives a crash. Each write has its own temporary name, so two
processes writing the same file at once cannot write into one temporary file:
the last rename wins and the file holds one writer's content whole.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "fsync_file", "fsync_folder", "write_atomically"]

#: Temporary names are ``<name>.tmp-<random>``: a killed writer's leftovers can be
#: found by that pattern (the warehouse folder's cleanup does so for ``CURRENT``).
TMP_INFIX = ".tmp-"


def write_atomically(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``data`` (text is encoded with ``encoding``), whole or not at all.

    The file gets the permissions ``open(path, "w")`` gives a new file (0666 less
    the umask). On any failure the old file is left as it was, the temporary file is
    removed and the error is raised.
    """
    raw = data.encode(encoding) if isinstance(data, str) else data
    target = Path(path)
    fd, tmp = _create_beside(target)
    with _replacing(tmp, target), open(fd, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A new, empty temporary file beside ``path``, to write by name; it replaces ``path``
    when the block ends without an error.

    For writers that take a file name (``DataFrame.to_parquet``). The file is fsynced
    before the rename. If the block raises, the temporary file is removed, ``path`` is
    left as it was, and the error propagates.
    """
    target = Path(path)
    fd, tmp = _create_beside(target)
    os.close(fd)
    with _replacing(tmp, target):
        yield tmp
        fsync_file(tmp)


def _create_beside(target: Path) -> tuple[int, Path]:
    # Not tempfile.mkstemp: it creates 0600 files, and chmod-ing them afterwards needs
    # the umask, which Python can only read by setting it (racy with other threads).
    # O_EXCL with mode 0666 gives mkstemp's uniqueness and lets the umask apply.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = target.with_name(f"{target.name}{TMP_INFIX}{secrets.token_hex(6)}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


@contextlib.contextmanager
def _replacing(tmp: Path, target: Path) -> Iterator[None]:
    try:
        yield
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_folder(target.parent)


def fsync_file(path: Path) -> None:
    """Flush ``path``'s content to the disk."""
    # Windows refuses to flush a file opened read-only; elsewhere read-only does, and
    # works on files others wrote (a Spark build's Parquet) that this user may not write
    fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(path: Path) -> None:
    """Flush a folder's entries (a rename in it) to the disk, where the platform allows."""
    # Best effort: folders cannot be opened for fsync on every platform (Windows).
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
