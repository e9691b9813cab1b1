"""Build the warehouse from the raw exports and publish it atomically.

A build parses every raw file, stages the rows in a new DuckDB file next to
the target (``<warehouse>.building-<build_id>``, with the staged rows in an
attached ``.stage`` file that is thrown away), runs the transformations of
:mod:`scrm_lib.warehouse.canonical` on DuckDB or Spark, writes the canonical tables,
``rejects`` and the build log (``builds``, ``build_inputs``), and only then
replaces the published file with one ``os.replace``. Readers therefore see
the old build or the new one, never half of one; a build that dies leaves
the published warehouse as it was, and the next build removes its leftovers
(the ``.building-*`` files and the lock file a killed build could not
remove; the lock itself is an ``flock``, which the OS drops with the process).

A file that cannot be read (no preset matches it, a required column is
missing, its bytes do not decode) is refused, not fatal: the other files
are built and published, and the refusal (file, sha256, reason, time) is
recorded in ``build_refused`` and shown by :func:`status`.

Example
-------
>>> from scrm_lib.warehouse.build import build, status
>>> result = build(raw_dir="data/raw", warehouse="data/warehouse/scrm.duckdb")  # doctest: +SKIP
>>> status("data/warehouse/scrm.duckdb")["tables"]["orders"]  # doctest: +SKIP
48213
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis
import pandas as pd

from scrm_lib.config import ENGINES, Settings, load_settings
from scrm_lib.engine import (
    Runner,
    duckdb_connect,
    list_tables,
    open_warehouse,
    spark_backend,
    spark_session,
)
from scrm_lib.errors import ConfigError, InputFileError, ScrmError, WarehouseError
from scrm_lib.ingest.cache import (
    Entry,
    Failure,
    Job,
    check_cache_dir,
    discard,
    parse_files,
    parse_one,
)
from scrm_lib.schema import REJECTS, TABLES, TS, conform
from scrm_lib.warehouse.canonical import FILE_SEQ, ROW, canonical_tables
from scrm_lib.warehouse.steps import StepContext, run_steps, step_log

if TYPE_CHECKING:
    from scrm_lib.ingest import ParsedFile

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
Parse = Callable[..., "ParsedFile"]

STAGE_DB = "stage"

BUILDS = ibis.schema(
    {
        "build_id": "string",
        "started_at": TS,
        "finished_at": TS,
        "version": "string",
        "status": "string",
        "timings": "string",  # JSON: step -> seconds
        "engine": "string",
        "raw_dir": "string",
        "files": "int64",  # files read
        "refused": "int64",  # files refused (in build_refused)
    }
)

BUILD_REFUSED = ibis.schema(
    {
        "build_id": "string",
        "file": "string",  # path relative to the raw directory, '/'-separated
        "sha256": "string",
        "reason": "string",  # the one-line error, without the file name
        "refused_at": TS,
    }
)

BUILD_INPUTS = ibis.schema(
    {
        "build_id": "string",
        "file": "string",  # path relative to the raw directory, '/'-separated
        "format": "string",
        "platform": "string",
        "sha256": "string",
        "rows_in": "int64",
        "accepted": "int64",
        "rejected": "int64",
        # accepted rows of this file that lost to a row with the same key (in
        # the file's main table; duplicates_by_table has every table)
        "duplicates": "int64",
        "duplicates_by_table": "string",  # JSON: table -> rows
    }
)

# The table whose rows stand one-to-one for a file's input rows, by preference:
# an orders export also yields accounts and identifiers, which repeat per buyer.
_MAIN_TABLE_ORDER = (
    "orders",
    "events",
    "messages",
    "touches",
    "referrals",
    "consent",
    "assignments",
    "channels",
    "staff",
    "accounts",
    "identifiers",
)


@dataclass(frozen=True)
class BuildResult:
    """What a build did.

    Attributes
    ----------
    build_id
        The id recorded in ``builds`` and carried by everything read from this build.
    warehouse
        The published DuckDB file.
    engine
        ``duckdb`` or ``pyspark`` (where the transformations ran).
    files, rows_in, accepted, rejected, duplicates
        Totals over the input files that were read.
    refused
        Files that could not be read: ``file``, ``sha256``, ``reason``,
        ``refused_at`` (ISO text) each.
    tables
        Canonical table -> row count.
    timings
        Step -> seconds.
    """

    build_id: str
    warehouse: Path
    engine: str
    files: int
    rows_in: int
    accepted: int
    rejected: int
    duplicates: int
    tables: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    refused: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Wall time of the whole build."""
        return self.timings.get("total", 0.0)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serializable values (for ``scrm build --json``)."""
        return {
            "build_id": self.build_id,
            "warehouse": str(self.warehouse),
            "engine": self.engine,
            "files": self.files,
            "rows_in": self.rows_in,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "tables": dict(self.tables),
            "timings": dict(self.timings),
            "seconds": self.seconds,
            "refused": [dict(r) for r in self.refused],
        }


def list_raw_files(raw_dir: str | Path) -> list[Path]:
    """The input files under ``raw_dir``, oldest export first.

    Hidden files and folders and ``*.md`` notes are skipped. Order: by
    modification time, then path; this order is the files' ``_file_seq``, so
    a later export of the same orders wins.

    Examples
    --------
    >>> list_raw_files("data/raw")  # doctest: +SKIP
    [PosixPath('data/raw/tmall_orders/2024-05.csv'), ...]
    """
    root = Path(raw_dir)
    if not root.is_dir():
        return []
    files = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if not path.is_file() or path.suffix.lower() == ".md":
            continue
        files.append(path)
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.as_posix()))


def build(
    *,
    raw_dir: str | Path | None = None,
    warehouse: str | Path | None = None,
    settings: Settings | None = None,
    parse: Parse | None = None,
    progress: Progress | None = None,
    engine: Literal["duckdb", "pyspark"] | None = None,
    steps: Sequence[str] | None = None,
) -> BuildResult:
    """Build the warehouse from every file in ``raw_dir`` and publish it atomically.

    Parameters
    ----------
    raw_dir
        Folder of raw exports, searched recursively; a file in a folder named
        after an ingest preset is read with that preset, any other file is
        detected. Default: ``settings.raw_dir``.
    warehouse
        The DuckDB file to publish. Default: ``settings.warehouse``.
    settings
        Settings; default: :func:`scrm_lib.config.load_settings`.
    parse
        ``parse(path, *, preset=None, settings=None) -> ParsedFile``; default
        :func:`scrm_lib.ingest.parse_file`.
    progress
        Called with a short message (``"parse 3/12: tmall_orders/2024-05.csv"``)
        as the build moves on; e.g. a rich progress bar's description.
    engine
        Where the transformations run; default: ``settings.engine``. With
        ``"pyspark"`` the staged rows go to Spark and the results come back
        to the DuckDB file.
    steps
        Which registered build steps (:mod:`scrm_lib.warehouse.step_list`: identity,
        value, ...) run after the canonical tables; default all, ``[]`` none.

    Returns
    -------
    BuildResult
        The build id, totals, table sizes and step timings.

    Raises
    ------
    ScrmError
        No input files; another build holds the lock; every file was refused.
    WarehouseError
        A query failed; nothing is published.

    Examples
    --------
    >>> result = build(raw_dir="data/raw", warehouse="/tmp/scrm.duckdb")  # doctest: +SKIP
    >>> result.tables["orders"], result.rejected  # doctest: +SKIP
    (48213, 17)
    """
    started = time.perf_counter()
    settings = settings or load_settings()
    raw = Path(raw_dir if raw_dir is not None else settings.raw_dir).expanduser().resolve()
    target = Path(warehouse if warehouse is not None else settings.warehouse)
    target = target.expanduser().resolve()
    engine = engine or settings.engine  # type: ignore[assignment]
    if engine not in ENGINES:
        raise ConfigError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")

    files = list_raw_files(raw)
    if not files:
        raise ScrmError(f"no input files in {raw}")
    check_cache_dir(settings.cache_dir, raw)
    parse_fn, presets = _ingest(parse)

    target.parent.mkdir(parents=True, exist_ok=True)
    started_at = dt.datetime.now(dt.UTC)
    build_id = started_at.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    building = target.with_name(f"{target.name}.building-{build_id}")
    stage_path = building.with_name(building.name + ".stage")
    report = progress or (lambda message: None)

    with _build_lock(target, build_id):
        _remove_leftovers(target)
        logger.info("build %s: %d file(s) from %s -> %s", build_id, len(files), raw, target)
        con = None
        try:
            con = duckdb_connect(building)
            _limit_memory(con, settings, spill=building.with_name(building.name + ".spill"))
            runner = Runner(con, label=f"build {build_id}")
            runner.sql(f"ATTACH '{_sql_str(stage_path)}' AS {STAGE_DB}", step="setup")
            _create_stage(runner)

            inputs: list[dict[str, Any]] = []
            refused: list[dict[str, Any]] = []
            jobs = [Job(p, p.parent.name if p.parent.name in presets else None) for p in files]
            parsed_files = parse_files(
                jobs, parse=parse_fn, settings=settings, cache_dir=settings.cache_dir
            )
            with contextlib.closing(parsed_files):
                for seq, path in enumerate(files):
                    rel = path.relative_to(raw).as_posix()
                    report(f"parse {seq + 1}/{len(files)}: {rel}")
                    with runner.step("parse"):
                        entry = next(parsed_files)
                    if isinstance(entry, Failure):
                        refused.append(_refusal(entry, rel))
                        continue
                    inputs.append(
                        _stage_entry(
                            runner, entry, seq=seq, rel=rel, parse=parse_fn, settings=settings
                        )
                    )
            if not inputs:
                raise ScrmError(
                    f"no file in {raw} could be read ({len(refused)} refused; first: "
                    f"{refused[0]['file']}: {refused[0]['reason']})"
                )
            report(f"transform on {engine}")
            exchange = building.with_name(building.name + ".spark")
            tables, superseded = _transform(runner, engine=engine, exchange=exchange)
            # identity and the person marts, on the file being built: published together
            run_steps(
                StepContext(
                    con=con,
                    settings=settings,
                    build_id=build_id,
                    previous_warehouse=target if target.exists() else None,
                    timings=runner.timings,
                ),
                progress=report,
                only=steps,
            )
            report("publish")

            dup = _duplicates(superseded, inputs)
            finished_at = dt.datetime.now(dt.UTC)
            runner.timings["total"] = round(time.perf_counter() - started, 4)
            _write_log(
                runner,
                target=target,
                build_id=build_id,
                started_at=started_at,
                finished_at=finished_at,
                engine=engine,
                raw=raw,
                inputs=inputs,
                duplicates=dup,
                refused=refused,
            )
            runner.sql(f"DETACH {STAGE_DB}", step="publish")
            runner.sql("CHECKPOINT", step="publish")
            con.disconnect()
            con = None
            _publish(building, target)
        except BaseException:
            if con is not None:
                with contextlib.suppress(Exception):
                    con.disconnect()
            _remove_build_files(building)
            raise
        finally:
            _remove_build_files(stage_path)
            _remove_build_files(building.with_name(building.name + ".spark"))
            _remove_build_files(building.with_name(building.name + ".spill"))

    timings = dict(runner.timings)
    timings["total"] = round(time.perf_counter() - started, 4)
    result = BuildResult(
        build_id=build_id,
        warehouse=target,
        engine=engine,
        files=len(inputs),
        rows_in=sum(i["rows_in"] for i in inputs),
        accepted=sum(i["accepted"] for i in inputs),
        rejected=sum(i["rejected"] for i in inputs),
        duplicates=sum(dup.get(i[FILE_SEQ], (0, {}))[0] for i in inputs),
        tables=tables,
        timings=timings,
        refused=[{**r, "refused_at": r["refused_at"].isoformat()} for r in refused],
    )
    logger.info("build %s published in %.1f s", build_id, result.seconds)
    return result


def status(
    warehouse: str | Path | None = None, *, state_db: str | Path | None = None
) -> dict[str, Any]:
    """Summarize the published warehouse: last build, table sizes, inputs, refusals, rejects.

    Opens the file read-only, so it is safe while a build or the dashboard runs.

    Parameters
    ----------
    warehouse
        The DuckDB file; default: ``settings.warehouse``.
    state_db
        The state store, for the files ``scrm ingest`` refused; default:
        ``settings.state_db`` when ``warehouse`` is the configured one too,
        else none is read.

    Returns
    -------
    dict
        ``warehouse``, ``last_build`` (id, times, version, engine, timings),
        ``builds`` (how many are recorded), ``tables`` (name -> rows),
        ``inputs`` (per file of the last build: rows in, accepted, rejected,
        duplicates), ``refused`` (files that could not be read: ``file``,
        ``sha256``, ``reason``, ``refused_at`` and ``by``: ``build`` for a
        file in the raw area the last build refused, ``ingest`` for one
        ``scrm ingest`` refused), ``rejects`` (reason -> rows, most frequent
        first) and
        ``steps`` (per build step of the last build: status ``ok`` or
        ``degraded``, seconds, rows, notes saying what was skipped and why).
        Plain JSON-serializable values.

    Raises
    ------
    WarehouseError
        No warehouse at the path (``run `scrm build```).

    Examples
    --------
    >>> s = status("data/warehouse/scrm.duckdb")  # doctest: +SKIP
    >>> s["last_build"]["build_id"], s["tables"]["orders"]  # doctest: +SKIP
    ('20261125T200102-3fa9c1', 48213)
    """
    con = open_warehouse(warehouse, read_only=True)
    try:
        runner = Runner(con, label="status")
        present = set(list_tables(con))
        if "builds" not in present:
            raise WarehouseError(f"{_target(warehouse)}: not a scrm warehouse (no builds table)")
        builds = con.table("builds")
        last = runner.execute(
            builds.order_by(ibis.desc("finished_at")).limit(1), step="read", table="builds"
        )
        n_builds = int(runner.execute(builds.count(), step="read", table="builds"))
        last_build = _records(last)[0] if len(last) else None
        if last_build is not None and last_build.get("timings"):
            last_build["timings"] = json.loads(last_build["timings"])
        names = [*TABLES, "rejects"]
        counts = {
            name: int(runner.execute(con.table(name).count(), step="count", table=name))
            for name in names
            if name in present
        }
        inputs: list[dict[str, Any]] = []
        if last_build is not None and "build_inputs" in present:
            bi = con.table("build_inputs")
            rows = runner.execute(
                bi.filter(bi.build_id == last_build["build_id"])
                .select(
                    "file", "format", "platform", "rows_in", "accepted", "rejected", "duplicates"
                )
                .order_by("file"),
                step="read",
                table="build_inputs",
            )
            inputs = _records(rows)
        refused: list[dict[str, Any]] = []
        if last_build is not None and "build_refused" in present:
            br = con.table("build_refused")
            rows = runner.execute(
                br.filter(br.build_id == last_build["build_id"])
                .select("file", "sha256", "reason", "refused_at")
                .order_by("file"),
                step="read",
                table="build_refused",
            )
            refused = [{**r, "by": "build"} for r in _records(rows)]
        rejects: dict[str, int] = {}
        if "rejects" in present:
            rj = con.table("rejects")
            by_reason = runner.execute(
                rj.group_by("reason")
                .aggregate(rows=rj.count())
                .order_by([ibis.desc("rows"), "reason"]),
                step="read",
                table="rejects",
            )
            rejects = {
                str(r): int(n) for r, n in zip(by_reason["reason"], by_reason["rows"], strict=True)
            }
        steps = step_log(con, last_build["build_id"]) if last_build is not None else []
    finally:
        con.disconnect()
    if state_db is None and warehouse is None:
        state_db = load_settings().state_db
    if state_db is not None:
        refused += _ingest_refusals(Path(state_db))
    return {
        "warehouse": str(_target(warehouse)),
        "last_build": last_build,
        "builds": n_builds,
        "tables": counts,
        "inputs": inputs,
        "refused": refused,
        "rejects": rejects,
        "steps": steps,
    }


def _ingest_refusals(state_db: Path) -> list[dict[str, Any]]:
    from scrm_lib.access.state import read_refused

    df = read_refused(path=state_db)
    df = df[["file", "sha256", "reason", "refused_at"]].assign(by="ingest")
    return _records(df)


# --- the steps ---------------------------------------------------------------------------


def _ingest(parse: Parse | None) -> tuple[Parse, set[str]]:
    # Imported here so that the warehouse layer loads even while ingest is
    # unfinished or broken; only a build that needs it pays.
    try:
        from scrm_lib import ingest
    except ImportError as exc:
        raise ScrmError(f"ingest is not available: {exc}") from exc
    list_presets = getattr(ingest, "list_presets", None)
    presets = set(list_presets()) if list_presets is not None else set()
    if parse is None:
        parse = getattr(ingest, "parse_file", None)
        if parse is None:
            raise ScrmError("ingest is not available: scrm_lib.ingest has no parse_file")
    return parse, presets


def _stage_schema(table: str) -> ibis.Schema:
    return ibis.schema({**TABLES[table], FILE_SEQ: "int64", ROW: "int64"})


def _create_stage(runner: Runner) -> None:
    for name in TABLES:
        with runner.step("stage", table=name):
            runner.con.create_table(
                f"stage_{name}", schema=_stage_schema(name), database=(STAGE_DB, "main")
            )
    runner.create_table("rejects", None, schema=REJECTS, step="stage")


def _stage_entry(
    runner: Runner,
    entry: Entry,
    *,
    seq: int,
    rel: str,
    parse: Parse,
    settings: Settings,
) -> dict[str, Any]:
    """Stage one parsed file: from the cache's Parquet (DuckDB reads it), else from frames."""
    if entry.parsed is None and entry.folder is not None:
        try:
            return _stage_parquet(runner, entry, seq=seq, rel=rel)
        except WarehouseError as exc:
            # A cache entry damaged after it was checked: drop what went in, parse afresh.
            logger.warning("%s: parse cache entry unreadable, parsing again (%s)", rel, exc)
            for name in entry.tables:
                runner.sql(
                    f"DELETE FROM {STAGE_DB}.main.stage_{name} WHERE {FILE_SEQ} = {seq}",
                    step="stage",
                )
            discard(entry.folder)
            fresh = parse_one(
                Job(entry.path, entry.format),
                parse=parse,
                settings=settings,
                cache_dir=None,
                keep=True,
            )
            if isinstance(fresh, Failure):
                raise InputFileError(fresh.path, fresh.problem) from None
            entry = fresh
    return _stage_file(runner, entry.load(), seq=seq, rel=rel)


