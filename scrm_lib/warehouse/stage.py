"""Staging: every parsed file's rows into the stage tables, its rejected rows into ``rejects``.

The staged rows of a table (the canonical columns plus ``_file_seq`` and ``_row``,
see :mod:`scrm_lib.warehouse.canonical`) are read where they lie: a file from the
parse cache stays in its Parquet files, which the transform reads directly (copying
them into a table first cost as much as the transform's own reading of them); a file
parsed without the cache goes in from its frames into the stage table
``stage_<table>``. That table and the list of cache files live in a separate DuckDB
file attached to the build's file as ``stage``, thrown away after the build;
:func:`staged_tables` puts both together.
A file that cannot be read is refused (a row for ``build_refused``), not
fatal; a file whose counts do not reconcile (rows in = accepted + rejected)
stops the build.

Example
-------
>>> runner = Runner(duckdb_connect(building), label="build")  # doctest: +SKIP
>>> prepare(runner, stage_path=stage, spill=spill, memory_limit="4GB")  # doctest: +SKIP
>>> inputs, refused = stage_files(runner, files, raw=raw, parse=parse, ...)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis

from scrm_lib.engine import Runner
from scrm_lib.errors import InputFileError, ScrmError, WarehouseError
from scrm_lib.ingest.cache import Entry, Failure, Job, discard, parse_files, parse_one
from scrm_lib.schema import REJECTS, TABLES, conform
from scrm_lib.warehouse.canonical import FILE_SEQ, ROW
from scrm_lib.warehouse.log import refusal

if TYPE_CHECKING:
    from scrm_lib.config import Settings
    from scrm_lib.ingest import ParsedFile

logger = logging.getLogger(__name__)

Parse = Callable[..., "ParsedFile"]
Progress = Callable[[str], None]

#: The name the stage file is attached under.
STAGE_DB = "stage"


def prepare(runner: Runner, *, stage_path: Path, spill: Path, memory_limit: str) -> None:
    """Set up the build's file: cap its memory, let it spill, attach an empty stage.

    The cap and the spill directory: at 1M persons the transform outgrew RAM
    otherwise.
    """
    runner.query("build.memory_limit", {"limit": str(memory_limit)}, step="setup")
    runner.query("build.temp_directory", {"path": spill.as_posix()}, step="setup")
    runner.query("build.any_row_order", step="setup")
    runner.query("build.attach_stage", step="setup", path=str(stage_path), db=STAGE_DB)
    runner.query("build.cached_files", step="setup", db=STAGE_DB)
    for name in TABLES:
        with runner.step("stage", table=name):
            runner.con.create_table(
                f"stage_{name}", schema=stage_schema(name), database=(STAGE_DB, "main")
            )
    runner.create_table("rejects", None, schema=REJECTS, step="stage")


def detach(runner: Runner) -> None:
    """Let go of the stage file (before the build's file is published)."""
    runner.query("build.detach_stage", step="publish", db=STAGE_DB)


def staged_tables(runner: Runner) -> dict[str, ibis.Table]:
    """Canonical table name -> its staged rows: the stage table's (files staged from
    frames) and those of every cache file staged for it."""
    cached: dict[str, list[tuple[int, str]]] = {}
    for name, seq, path in runner.rows("build.staged_cached_files", step="stage", db=STAGE_DB):
        cached.setdefault(name, []).append((int(seq), path))
    out = {}
    for name in TABLES:
        framed = runner.con.table(f"stage_{name}", database=(STAGE_DB, "main"))
        parts = [framed]
        for seq, path in cached.get(name, []):
            rows = runner.relation(
                "build.cached_rows",
                path=path,
                seq=seq,
                columns=TABLES[name].names,
                file_seq=FILE_SEQ,
                row=ROW,
            )
            # one file's columns in the stage table's types (an all-empty column may have
            # none; the engine's types, e.g. its timestamps' precision, as the table has them)
            parts.append(rows.cast(framed.schema()))
        out[name] = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    return out


def stage_schema(table: str) -> ibis.Schema:
    """The stage table's schema: the canonical columns of ``table``, ``_file_seq``, ``_row``."""
    return ibis.schema({**TABLES[table], FILE_SEQ: "int64", ROW: "int64"})


def stage_files(
    runner: Runner,
    files: Sequence[Path],
    *,
    raw: Path,
    parse: Parse,
    presets: set[str],
    settings: Settings,
    report: Progress,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Parse ``files`` (through the parse cache) and stage each, in order.

    A file in a folder named after a preset is read with that preset. Its
    position in ``files`` is its ``_file_seq``.

    Returns
    -------
    tuple
        ``inputs`` (per staged file: ``_file_seq``, ``file``, format, platform,
        sha256, counts, tables) and ``refused`` (build-log rows of the files
        that could not be read).
    """
    inputs: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    parsed_files = parse_files(
        parse_jobs(files, presets), parse=parse, settings=settings, cache_dir=settings.cache_dir
    )
    with contextlib.closing(parsed_files):
        for seq, path in enumerate(files):
            rel = path.relative_to(raw).as_posix()
            report(f"parse {seq + 1}/{len(files)}: {rel}")
            with runner.step("parse"):
                entry = next(parsed_files)
            if isinstance(entry, Failure):
                refused.append(refusal(entry, rel))
                continue
            inputs.append(
                stage_entry(runner, entry, seq=seq, rel=rel, parse=parse, settings=settings)
            )
    return inputs, refused


def parse_jobs(files: Sequence[Path], presets: set[str]) -> list[Job]:
    """The files as parse jobs: one in a folder named after a preset is read with it."""
    return [Job(p, p.parent.name if p.parent.name in presets else None) for p in files]


def stage_entry(
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
            # A cache entry damaged after it was checked: parse the file afresh.
            logger.warning("%s: parse cache entry unreadable, parsing again (%s)", rel, exc)
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
    """Stage a cached file's tables where they lie (:func:`staged_tables` reads them), its
    rejects into ``rejects``. Every file is read first: a damaged one raises
    :class:`WarehouseError` before anything of the entry is staged."""
    _check_counts(rel, entry.rows_in, entry.accepted, entry.rejected)
    for name in entry.tables:
        if name not in TABLES:
            raise ScrmError(f"{rel}: ingest returned unknown table {name!r}")
        runner.query(
            "build.parquet_rows", {"path": str(entry.table_path(name))}, step="stage", table=name
        )
    rejects = entry.rejects_path
    if rejects is not None:
        runner.query(
            "build.stage_rejects_parquet",
            {"file": rel, "path": str(rejects)},
            step="stage",
            table="rejects",
            columns=REJECTS.names,
        )
    for name in entry.tables:
        runner.query(
            "build.stage_cached_file",
            {"table": name, "seq": seq, "path": str(entry.table_path(name))},
            step="stage",
            table=name,
            db=STAGE_DB,
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
                ibis.memtable(df).cast(stage_schema(name)),
                database=(STAGE_DB, "main"),
            )
    if parsed.rejects is not None and not parsed.rejects.empty:
        rj = conform(parsed.rejects, "rejects")
        rj["file"] = rj["file"].fillna(rel)
        runner.insert("rejects", ibis.memtable(rj).cast(REJECTS), step="stage")
    return {FILE_SEQ: seq, "file": rel, **parsed.summary()}


__all__ = [
    "STAGE_DB",
    "detach",
    "parse_jobs",
    "prepare",
    "stage_entry",
    "stage_files",
    "stage_schema",
    "staged_tables",
]
