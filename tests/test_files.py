"""Replacing a file whole: failures, permissions, and writers racing on one path."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.files import TMP_INFIX, atomic_path, write_atomically

OLD = "the old content, still whole\n"


def _leftovers(folder: Path, keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# ---------------------------------------------------------------- failures


def _fail_fsync(fd: int) -> None:
    raise OSError(5, "Input/output error (a test's)")


def _fail_replace(src: object, dst: object) -> None:
    raise OSError(18, "Invalid cross-device link (a test's)")


@pytest.mark.parametrize("fail", [_fail_fsync, _fail_replace], ids=["fsync", "replace"])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: Callable[..., None]
) -> None:
    target = tmp_path / "state.json"
    target.write_text(OLD, encoding="utf-8")
    monkeypatch.setattr(os, fail.__name__.removeprefix("_fail_"), fail)

    with pytest.raises(OSError, match="a test's"):
        write_atomically(target, "x" * 100_000)

    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == OLD
    assert _leftovers(tmp_path, target.name) == []


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_a_block_that_raises_keeps_the_old_file_and_leaves_no_temporary_file(
    tmp_path: Path, error: type[BaseException]
) -> None:
    target = tmp_path / "2026-12-01.parquet"
    target.write_text(OLD, encoding="utf-8")

    with pytest.raises(error), atomic_path(target) as tmp:
        tmp.write_bytes(b"half of a parquet file")
        raise error("the writer stopped midway")

    assert target.read_text(encoding="utf-8") == OLD
    assert _leftovers(tmp_path, target.name) == []


def test_the_temporary_file_is_beside_the_target_under_the_name_cleanups_look_for(
    tmp_path: Path,
) -> None:
    # the warehouse folder's cleanup removes `CURRENT.tmp-*` left by a killed build
    target = tmp_path / "CURRENT"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(f"CURRENT{TMP_INFIX}")
        assert tmp.exists() and not target.exists()
        tmp.write_text("v1\n")
    assert target.read_text() == "v1\n"
    assert _leftovers(tmp_path, target.name) == []


def test_text_is_written_as_given_in_utf_8_and_bytes_as_they_are(tmp_path: Path) -> None:
    target = tmp_path / "scores.json"
    write_atomically(target, '{"intent": "售后"}\n')
    assert target.read_bytes() == '{"intent": "售后"}\n'.encode()
    write_atomically(target, b"\x00\xff")
    assert target.read_bytes() == b"\x00\xff"


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o027, 0o077], ids=lambda m: f"umask{m:03o}")
def test_the_file_has_the_permissions_a_plain_open_gives(tmp_path: Path, mask: int) -> None:
    plain, text, named, parquet = (tmp_path / n for n in ("plain", "text", "named", "parquet"))
    with _umask(mask):
        with open(plain, "w") as handle:
            handle.write("x")
        write_atomically(text, "x")
        with atomic_path(named) as tmp:
            tmp.write_text("x")
        with atomic_path(parquet) as tmp:
            pd.DataFrame({"a": [1]}).to_parquet(tmp, index=False)
    expected = 0o666 & ~mask
    assert _mode(plain) == expected
    assert {p.name: _mode(p) for p in (text, named, parquet)} == dict.fromkeys(
        ["text", "named", "parquet"], expected
    )
    assert pd.read_parquet(parquet)["a"].tolist() == [1]


# ---------------------------------------------------------------- writers racing

WRITERS = 6
WRITES = 40


def _content(writer: int) -> bytes:
    # large enough that a write takes a while, so racing writers overlap
    return f"{writer:04d}".encode() * 64_000


def _whole(data: bytes) -> bool:
    return len(data) >= 4 and data[:4].isdigit() and data == _content(int(data[:4]))


def _write_many(path: str, writer: int) -> None:
    for _ in range(WRITES):
        write_atomically(path, _content(writer))


def _with_threads(path: Path) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(writer: int) -> None:
        try:
            _write_many(str(path), writer)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _with_processes(path: Path) -> list[BaseException]:
    errors: list[BaseException] = []
    # spawn: a fork of pytest (with its threads) is not safe
    with multiprocessing.get_context("spawn").Pool(WRITERS) as pool:
        pending = [pool.apply_async(_write_many, (str(path), w)) for w in range(WRITERS)]
        for result in pending:
            try:
                result.get(timeout=120)
            except Exception as exc:
                errors.append(exc)
    return errors


@pytest.mark.parametrize("run", [_with_threads, _with_processes], ids=["threads", "processes"])
def test_writers_racing_on_one_path_leave_one_writers_content_whole(
    tmp_path: Path, run: Callable[[Path], list[BaseException]]
) -> None:
    target = tmp_path / "manifest.json"
    write_atomically(target, _content(9999))
    seen: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            data = target.read_bytes()
            if not _whole(data):
                seen.append(data[:40])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        errors = run(target)
    finally:
        done.set()
        reader.join()

    assert errors == []
    assert seen == [], f"a reader saw {len(seen)} torn files, e.g. {seen[0]!r}"
    assert _whole(target.read_bytes())
    assert _leftovers(tmp_path, target.name) == []