def _check_counts(rel: str, rows_in: int, accepted: int, rejected: int) -> None:
    if accepted < 0 or accepted + rejected != rows_in:
        raise ScrmError(
            f"{rel}: rows do not reconcile: {rows_in} in, {accepted} accepted, {rejected} rejected"
        )


def _stage_parquet(runner: Runner, entry: Entry, *, seq: int, rel: str) -> dict[str, Any]:
    """Insert a cached file's tables and rejects straight from Parquet (no pandas round trip)."""
    _check_counts(rel, entry.rows_in, entry.accepted, entry.rejected)
    for name in entry.tables:
        if name not in TABLES:
            raise ScrmError(f"{rel}: ingest returned unknown table {name!r}")
        cols = ", ".join(f'"{c}"' for c in TABLES[name].names)
        src = _sql_str(entry.table_path(name))
        # file_row_number: the row's position in the file's table, as _row is for frames
        sql = (
            f"INSERT INTO {STAGE_DB}.main.stage_{name} ({cols}, {FILE_SEQ}, {ROW}) "
            f"SELECT {cols}, {seq}, file_row_number "
            f"FROM read_parquet('{src}', file_row_number = true)"
        )
        runner.sql(sql, step="stage", table=name)
    rejects = entry.rejects_path
    if rejects is not None:
        cols = ", ".join(f'"{c}"' for c in REJECTS.names)
        sel = ", ".join(
            f"coalesce(\"file\", '{_sql_str(Path(rel))}')" if c == "file" else f'"{c}"'
            for c in REJECTS.names
        )
        runner.sql(
            f"INSERT INTO rejects ({cols}) SELECT {sel} FROM read_parquet('{_sql_str(rejects)}')",
            step="stage",
            table="rejects",
        )
    return {
        FILE_SEQ: seq,
        "file": rel,
        "format": entry.format,
        "platform": entry.platform,
        "sha256": entry.sha256,
        "rows_in": int(entry.rows_in),
        "accepted": int(entry.accepted),
        "rejected": int(entry.rejected),
        "tables": list(entry.tables),
    }


