"""The parse cache: ingest parses a file, the build reads the Parquet instead of parsing again."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from scrm_lib import ingest
from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError
from scrm_lib.ingest.cache import Entry, Job, cache_key, load_entry, parse_files
from scrm_lib.ingest.raw_area import add_files, sha256_of
from scrm_lib.sample.generator import generate
from scrm_lib.warehouse.build import build

# the largest files of each kind, enough to cover csv, xlsx and JSON lines adapters
FILES = (
    "tmall_orders_*.csv",
    "youzan_orders_*.csv",
    "douyin_orders_*.xlsx",
    "miniapp_orders*.jsonl",
    "miniapp_events*.jsonl",
    "wecom_contacts.jsonl",
    "wecom_chat_archive.jsonl",
    "touches.csv",
    "consent.csv",
)
#: The cache feeds the canonical tables; the steps after them read only those tables.
NO_STEPS: list[str] = []


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(300, seed=3, out=out)
    chosen = tmp_path_factory.mktemp("exports")
    for pattern in FILES:
        src = sorted((out / "exports").glob(pattern))[0]
        (chosen / src.name).write_bytes(src.read_bytes())
    return chosen


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SCRM_HOME", str(tmp_path))
    monkeypatch.delenv("SCRM_CACHE_DIR", raising=False)
    return tmp_path


class Counting:
    """parse_file, counting calls (thread-safe; runs in this process)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, path, *, preset=None, settings=None):
        with self._lock:
            self.calls.append(Path(path).name)
        return ingest.parse_file(path, preset=preset, settings=settings)


def test_cache_dir_setting_and_not_inside_the_raw_area(home, monkeypatch):
    assert load_settings().cache_dir == home / "data/cache"
    monkeypatch.setenv("SCRM_CACHE_DIR", str(home / "data/raw/cache"))
    s = load_settings()
    assert s.cache_dir == home / "data/raw/cache"
    (home / "x.csv").write_text("a\n1\n")
    with pytest.raises(ConfigError, match="inside the raw area"):
        add_files([home / "x.csv"], raw_dir=s.raw_dir, settings=s)


def test_build_after_ingest_does_not_parse_again(exports, home):
    s = load_settings()
    counting = Counting()
    checks = add_files([exports], raw_dir=s.raw_dir, settings=s, parse=counting)
    assert {c.status for c in checks} == {"added"}
    assert len(counting.calls) == len(FILES)
    assert any(s.cache_dir.rglob("meta.json"))
    assert not any(p.suffix == ".parquet" for p in s.raw_dir.rglob("*"))

    again = Counting()
    cached = build(settings=s, parse=again, steps=NO_STEPS)
    assert again.calls == []
    assert cached.files == len(FILES)

    # the same build without the cache: same tables, same rows
    fresh = build(
        settings=s.with_overrides(cache_dir=home / "other-cache"),
        warehouse=home / "fresh.duckdb",
        steps=NO_STEPS,
    )
    assert (cached.rows_in, cached.accepted, cached.rejected, cached.duplicates) == (
        fresh.rows_in,
        fresh.accepted,
        fresh.rejected,
        fresh.duplicates,
    )
    assert cached.tables == fresh.tables
    for name in [*cached.tables, "rejects"]:
        pd.testing.assert_frame_equal(
            _rows(s.warehouse, name), _rows(home / "fresh.duckdb", name), check_exact=True
        )


