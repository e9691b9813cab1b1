"""Publishing a build: the build lock, a dead build's leftovers, fsync and one atomic rename.

Readers see the old build or the new one, never half of one. A DuckDB
build writes ``<warehouse>.building-<build_id>`` and only a finished,
fsynced file replaces the published one, with one ``os.replace``. A Spark
build writes a new version folder, ``<folder>/versions/<build_id>/``
(layout: :mod:`scrm_lib.engine.folder`), and only when every table and the
manifest are written and fsynced replaces the small pointer file
``<folder>/CURRENT`` the same way (:func:`publish_version`). Builds of one
warehouse take turns through an ``flock`` on ``<warehouse>.lock``, which the
OS drops with the process, so a killed build never blocks the next one;
the next build removes what the killed one left.

Only local folders (or ``file://`` URLs) are published today: the pointer
swap relies on a POSIX rename. An object store (``s3a://``) has no atomic
rename; publishing there would write the version with Spark as here and
switch the pointer with a conditional put (``If-None-Match``) or through a
table format's commit protocol (Delta, Iceberg); HDFS has an atomic
``rename`` (``FileSystem.rename`` over the pointer, through Hadoop's API).
The build refuses such a ``warehouse_path`` (:func:`scrm_lib.config.warehouse_folder`).

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
from scrm_lib.engine.folder import (
    FORMAT,
    MANIFEST,
    POINTER,
    VERSIONS,
    data_files,
    read_manifest,
    read_pointer,
    version_path,
)
from scrm_lib.errors import ScrmError, WarehouseError
from scrm_lib.files import TMP_INFIX, fsync_file, fsync_folder, write_atomically

logger = logging.getLogger(__name__)


def checkpoint(runner: Runner) -> None:
    """Write the build's file through (its WAL into the file) before it is closed and published."""
    runner.query("build.checkpoint", step="publish")


def publish(building: Path, target: Path) -> None:
    """Make the finished file durable, then swap it in with one atomic rename."""
    fsync_file(building)
    # A WAL left by an earlier read-write session belongs to the old file;
    # DuckDB would replay it onto the new one.
    wal = target.with_name(target.name + ".wal")
    if wal.exists():
        logger.warning("removing stale %s before publishing", wal)
        wal.unlink()
    os.replace(building, target)
    fsync_folder(target.parent)


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


# --- a warehouse folder (the Spark engine) ----------------------------------------------


def prepare_folder(folder: Path) -> str | None:
    """Make ``folder`` ready for a build and return its current version id (None: none yet).

    Call under the build lock: every version folder but the current one and
    the one it replaced is a killed build's leftover or an old version, and
    goes; so does a pointer file a killed build did not finish writing.
    """
    (folder / VERSIONS).mkdir(parents=True, exist_ok=True)
    try:
        current = read_pointer(folder)
    except WarehouseError as exc:
        # the next publish repairs the pointer; nothing is removed on a guess until then
        logger.warning("%s; its versions are kept until a build publishes", exc)
        return None
    remove_old_versions(folder, current)
    return current


def remove_old_versions(folder: Path, current: str | None) -> None:
    """Remove every version folder but ``current`` and the one it replaced (readers may
    still hold that one), and unfinished pointer files. Call under the build lock."""
    keep = set()
    if current is not None:
        keep.add(current)
        try:
            previous = read_manifest(folder, current).get("previous")
        except WarehouseError as exc:
            logger.warning("%s; keeping every version", exc)
            return
        if previous:
            keep.add(str(previous))
    for entry in sorted((folder / VERSIONS).iterdir()):
        if entry.name not in keep:
            logger.info("removing %s (an old version or an interrupted build's)", entry)
            _remove(entry)
    for leftover in folder.glob(f"{POINTER}{TMP_INFIX}*"):
        _remove(leftover)


def write_version(
    runner: Runner, version: Path, *, written: dict[str, tuple[str, ...]], info: dict[str, Any]
) -> dict[str, Any]:
    """Write the build's other tables into ``version`` and return its manifest (not yet saved).

    Parameters
    ----------
    runner
        The build's DuckDB connection: every table and view of its main schema
        is published. Those in ``written`` are views over the files already in
        ``version`` (the canonical tables Spark wrote); every other one (marts,
        ``rejects``, the build log) is written here as Parquet by DuckDB.
    written
        Table -> its partition columns, for the tables already in ``version``.
    info
        Extra manifest entries: ``version``, ``previous``, ``engine``, ``master``, ``runs``.
    """
    tables: dict[str, Any] = {}
    for (name,) in runner.rows("build.published_relations", step="publish"):
        folder = version / name
        if name not in written:
            runner.query(
                "build.copy_parquet", step="publish", table=name, relation=name, path=str(folder)
            )
        columns = runner.rows("build.describe", step="publish", table=name, relation=name)
        rows = runner.scalar("build.count", step="publish", table=name, relation=name)
        tables[name] = {
            "columns": [[c[0], c[1]] for c in columns],
            "rows": int(rows),
            "files": [p.relative_to(version).as_posix() for p in data_files(folder)],
            "partition_by": list(written.get(name, ())),
            "written_by": "spark" if name in written else "duckdb",
        }
    return {"format": FORMAT, **info, "tables": tables}


def publish_version(folder: Path, manifest: dict[str, Any]) -> None:
    """Save the manifest, make the version durable, then switch ``CURRENT`` to it.

    The version's files and folders are fsynced before the pointer names them, so
    a crash after the switch finds every file the pointer promises. Old versions
    stay; :func:`remove_old_versions` removes them.
    """
    version_id = str(manifest["version"])
    version = version_path(folder, version_id)
    write_atomically(version / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
    _fsync_tree(version)
    write_atomically(folder / POINTER, version_id + "\n")


def _fsync_tree(root: Path) -> None:
    # Spark's and DuckDB's writers close their files without fsync
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            fsync_file(path)
        elif path.is_dir():
            fsync_folder(path)
    fsync_folder(root)
    fsync_folder(root.parent)


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


__all__ = [
    "build_lock",
    "checkpoint",
    "prepare_folder",
    "publish",
    "publish_version",
    "remove_build_files",
    "remove_leftovers",
    "remove_old_versions",
    "write_version",
]