def _stage_file(runner: Runner, parsed: ParsedFile, *, seq: int, rel: str) -> dict[str, Any]:
    accepted, rejected = int(parsed.accepted), int(parsed.rejected)
    _check_counts(rel, int(parsed.rows_in), accepted, rejected)
    for name, frame in parsed.tables.items():
        if name not in TABLES:
            raise ScrmError(f"{rel}: ingest returned unknown table {name!r}")
        if frame is None or frame.empty:
            continue
        df = conform(frame, name)
        df[FILE_SEQ] = seq
        df[ROW] = range(len(df))
        with runner.step("stage", table=name):
            runner.con.insert(
                f"stage_{name}",
                ibis.memtable(df).cast(_stage_schema(name)),
                database=(STAGE_DB, "main"),
            )
    if parsed.rejects is not None and not parsed.rejects.empty:
        rj = conform(parsed.rejects, "rejects")
        rj["file"] = rj["file"].fillna(rel)
        runner.insert("rejects", ibis.memtable(rj).cast(REJECTS), step="stage")
    return {
        FILE_SEQ: seq,
        "file": rel,
        "format": parsed.format,
        "platform": parsed.platform,
        "sha256": parsed.sha256,
        "rows_in": int(parsed.rows_in),
        "accepted": accepted,
        "rejected": rejected,
        "tables": [n for n, f in parsed.tables.items() if f is not None and not f.empty],
    }


