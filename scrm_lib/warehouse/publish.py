"""Publishing a build: the build lock, a dead build's leftovers, fsync and one atomic rename.

Readers see the old build or the new one, never half of one: the build
writes ``<warehouse>.building-<build_id>`` and only a finished, fsynced file
replaces the published one, with one ``os.replace``. Builds of one
warehouse take turns through an ``flock`` on ``<warehouse>.lock``, which the
OS drops with the process, so a killed build never blocks the next one;
the next build removes what the killed one left.

Example
-------
>>> with build_lock(target, build_id):  # doctest: +SKIP
...     remove_leftovers(target)
...     ...  # write the building file
...     publish(building, target)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scrm_lib.engine import Runner
from scrm_lib.errors import ScrmError

logger = logging.getLogger(__name__)


def checkpoint(runner: Runner) -> None:
    """Write the build's file through (its WAL into the file) before it is closed and published."""
    runner.query("build.checkpoint", step="publish")


def publish(building: Path, target: Path) -> None:
    """Make the finished file durable, then swap it in with one atomic rename."""
    _fsync(building)
    # A WAL left by an earlier read-write session belongs to the old file;
    # DuckDB would replay it onto the new one.
    wal = target.with_name(target.name + ".wal")
    if wal.exists():
        logger.warning("removing stale %s before publishing", wal)
        wal.unlink()
    os.replace(building, target)
    _fsync_dir(target.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Directories cannot be opened for fsync on every platform (Windows).
    with contextlib.suppress(OSError):
        _fsync(path)


def remove_build_files(path: Path) -> None:
    """Remove a build file (or folder) and its WAL, if there."""
    for p in (path, path.with_name(path.name + ".wal")):
        _remove(p)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_leftovers(target: Path) -> None:
    """Remove the ``.building-*`` files of builds that died (call under the build lock)."""
    # Under the build lock, any .building-* file here is from a build that died.
    for leftover in target.parent.glob(f"{target.name}.building-*"):
        logger.info("removing leftover %s from an interrupted build", leftover.name)
        _remove(leftover)


@contextlib.contextmanager
def build_lock(target: Path, build_id: str) -> Iterator[None]:
    """Hold an exclusive lock for the build; the OS drops it if the process dies.

    The lock is an ``flock`` on ``<warehouse>.lock``, so a killed build never
    blocks the next one. The file names its holder (pid, build id, start)
    for the "another build is running" message and is removed when the build
    ends; a file still there when the lock is free was left by a build that
    was killed, and is taken over (the caller then removes its leftovers).
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: builds are not guarded against each other
        yield
        return
    lock_path = target.with_name(target.name + ".lock")
    handle = _take_lock(fcntl, lock_path, target)
    try:
        left = handle.read().strip()
        if left:
            logger.warning(
                "taking over the lock of a build that did not finish (%s); "
                "its leftovers are removed",
                left,
            )
        handle.seek(0)
        handle.truncate()
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        handle.write(json.dumps({"pid": os.getpid(), "build_id": build_id, "started": started}))
        handle.flush()
        yield
    finally:
        # unlink before unlocking: a build waiting on this file sees it gone and retries
        with contextlib.suppress(FileNotFoundError):
            lock_path.unlink()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _take_lock(fcntl: Any, lock_path: Path, target: Path) -> Any:
    for _ in range(20):
        handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the whole build
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(handle)
            handle.close()
            raise ScrmError(
                f"another build of {target} is running ({holder}; lock {lock_path})"
            ) from None
        # The file may have been removed (and made again) by a build that just ended:
        # a lock on a file no longer at the path guards nothing.
        try:
            same = os.stat(lock_path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            handle.seek(0)
            return handle
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()
    raise ScrmError(f"{lock_path}: the build lock keeps changing hands; try again")


def _lock_holder(handle: Any) -> str:
    try:
        handle.seek(0)
        info = json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    if not isinstance(info, dict) or "pid" not in info:
        return "holder unknown"
    return f"pid {info['pid']}, build {info.get('build_id')}, since {info.get('started')}"


__all__ = ["build_lock", "checkpoint", "publish", "remove_build_files", "remove_leftovers"]
