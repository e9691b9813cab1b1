"""A Spark build's files parsed on the executors into the parse cache.

The hand-made small exports (other field names, a GBK Tmall report, JSON lines)
and one damaged file, each in the folder of its preset as the raw area keeps them.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.ingest import parse_file
from scrm_lib.ingest.cache import Entry, Failure, Job, parse_files
from scrm_lib.ingest.executors import parse_on_executors
from tests.conftest import CLUSTER_WITH_SLOW

pytestmark = pytest.mark.spark

SMALL = Path(__file__).parent / "data" / "small_exports"
PRESETS = ("tmall_orders", "touches", "miniapp_events", "wecom_contacts", "consent")


@pytest.fixture
def raw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCRM_HOME", str(tmp_path))
    monkeypatch.delenv("SCRM_CACHE_DIR", raising=False)
    out = tmp_path / "raw"
    for preset in PRESETS:
        shutil.copytree(SMALL / preset, out / preset)
    # cut off mid-record: the executor cannot parse it, the driver reports it
    (out / "touches" / "touches_broken.csv").write_bytes(b"\xff\xfe\x00garbage\x00\x01")
    return out


class Counting:
    """parse_file, counting calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, path: Path, **kw: Any) -> Any:
        with self._lock:
            self.calls.append(Path(path).name)
        return parse_file(path, **kw)


@CLUSTER_WITH_SLOW
def test_files_are_parsed_on_the_executors_into_the_cache(raw: Path, spark_target: Any) -> None:
    settings = load_settings()
    jobs = [Job(p, p.parent.name) for p in sorted(raw.rglob("*.*"))]
    parsed = parse_on_executors(jobs, settings=settings, session=spark_target.session)
    assert parsed == len(jobs) - 1  # all but the damaged file
    spark_target.check_distributed()

    # the build's own parse then finds every good file in the cache
    counting = Counting()
    entries = list(
        parse_files(jobs, parse=counting, settings=settings, cache_dir=settings.cache_dir)
    )
    assert counting.calls == ["touches_broken.csv"]
    assert isinstance(entries[[j.path.name for j in jobs].index("touches_broken.csv")], Failure)
    # and what the executors stored is what this process parses
    for job, entry in zip(jobs, entries, strict=True):
        if isinstance(entry, Failure):
            continue
        assert isinstance(entry, Entry)
        cached, fresh = entry.load(), parse_file(job.path, preset=job.preset, settings=settings)
        assert (cached.accepted, cached.rejected) == (fresh.accepted, fresh.rejected)
        for name, frame in fresh.tables.items():
            if not frame.empty:
                pd.testing.assert_frame_equal(cached.tables[name], frame, check_exact=True)

    # a second call finds nothing left to do
    assert parse_on_executors(jobs, settings=settings, session=spark_target.session) == 0