def _transform(
    runner: Runner, *, engine: str, exchange: Path
) -> tuple[dict[str, int], pd.DataFrame]:
    con = runner.con
    staged = {name: con.table(f"stage_{name}", database=(STAGE_DB, "main")) for name in TABLES}
    if engine == "pyspark":
        return _transform_on_spark(runner, staged, exchange=exchange)
    out = canonical_tables(staged)
    counts = {}
    for name, expr in out.tables.items():
        t = runner.create_table(name, expr, step="transform")
        counts[name] = int(runner.execute(t.count(), step="count", table=name))
    superseded = runner.execute(out.superseded, step="transform", table="duplicates")
    return counts, superseded


def _transform_on_spark(
    runner: Runner, staged: dict[str, ibis.Table], *, exchange: Path
) -> tuple[dict[str, int], pd.DataFrame]:
    """Run the same transform on Spark; Parquet files carry the rows both ways.

    Going through files rather than the driver keeps memory flat: Spark
    reads and writes Parquet in parallel, DuckDB reads it natively.
    """
    con = runner.con
    with runner.step("spark start"):
        spark_con = spark_backend(spark_session())
    spark = Runner(spark_con, label=runner.label)
    on_spark = {}
    (exchange / "in").mkdir(parents=True, exist_ok=True)
    for name, t in staged.items():
        path = exchange / "in" / f"{name}.parquet"
        with runner.step("to spark", table=name):
            con.to_parquet(t, path)
        with spark.step("to spark", table=name):
            on_spark[name] = spark_con.read_parquet(str(path), table_name=f"scrm_stage_{name}")
    out = canonical_tables(on_spark)
    counts = {}
    for name, expr in out.tables.items():
        path = exchange / "out" / name
        with spark.step("transform", table=name):
            spark_con.to_parquet(expr, path)
        parts = [str(p) for p in sorted(path.glob("*.parquet"))]
        with runner.step("write", table=name):
            if parts:
                data = con.read_parquet(parts).cast(TABLES[name])
                t = con.create_table(name, data, overwrite=True)
            else:  # Spark may write no part file for an empty result
                t = con.create_table(name, schema=TABLES[name], overwrite=True)
        counts[name] = int(runner.execute(t.count(), step="count", table=name))
    superseded = spark.execute(out.superseded, step="transform", table="duplicates")
    for step, seconds in spark.timings.items():
        runner.timings[step] = round(runner.timings.get(step, 0.0) + seconds, 4)
    return counts, superseded


