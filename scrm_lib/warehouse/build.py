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

This module only orchestrates; each job has its module: staging the parsed
files (:mod:`.stage`), the canonical transform and where it runs
(:mod:`.canonical`), the build steps (:mod:`.steps`), the build log and its
reader (:mod:`.log`, where :func:`status` lives), the lock and the publish
(:mod:`.publish`).

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
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scrm_lib.config import Settings, check_master, load_settings, normalize_engine
from scrm_lib.engine import Runner, duckdb_connect
from scrm_lib.errors import ScrmError
from scrm_lib.ingest.cache import check_cache_dir
from scrm_lib.warehouse import log, publish, stage
from scrm_lib.warehouse.canonical import FILE_SEQ, materialize
from scrm_lib.warehouse.log import BUILD_INPUTS, BUILD_REFUSED, BUILDS, status
from scrm_lib.warehouse.steps import StepContext, run_steps

if TYPE_CHECKING:
    from scrm_lib.ingest import ParsedFile

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
Parse = Callable[..., "ParsedFile"]


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
    engine: Literal["duckdb", "pyspark", "spark"] | None = None,
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
        ``"pyspark"`` (or ``"spark"``) the staged rows go to a Spark session on
        ``settings.spark_master`` (``local[2]``, or a cluster's URL) and the
        results come back to the DuckDB file.
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
    engine = normalize_engine(engine or settings.engine)  # type: ignore[assignment]
    master = check_master(settings.spark_master)

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

    with publish.build_lock(target, build_id):
        publish.remove_leftovers(target)
        logger.info("build %s: %d file(s) from %s -> %s", build_id, len(files), raw, target)
        con = None
        try:
            con = duckdb_connect(building)
            runner = Runner(con, label=f"build {build_id}")
            stage.prepare(
                runner,
                stage_path=stage_path,
                spill=building.with_name(building.name + ".spill"),
                memory_limit=settings.duckdb_memory_limit,
            )
            inputs, refused = stage.stage_files(
                runner,
                files,
                raw=raw,
                parse=parse_fn,
                presets=presets,
                settings=settings,
                report=report,
            )
            if not inputs:
                raise ScrmError(
                    f"no file in {raw} could be read ({len(refused)} refused; first: "
                    f"{refused[0]['file']}: {refused[0]['reason']})"
                )
            report(f"transform on {engine}")
            exchange = building.with_name(building.name + ".spark")
            tables, superseded = materialize(
                runner,
                stage.staged_tables(runner),
                engine=engine,
                exchange=exchange,
                master=master,
                executor_memory=settings.spark_executor_memory,
            )
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

            dup = log.duplicates(superseded, inputs)
            finished_at = dt.datetime.now(dt.UTC)
            runner.timings["total"] = round(time.perf_counter() - started, 4)
            log.write_log(
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
            stage.detach(runner)
            publish.checkpoint(runner)
            con.disconnect()
            con = None
            publish.publish(building, target)
        except BaseException:
            if con is not None:
                with contextlib.suppress(Exception):
                    con.disconnect()
            publish.remove_build_files(building)
            raise
        finally:
            publish.remove_build_files(stage_path)
            publish.remove_build_files(building.with_name(building.name + ".spark"))
            publish.remove_build_files(building.with_name(building.name + ".spill"))

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


__all__ = [
    "BUILDS",
    "BUILD_INPUTS",
    "BUILD_REFUSED",
    "BuildResult",
    "build",
    "list_raw_files",
    "status",
]