def _rows(warehouse: Path, name: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cols = [r[0] for r in con.sql(f"DESCRIBE {name}").fetchall() if r[0] != "build_id"]
        listed = ", ".join(f'"{c}"' for c in cols)
        return con.sql(f"SELECT {listed} FROM {name} ORDER BY ALL").df()


def test_changed_timezone_misses_the_cache(exports, home, monkeypatch):
    s = load_settings()
    add_files([exports / "touches.csv"], raw_dir=s.raw_dir, settings=s)
    monkeypatch.setenv("SCRM_TIMEZONE", "Europe/Berlin")
    counting = Counting()
    build(settings=load_settings(), parse=counting, steps=NO_STEPS)
    assert counting.calls == ["touches.csv"]


def test_corrupt_entry_is_parsed_again(exports, home):
    s = load_settings()
    add_files([exports / "consent.csv"], raw_dir=s.raw_dir, settings=s)
    parquet = sorted(s.cache_dir.rglob("consent.parquet"))
    assert len(parquet) == 1
    parquet[0].write_bytes(parquet[0].read_bytes()[:100])  # truncated
    counting = Counting()
    result = build(settings=s, parse=counting, steps=NO_STEPS)
    assert counting.calls == ["consent.csv"]
    assert result.tables["consent"] > 0
    # and the re-parse stored a good entry again
    again = Counting()
    build(settings=s, parse=again, steps=NO_STEPS)
    assert again.calls == []


def test_half_written_entry_is_not_an_entry(exports, home):
    s = load_settings()
    path = exports / "consent.csv"
    add_files([path], raw_dir=s.raw_dir, settings=s)
    meta = next(s.cache_dir.rglob("meta.json"))
    meta.unlink()
    counting = Counting()
    entry = next(
        parse_files([Job(path, "consent")], parse=counting, settings=s, cache_dir=s.cache_dir)
    )
    assert isinstance(entry, Entry) and not entry.cached
    assert counting.calls == ["consent.csv"]


def test_tables_from_cache_equal_a_fresh_parse(exports, home):
    s = load_settings()
    for path in sorted(exports.iterdir()):
        fresh = ingest.parse_file(path, settings=s)
        entry = next(parse_files([Job(path)], settings=s, cache_dir=s.cache_dir))
        key = cache_key(sha256_of(path), path.name, fresh.format, s)
        assert entry.folder is not None and entry.folder.name == key
        cached = load_entry(entry.folder, path)
        assert (cached.format, cached.platform, cached.sha256, cached.rows_in) == (
            fresh.format,
            fresh.platform,
            fresh.sha256,
            fresh.rows_in,
        )
        assert (cached.accepted, cached.rejected) == (fresh.accepted, fresh.rejected)
        nonempty = {n: f for n, f in fresh.tables.items() if not f.empty}
        assert list(cached.tables) == list(nonempty), path.name
        for name, frame in nonempty.items():
            pd.testing.assert_frame_equal(cached.tables[name], frame, check_exact=True)
        if fresh.rejects.empty:
            assert cached.rejects.empty
        else:
            pd.testing.assert_frame_equal(cached.rejects, fresh.rejects, check_exact=True)


def test_parallel_parse_matches_in_process(exports, home):
    s = load_settings().with_overrides(workers=2)
    jobs = [Job(p) for p in sorted(exports.iterdir())]
    one = list(parse_files(jobs, settings=s, cache_dir=None, workers=1))
    two = list(parse_files(jobs, settings=s, cache_dir=home / "c2", workers=2))
    assert [e.path for e in two] == [j.path for j in jobs]
    for a, b in zip(one, two, strict=True):
        assert b.parsed is None and b.folder is not None  # frames stay on disk
        fresh, cached = a.load(), b.load()
        assert (a.format, a.rows_in, a.accepted, a.rejected) == (
            b.format,
            b.rows_in,
            b.accepted,
            b.rejected,
        )
        for name, frame in fresh.tables.items():
            if not frame.empty:
                pd.testing.assert_frame_equal(cached.tables[name], frame, check_exact=True)


def test_parallel_parse_error_is_one_line_naming_the_file(exports, home, tmp_path):
    bad = tmp_path / "in" / "mystery.csv"
    bad.parent.mkdir()
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    s = load_settings().with_overrides(workers=2)
    results = add_files([exports / "consent.csv", bad], raw_dir=s.raw_dir, settings=s)
    assert [r.status for r in results] == ["added", "error"]
    assert results[1].error.startswith(f"{bad}: ")
    assert "\n" not in results[1].error


def test_small_inputs_parse_in_this_process_unless_workers_are_asked_for(tmp_path, monkeypatch):
    """Spawned workers cost about a second each to start: a brand's first few files are
    parsed in the build's own process, unless ``workers`` asks for processes."""
    from scrm_lib.ingest.cache import AUTO_PARALLEL_BYTES, worker_count

    monkeypatch.delenv("SCRM_WORKERS")  # the suite parses in-process
    auto, two = load_settings(tmp_path), load_settings(tmp_path).with_overrides(workers=2)
    assert worker_count(auto, 5, size=AUTO_PARALLEL_BYTES - 1) == 1
    assert worker_count(auto, 5, size=AUTO_PARALLEL_BYTES) == max(1, min(5, os.cpu_count()))
    assert worker_count(two, 5, size=10) == 2
    assert worker_count(two, 1, size=10) == 1


def test_cached_and_freshly_parsed_files_are_deduplicated_together(exports, home):
    """One file staged from the cache, a later one parsed during the build: the later
    file's rows win their keys, and the earlier file's lost rows are its duplicates."""
    s = load_settings()
    add_files([exports / "consent.csv"], raw_dir=s.raw_dir, settings=s)
    rows = (exports / "consent.csv").read_text(encoding="utf-8").splitlines()
    header, first = rows[0], rows[1:4]
    # the same three consents (same account, channel and time) answered the other way,
    # in a later export with its columns in another order
    later = ["时间,渠道,用户类型,用户标识,是否同意"]
    for line in first:
        kind, user, channel, agreed, ts = line.split(",")
        later.append(",".join([ts, channel, kind, user, "否" if agreed == "是" else "是"]))
    assert header == "用户类型,用户标识,渠道,是否同意,时间"
    path = s.raw_dir / "consent_later.csv"
    path.write_text("\n".join(later) + "\n", encoding="utf-8")
    os.utime(path, ns=(2_000_000_000 * 10**9, 2_000_000_000 * 10**9))

    counting = Counting()
    result = build(settings=s, parse=counting, steps=NO_STEPS)
    assert counting.calls == ["consent_later.csv"]  # the first came from the cache
    assert result.duplicates == 3
    with duckdb.connect(str(s.warehouse), read_only=True) as con:
        got = con.sql(
            "SELECT account_id, granted FROM consent WHERE source_file LIKE '%consent_later%'"
        ).fetchall()
    assert len(got) == 3
    flipped = {line.split(",")[1]: line.split(",")[3] == "否" for line in first}
    assert {a.split(":", 1)[1]: g for a, g in got} == flipped