def _duplicates(
    superseded: pd.DataFrame, inputs: list[dict[str, Any]]
) -> dict[int, tuple[int, dict[str, int]]]:
    by_file: dict[int, dict[str, int]] = {}
    for seq, table, n in superseded[[FILE_SEQ, "table", "duplicates"]].itertuples(index=False):
        by_file.setdefault(int(seq), {})[str(table)] = int(n)
    out = {}
    for item in inputs:
        per_table = by_file.get(item[FILE_SEQ], {})
        main = next((t for t in _MAIN_TABLE_ORDER if t in item["tables"]), None)
        main_dups = per_table.get(main, 0) if main else 0
        # a file cannot have more duplicate rows than accepted ones
        out[item[FILE_SEQ]] = (min(main_dups, item["accepted"]), per_table)
    return out


def _write_log(
    runner: Runner,
    *,
    target: Path,
    build_id: str,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    engine: str,
    raw: Path,
    inputs: list[dict[str, Any]],
    duplicates: dict[int, tuple[int, dict[str, int]]],
    refused: list[dict[str, Any]],
) -> None:
    old_builds, old_inputs, old_refused = _previous_log(target)
    row = {
        "build_id": build_id,
        "started_at": started_at,
        "finished_at": finished_at,
        "version": _version(),
        "status": "ok",
        "timings": json.dumps(runner.timings, sort_keys=True),
        "engine": engine,
        "raw_dir": str(raw),
        "files": len(inputs),
        "refused": len(refused),
    }
    builds = pd.concat([old_builds, pd.DataFrame([row])], ignore_index=True)
    runner.create_table("builds", ibis.memtable(_aligned(builds, BUILDS)), step="log")
    new_inputs = pd.DataFrame(
        [
            {
                "build_id": build_id,
                **{k: item[k] for k in BUILD_INPUTS.names if k in item},
                "duplicates": duplicates[item[FILE_SEQ]][0],
                "duplicates_by_table": json.dumps(duplicates[item[FILE_SEQ]][1], sort_keys=True),
            }
            for item in inputs
        ]
    )
    all_inputs = pd.concat([old_inputs, new_inputs], ignore_index=True)
    runner.create_table(
        "build_inputs", ibis.memtable(_aligned(all_inputs, BUILD_INPUTS)), step="log"
    )
    new_refused = pd.DataFrame(
        [{"build_id": build_id, **r} for r in refused], columns=BUILD_REFUSED.names
    )
    all_refused = pd.concat([old_refused, new_refused], ignore_index=True)
    runner.create_table(
        "build_refused", ibis.memtable(_aligned(all_refused, BUILD_REFUSED)), step="log"
    )


