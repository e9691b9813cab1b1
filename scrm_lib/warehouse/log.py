"""The build log: what each build read, refused, ran and took, written and read in one place.

A build writes ``builds`` (one row per build), ``build_inputs`` (per input
file: rows in, accepted, rejected, duplicates), ``build_refused`` (files
that could not be read) and ``build_steps`` (per build step: status,
seconds, rows, notes), carrying the published warehouse's rows over, so the
log is the warehouse's history. :class:`BuildLog` is the one reader of it:
:func:`status` (``scrm status``, the dashboard) and
:mod:`scrm_lib.warehouse.health` (the data-health report) both go through it.

Example
-------
>>> from scrm_lib.warehouse.log import BuildLog, status
>>> status("data/warehouse/scrm.duckdb")["last_build"]["build_id"]  # doctest: +SKIP
'20261125T200102-3fa9c1'
>>> with using("data/warehouse/scrm.duckdb") as con:  # doctest: +SKIP
...     BuildLog(con).last_build_id()
'20261125T200102-3fa9c1'
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from scrm_lib.config import load_settings
from scrm_lib.engine import Runner, is_published, list_tables, open_warehouse, using, version_info
from scrm_lib.errors import WarehouseError
from scrm_lib.schema import TABLES, TS
from scrm_lib.warehouse.canonical import FILE_SEQ
from scrm_lib.warehouse.steps import STEP_LOG_COLUMNS

if TYPE_CHECKING:
    from scrm_lib.ingest.cache import Failure

logger = logging.getLogger(__name__)

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
        "master": "string",  # the Spark master the transform ran on (null: DuckDB)
        "runs": "string",  # JSON: part of the build -> where it ran and where it was written
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

BUILD_STEPS = ibis.schema(
    {
        "seq": "int64",  # run order: the build connection does not keep insertion order
        "build_id": "string",
        "step": "string",
        "status": "string",  # ok | degraded
        "seconds": "float64",
        "rows": "string",  # JSON: table -> rows written
        "notes": "string",  # JSON list: what the step skipped or degraded, and why
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
    "surveys",
    "consent",
    "assignments",
    "channels",
    "staff",
    "accounts",
    "identifiers",
)

_LOG_TABLES = (("builds", BUILDS), ("build_inputs", BUILD_INPUTS), ("build_refused", BUILD_REFUSED))

# Build-log columns and the other names a build may have written them under.
_BUILD_ALIASES = {"version": ("version", "library_version")}


# --- reading -----------------------------------------------------------------------------


class BuildLog:
    """The one reader of a warehouse's build log (and of its rejects per reason).

    Parameters
    ----------
    con
        An open connection on the warehouse (ibis DuckDB backend or a plain
        DuckDB connection), e.g. from :func:`scrm_lib.engine.using`.
    label
        Prefix of error messages: a failed query reads ``<label>: <step>: <table>: ...``.

    Examples
    --------
    >>> with using("data/warehouse/scrm.duckdb") as con:  # doctest: +SKIP
    ...     log = BuildLog(con)
    ...     log.inputs(log.last_build_id())
    """

    def __init__(self, con: Any, *, label: str = "build log") -> None:
        self.con = con
        self.runner = Runner(con, label=label)
        self.tables: set[str] = self.runner.tables(step="read")

    def columns(self, table: str) -> set[str]:
        """The column names of ``table``."""
        found = self.runner.rows("build_log.columns", {"table": table}, step="read", table=table)
        return {r[0] for r in found}

    def last_build(self) -> pd.DataFrame:
        """The most recently finished build: one row (none when no build is logged).

        Columns are those of :data:`BUILDS`; a column the log lacks is null, and
        ``version`` is also read from a ``library_version`` column.
        """
        have = self.columns("builds")
        sources = [
            next((c for c in _BUILD_ALIASES.get(col, (col,)) if c in have), "")
            for col in BUILDS.names
        ]
        return self.runner.df(
            "build_log.last_build",
            step="read",
            table="builds",
            columns=BUILDS.names,
            sources=sources,
        )

    def last_build_id(self) -> str | None:
        """The id of the most recently finished build, ``None`` when there is none."""
        if "builds" not in self.tables:
            return None
        last = self.last_build()
        return None if last.empty else str(last["build_id"].iloc[0])

    def builds(self) -> int:
        """How many builds the log records."""
        return int(self.runner.scalar("build_log.count_builds", step="read", table="builds"))

    def inputs(self, build_id: str | None) -> pd.DataFrame:
        """One build's input files: ``file, format, platform, rows_in, accepted, rejected,
        duplicates``, by file."""
        return self.runner.df(
            "build_log.inputs", {"build_id": build_id}, step="read", table="build_inputs"
        )

    def inputs_summed(self, build_id: str | None, *, by: str, no_platform: str) -> pd.DataFrame:
        """One build's inputs summed per ``file`` or ``platform`` (none: ``no_platform``)."""
        return self.runner.df(
            "build_log.inputs_summed",
            {"build_id": build_id, "no_platform": no_platform},
            step="read",
            table="build_inputs",
            by=by,
        )

    def refused(self, build_id: str | None) -> pd.DataFrame:
        """The files one build refused: ``file, sha256, reason, refused_at``, by file."""
        return self.runner.df(
            "build_log.refused", {"build_id": build_id}, step="read", table="build_refused"
        )

    def rejects_by_reason(self, max_examples: int | None = None) -> pd.DataFrame:
        """Rejected rows per reason, most first: ``reason, rows``; with ``max_examples``
        also ``files, columns, example_values, example_lines``."""
        examples = max_examples is not None
        return self.runner.df(
            "build_log.rejects_by_reason",
            {"max_examples": max_examples} if examples else None,
            step="read",
            table="rejects",
            examples=examples,
        )

    def steps(self, build_id: str | None = None) -> list[dict[str, Any]]:
        """The ``build_steps`` rows of one build (default: the last one logged), in run order.

        Each: ``step, status, seconds, rows`` (dict), ``notes`` (list); empty for a
        warehouse built before the step log existed.
        """
        if "build_steps" not in self.tables:
            return []
        if build_id is None:
            build_id = self.runner.scalar("build_log.last_step_build", step="read")
            if build_id is None:
                return []
        rows = self.runner.rows(
            "build_log.steps", {"build_id": build_id}, step="read", table="build_steps"
        )
        return [
            {
                "step": step,
                "status": status,
                "seconds": seconds,
                "rows": json.loads(n_rows or "{}"),
                "notes": json.loads(notes or "[]"),
            }
            for step, status, seconds, n_rows, notes in rows
        ]

    def all_steps(self) -> pd.DataFrame:
        """Every ``build_steps`` row (empty when there is no step log)."""
        if "build_steps" not in self.tables:
            return pd.DataFrame(columns=STEP_LOG_COLUMNS)
        return self.runner.df("build_log.all_steps", step="read", table="build_steps")


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
        ``warehouse``, ``storage`` (``duckdb``: one file; ``parquet``: a Spark
        build's folder), ``engine`` and ``master`` (where the last build's
        transform ran), ``version`` (a folder's current version, else null),
        ``runs`` (part of the build -> where it ran),
        ``last_build`` (id, times, version, engine, timings),
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
    with using(warehouse) as con:
        folder = version_info(con)
        log = BuildLog(con, label="status")
        if "builds" not in log.tables:
            raise WarehouseError(f"{_target(warehouse)}: not a scrm warehouse (no builds table)")
        last = log.last_build()
        n_builds = log.builds()
        last_build = _records(last)[0] if len(last) else None
        if last_build is not None and last_build.get("timings"):
            last_build["timings"] = json.loads(last_build["timings"])
        if last_build is not None and last_build.get("runs"):
            last_build["runs"] = json.loads(last_build["runs"])
        build_id = last_build["build_id"] if last_build is not None else None
        counts = {
            name: int(log.runner.execute(con.table(name).count(), step="count", table=name))
            for name in [*TABLES, "rejects"]
            if name in log.tables
        }
        inputs: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        steps: list[dict[str, Any]] = []
        if last_build is not None:
            if "build_inputs" in log.tables:
                inputs = _records(log.inputs(build_id))
            if "build_refused" in log.tables:
                refused = [{**r, "by": "build"} for r in _records(log.refused(build_id))]
            steps = log.steps(build_id)
        rejects: dict[str, int] = {}
        if "rejects" in log.tables:
            by_reason = log.rejects_by_reason()
            rejects = {
                str(r): int(n) for r, n in zip(by_reason["reason"], by_reason["rows"], strict=True)
            }
    if state_db is None and warehouse is None:
        state_db = load_settings().state_db
    if state_db is not None:
        refused += _ingest_refusals(Path(state_db))
    # a folder's manifest says where its version was made; a file's last build row does
    made = folder or last_build or {}
    return {
        "warehouse": str(_target(warehouse)),
        "storage": made.get("storage", "duckdb"),
        "engine": made.get("engine"),
        "master": made.get("master"),
        "version": made.get("version") if folder else None,
        "runs": made.get("runs") or {},
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


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    # JSON-friendly: timestamps as ISO text, numpy/pandas scalars as Python ones.
    return json.loads(df.to_json(orient="records", date_format="iso", force_ascii=False))


def _target(warehouse: str | Path | None) -> Path:
    if warehouse is not None and str(warehouse) != "":
        return Path(warehouse).expanduser().resolve()
    return load_settings().warehouse


# --- writing -----------------------------------------------------------------------------


def refusal(failure: Failure, rel: str) -> dict[str, Any]:
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


def duplicates(
    superseded: pd.DataFrame, inputs: list[dict[str, Any]]
) -> dict[int, tuple[int, dict[str, int]]]:
    """Per input file (by ``_file_seq``): its duplicate rows, and per table.

    A file's duplicates are those of its main table (orders before events
    before ...), never more than the rows it had accepted.
    """
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


def write_log(
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
    master: str | None = None,
    runs: dict[str, str] | None = None,
) -> None:
    """Write ``builds``, ``build_inputs``, ``build_refused``: the old rows, then this build's.

    ``master`` is the Spark master of a Spark build; ``runs`` says, per part of the
    build (stage, canonical, steps, storage), where it ran or was written.
    """
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
        "master": master,
        "runs": json.dumps(runs or {}, sort_keys=True),
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


def write_steps(con: Any, rows: list[dict[str, Any]], *, previous: Path | None) -> None:
    """Write ``build_steps``: the ``previous`` (published) warehouse's rows, then ``rows``."""
    frames = []
    if previous is not None and is_published(previous):
        try:
            with using(previous) as old:
                frames.append(BuildLog(old).all_steps())
        except WarehouseError as exc:
            logger.warning("previous warehouse unreadable, step log restarts: %s", exc)
    frames.append(pd.DataFrame(rows, columns=STEP_LOG_COLUMNS))
    df = pd.concat([f.reindex(columns=STEP_LOG_COLUMNS) for f in frames], ignore_index=True)
    # run order, explicit: the build connection does not keep insertion order
    df["seq"] = range(len(df))
    df = df.astype({c: "string" for c in STEP_LOG_COLUMNS if c not in ("seq", "seconds")})
    df["seconds"] = pd.to_numeric(df["seconds"]).astype("float64")
    runner = Runner(con, label="build steps")
    runner.create_table("build_steps", ibis.memtable(df, schema=BUILD_STEPS), step="log")


def _previous_log(target: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The ``builds``, ``build_inputs`` and ``build_refused`` rows of the published warehouse."""
    empty = tuple(pd.DataFrame(columns=schema.names) for _, schema in _LOG_TABLES)
    if not is_published(target):
        return empty  # type: ignore[return-value]
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
    "BUILD_STEPS",
    "STEP_LOG_COLUMNS",
    "BuildLog",
    "duplicates",
    "refusal",
    "status",
    "write_log",
    "write_steps",
]
