"""Parse each raw file once: a Parquet cache of parsed files, filled by worker processes.

``scrm ingest`` parses every file to check it; ``scrm build`` needs the same
frames. The first parse stores the :class:`~scrm_lib.ingest.ParsedFile`
(its tables and rejects as Parquet, the counts in ``meta.json``) under
``settings.cache_dir``; later parses of the same file with the same preset
and settings read it back instead.

The key of an entry is the sha256 of the file's bytes, its name (the name
ends up in ``source_file`` and ``rejects.file``), the preset name and a
fingerprint of the preset's content, the settings that change parsing
(``timezone``, ``default_region``), the scrm version and a fingerprint of
the ingest code. Anything else is a miss. An entry is written to a temporary
folder and renamed into place, so a reader sees a whole entry or none; an
entry that cannot be read is ignored (and re-parsed).

Files are parsed by up to ``settings.workers`` processes (0: one per core).
A worker parses, writes the entry and hands back only its path and counts:
the frames never travel through a pipe.

Example
-------
>>> from scrm_lib.ingest.cache import parse_files  # doctest: +SKIP
>>> [r.rows_in for r in parse_files([Job(path)], settings=s)]  # doctest: +SKIP
[48213]
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import pickle
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrm_lib.errors import ConfigError, InputFileError, ScrmError
from scrm_lib.ingest.raw_area import sha256_of

if TYPE_CHECKING:
    from scrm_lib.ingest import ParsedFile

logger = logging.getLogger(__name__)

#: Bumped when the layout of an entry changes.
FORMAT = 1
META = "meta.json"
REJECTS = "rejects"


# ------------------------------------------------------------------------------ keys


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """The scrm version plus a hash of the code that turns bytes into frames."""
    import pandas as pd
    import pyarrow as pa

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for version in (_version(), pd.__version__, pa.__version__, str(FORMAT)):
        h.update(version.encode() + b"\0")
    for f in sorted([*(root / "ingest").glob("*.py"), root / "schema.py"]):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scrm")
    except PackageNotFoundError:
        return "0+unknown"


def preset_fingerprint(preset: str, settings: Any = None) -> str:
    """A hash of a preset's content ('' for a name no preset has, e.g. a test's fake format)."""
    from scrm_lib.ingest.presets import available_presets, load_preset_file

    try:
        found = available_presets(settings).get(preset)
        if found is None and str(preset).endswith(".toml"):
            found = load_preset_file(preset)
    except (ScrmError, OSError):
        return ""
    if found is None:
        return ""
    text = json.dumps(found.options, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _plausibility(settings: Any) -> dict[str, Any]:
    from scrm_lib.ingest.plausibility import plausibility_rules

    return plausibility_rules(settings).fingerprint()


def cache_key(sha256: str, name: str, preset: str, settings: Any = None) -> str:
    """The key of a parsed file: content, name, preset, parse settings and code.

    Example
    -------
    >>> len(cache_key("ab" * 32, "touches.csv", "marketing_touches"))
    64
    """
    parts = {
        "sha256": sha256,
        "name": name,
        "preset": str(preset),
        "preset_content": preset_fingerprint(preset, settings),
        "timezone": getattr(settings, "timezone", None) or "Asia/Shanghai",
        "default_region": getattr(settings, "default_region", None) or "CN",
        "plausibility": _plausibility(settings),
        "code": _code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def check_cache_dir(cache_dir: Path | None, raw_dir: Path) -> None:
    """The raw area is immutable input: refuse a cache inside it."""
    if cache_dir is None:
        return
    cache, raw = Path(cache_dir).resolve(), Path(raw_dir).resolve()
    if cache == raw or raw in cache.parents:
        raise ConfigError(f"cache_dir {cache} is inside the raw area {raw}; put it elsewhere")


# ------------------------------------------------------------------------------ entries


@dataclass
class Entry:
    """What one file's parse produced, without its frames: counts and where they are."""

    path: Path
    format: str
    platform: str
    sha256: str
    rows_in: int
    accepted: int
    rejected: int
    tables: list[str] = field(default_factory=list)  # non-empty tables, in parse order
    folder: Path | None = None  # the cache entry; None when not cached
    parsed: ParsedFile | None = None  # the frames, when parsed in this process
    cached: bool = False  # read from the cache (no parse)
    file_sha256: str = ""  # of the file's bytes, when the cache was consulted

    def table_path(self, name: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{name}.parquet"

    @property
    def rejects_path(self) -> Path | None:
        if self.folder is None:
            return None
        p = self.folder / f"{REJECTS}.parquet"
        return p if p.exists() else None

    def load(self) -> ParsedFile:
        """The ParsedFile (from memory, or read back from the cache)."""
        if self.parsed is not None:
            return self.parsed
        assert self.folder is not None
        return load_entry(self.folder, self.path)


def _entry_folder(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / key[:2] / key


def store(cache_dir: Path, key: str, parsed: ParsedFile) -> Path | None:
    """Write ``parsed`` as an entry (temporary folder, then one rename); None if it failed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    final = _entry_folder(cache_dir, key)
    if _read_meta(final) is not None:
        return final
    tmp = Path(cache_dir) / ".tmp" / f"{key}-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        tmp.mkdir(parents=True)
        summary = parsed.summary()
        files: dict[str, int] = {}
        for name in summary["tables"]:
            t = pa.Table.from_pandas(_conformed(parsed.tables[name], name), preserve_index=False)
            pq.write_table(t, tmp / f"{name}.parquet", compression="zstd")
            files[name] = t.num_rows
        if parsed.rejects is not None and not parsed.rejects.empty:
            t = pa.Table.from_pandas(_conformed(parsed.rejects, "rejects"), preserve_index=False)
            pq.write_table(t, tmp / f"{REJECTS}.parquet", compression="zstd")
            files[REJECTS] = t.num_rows
        meta = {"format_version": FORMAT, **summary, "files": files}
        (tmp / META).write_text(json.dumps(meta), encoding="utf-8")
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, final)
        except OSError:  # another process stored the same entry first
            if _read_meta(final) is None:
                raise
        return final
    except (OSError, pa.ArrowException) as exc:
        logger.warning("parse cache: cannot store %s: %s", parsed.path, exc)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _conformed(df, table: str):
    """``df`` in its canonical columns (ingest's frames already are; a test's fake may not be)."""
    from scrm_lib.schema import REJECTS as REJECTS_SCHEMA
    from scrm_lib.schema import TABLES, conform

    schema = REJECTS_SCHEMA if table == "rejects" else TABLES[table]
    if list(df.columns) == list(schema.names) and isinstance(df.index, _range_index()):
        return df
    return conform(df, table)


def _range_index():
    import pandas as pd

    return pd.RangeIndex


def _read_meta(folder: Path) -> dict[str, Any] | None:
    """The entry's meta when the entry is whole (every file present with its row count)."""
    import pyarrow.parquet as pq

    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT:
            return None
        for name, rows in meta["files"].items():
            if pq.read_metadata(folder / f"{name}.parquet").num_rows != rows:
                return None
        return meta
    except Exception:  # missing, truncated or garbage: not an entry
        return None


def lookup(cache_dir: Path, key: str, path: Path, key_sha: str = "") -> Entry | None:
    """The entry under ``key``, or None (a damaged entry is removed)."""
    folder = _entry_folder(cache_dir, key)
    if not folder.exists():
        return None
    meta = _read_meta(folder)
    if meta is None:
        logger.warning("parse cache: ignoring damaged entry %s", folder)
        discard(folder)
        return None
    return Entry(
        path=path,
        format=meta["format"],
        platform=meta["platform"],
        sha256=meta["sha256"],
        rows_in=meta["rows_in"],
        accepted=meta["accepted"],
        rejected=meta["rejected"],
        tables=list(meta["tables"]),
        folder=folder,
        cached=True,
        file_sha256=key_sha,
    )


def discard(folder: Path) -> None:
    """Remove an entry (renamed away first, so no reader sees half of it)."""
    gone = folder.with_name(f"{folder.name}.gone-{secrets.token_hex(4)}")
    with contextlib.suppress(OSError):
        os.rename(folder, gone)
    shutil.rmtree(gone, ignore_errors=True)


def load_entry(folder: Path, path: Path) -> ParsedFile:
    """Read an entry back as the ParsedFile it was made from (same frames, same dtypes)."""
    import pyarrow.parquet as pq

    from scrm_lib.ingest import ParsedFile
    from scrm_lib.schema import conform

    meta = _read_meta(folder)
    if meta is None:
        raise ScrmError(f"parse cache entry {folder} is damaged")
    tables = {n: pq.read_table(folder / f"{n}.parquet").to_pandas() for n in meta["tables"]}
    rj = folder / f"{REJECTS}.parquet"
    rejects = pq.read_table(rj).to_pandas() if rj.exists() else conform(_empty(), "rejects")
    return ParsedFile(
        path=Path(path),
        format=meta["format"],
        platform=meta["platform"],
        sha256=meta["sha256"],
        rows_in=meta["rows_in"],
        tables=tables,
        rejects=rejects,
    )


def _empty():
    import pandas as pd

    return pd.DataFrame()


# ------------------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class Job:
    """One file to parse; ``preset`` forces the format (None: detect)."""

    path: Path
    preset: str | None = None


@dataclass
class Failure:
    """A file that could not be parsed (the one-line message of its InputFileError)."""

    path: Path
    message: str
    problem: str


def _call(parse: Callable, path: Path, preset: str | None, settings: Any) -> ParsedFile:
    if settings is None:  # parse functions that predate settings take (path, preset=)
        return parse(path, preset=preset)
    return parse(path, preset=preset, settings=settings)


def parse_one(
    job: Job,
    *,
    parse: Callable | None,
    settings: Any,
    cache_dir: Path | None,
    keep: bool,
) -> Entry | Failure:
    """Parse one file (or find it in the cache); ``keep``: keep the frames in the Entry."""
    if parse is None:
        from scrm_lib.ingest import parse_file as parse
    path = Path(job.path)
    try:
        sha = sha256_of(path) if cache_dir is not None else ""
    except OSError as exc:
        return Failure(path, f"{path}: cannot read file ({exc.strerror})", "cannot read file")
    if cache_dir is not None and job.preset is not None:
        key = cache_key(sha, path.name, job.preset, settings)
        hit = lookup(cache_dir, key, path, sha)
        if hit is not None:
            return hit
    started = time.perf_counter()
    try:
        parsed = _call(parse, path, job.preset, settings)
    except InputFileError as exc:
        return Failure(path, str(exc), exc.problem)
    logger.debug("parsed %s in %.2f s", path, time.perf_counter() - started)
    entry = Entry(path=path, **parsed.summary(), file_sha256=sha)
    if cache_dir is not None:
        entry.folder = store(cache_dir, cache_key(sha, path.name, parsed.format, settings), parsed)
    if keep or entry.folder is None:
        entry.parsed = parsed
    return entry


#: Below this many bytes of input, ``workers = 0`` (automatic) parses in this process: a
#: spawned worker spends about a second importing pandas, pyarrow and the adapters, while
#: the adapters read 10–25 MB/s, so two workers only pay off from about 20 MB.
AUTO_PARALLEL_BYTES = 16 * 2**20


def worker_count(settings: Any, files: int, size: int | None = None) -> int:
    """Processes to use for ``files`` files of ``size`` bytes in all: ``settings.workers``
    when set, else one per core, or one when the files are too small to pay for workers.

    >>> worker_count(None, 3, size=1000)
    1
    """
    asked = int(getattr(settings, "workers", 0) or 0)
    if not asked and size is not None and size < AUTO_PARALLEL_BYTES:
        return 1
    wanted = asked or (os.cpu_count() or 1)
    return max(1, min(wanted, files))


def _picklable(obj: Any) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


def parse_files(
    jobs: Sequence[Job],
    *,
    parse: Callable | None = None,
    settings: Any = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    keep: bool = False,
) -> Iterator[Entry | Failure]:
    """Parse ``jobs``, yielding an Entry or a Failure per job in the jobs' order.

    With more than one worker (by default: one per core once the files hold
    :data:`AUTO_PARALLEL_BYTES`) this process and ``workers - 1`` spawned ones
    parse the files (this one the largest first, the others the smallest
    first), then the caller consumes results in order. A parse function that
    cannot be sent to a process (a closure) runs here. ``keep`` keeps the
    frames of files parsed in this process when there is a single worker.
    """
    if workers is None:
        workers = worker_count(settings, len(jobs), sum(_size(j.path) for j in jobs))
    n = max(1, min(workers, len(jobs)))
    if n == 1 or (parse is not None and not _picklable(parse)):
        for job in jobs:
            yield parse_one(job, parse=parse, settings=settings, cache_dir=cache_dir, keep=keep)
        return
    import multiprocessing as mp

    # spawn: the caller may hold DuckDB threads, which fork would copy mid-flight.
    ctx = mp.get_context("spawn")
    # This process is one of the n: it has paid its imports, which a worker pays again
    # (about a second). The workers take the files smallest first and this process the
    # largest first, until they meet: the largest file starts at once, here.
    order = sorted(range(len(jobs)), key=lambda i: _size(jobs[i].path))
    one = functools.partial(
        parse_one, parse=parse, settings=settings, cache_dir=cache_dir, keep=cache_dir is None
    )
    with ProcessPoolExecutor(
        max_workers=n - 1, mp_context=ctx, initializer=_exit_with_parent, initargs=(os.getpid(),)
    ) as pool:
        futures: dict[int, Future] = {}
        try:
            for i in order:
                futures[i] = pool.submit(one, jobs[i])
            here = {}
            for i in reversed(order):
                if not futures[i].cancel():  # a worker has it: every smaller one too
                    break
                here[i] = one(jobs[i])
            for i in range(len(jobs)):
                yield here[i] if i in here else futures[i].result()
        finally:
            for f in futures.values():
                f.cancel()


def _exit_with_parent(parent: int) -> None:
    """Worker start-up: end this worker when the build that started it is killed.

    A pool worker whose parent died (SIGKILL, OOM) would otherwise wait on
    its job queue for ever, holding memory and the parent's output pipes.
    """
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


__all__ = [
    "Entry",
    "Failure",
    "Job",
    "cache_key",
    "check_cache_dir",
    "load_entry",
    "lookup",
    "parse_files",
    "parse_one",
    "store",
    "worker_count",
]