def _refusal(failure: Failure, rel: str) -> dict[str, Any]:
    """The build-log row of a file that could not be read; the build goes on without it."""
    from scrm_lib.ingest.raw_area import sha256_of

    try:
        sha = sha256_of(failure.path)
    except OSError:
        sha = None  # gone or unreadable: the reason says so
    logger.warning("%s: refused, not built: %s", rel, failure.problem)
    return {
        "file": rel,
        "sha256": sha,
        "reason": failure.problem,
        "refused_at": dt.datetime.now(dt.UTC),
    }


_LOG_TABLES = (("builds", BUILDS), ("build_inputs", BUILD_INPUTS), ("build_refused", BUILD_REFUSED))


def _previous_log(target: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The ``builds``, ``build_inputs`` and ``build_refused`` rows of the published warehouse."""
    empty = tuple(pd.DataFrame(columns=schema.names) for _, schema in _LOG_TABLES)
    if not target.exists():
        return empty
    try:
        con = open_warehouse(target, read_only=True)
    except WarehouseError as exc:
        # An unreadable old file must not block a fresh build; its history is lost.
        logger.warning("previous warehouse unreadable, build history restarts: %s", exc)
        return empty  # type: ignore[return-value]
    try:
        present = set(list_tables(con))
        out = []
        for name, schema in _LOG_TABLES:
            if name in present:
                t = con.table(name)
                out.append(t.select(*[c for c in schema.names if c in t.columns]).execute())
            else:
                out.append(pd.DataFrame(columns=schema.names))
        return out[0], out[1], out[2]
    finally:
        con.disconnect()


def _aligned(df: pd.DataFrame, schema: ibis.Schema) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for name, dtype in schema.items():
        col = df[name] if name in df.columns else pd.Series(pd.NA, index=df.index)
        if dtype.is_timestamp():
            col = pd.to_datetime(col, utc=True).astype("datetime64[us, UTC]")
        elif dtype.is_integer():
            col = pd.to_numeric(col).astype("Int64")
        else:
            col = col.astype("string")
        out[name] = col
    return out.reset_index(drop=True)


def _limit_memory(con: Any, settings: Settings, *, spill: Path) -> None:
    """Cap DuckDB's memory and let it spill: at 1M persons the transform outgrew RAM otherwise."""
    limit = str(settings.duckdb_memory_limit).replace("'", "")
    con.raw_sql(f"SET memory_limit = '{limit}'")
    con.raw_sql(f"SET temp_directory = '{spill.as_posix()}'")
    # row order inside a table carries no meaning here; keeping it costs memory
    con.raw_sql("SET preserve_insertion_order = false")


def _publish(building: Path, target: Path) -> None:
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


def _remove_build_files(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        _remove(p)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _remove_leftovers(target: Path) -> None:
    # Only called under the build lock: any .building-* file here is from a
    # build that died.
    for leftover in target.parent.glob(f"{target.name}.building-*"):
        logger.info("removing leftover %s from an interrupted build", leftover.name)
        _remove(leftover)


@contextlib.contextmanager
def _build_lock(target: Path, build_id: str) -> Iterator[None]:
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


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    # JSON-friendly: timestamps as ISO text, numpy/pandas scalars as Python ones.
    return json.loads(df.to_json(orient="records", date_format="iso", force_ascii=False))


def _target(warehouse: str | Path | None) -> Path:
    if warehouse is not None:
        return Path(warehouse).expanduser().resolve()
    return load_settings().warehouse


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scrm")
    except PackageNotFoundError:
        return "0+unknown"


__all__ = [
    "BUILDS",
    "BUILD_INPUTS",
    "BUILD_REFUSED",
    "BuildResult",
    "build",
    "list_raw_files",
    "status",
]
