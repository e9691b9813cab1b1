"""Build the warehouse from the raw exports and publish it atomically.

A build parses every raw file (through the parse cache) and stages its rows
for a new DuckDB file next to the target (``<warehouse>.building-<build_id>``;
a cached file's Parquet is read where it lies, other rows go into an attached
``.stage`` file that is thrown away), runs the transformations of
:mod:`scrm_lib.warehouse.canonical` on DuckDB or Spark, writes the canonical tables,
``rejects`` and the build log (``builds``, ``build_inputs``), and only then
replaces the published file with one ``os.replace``. Readers therefore see
the old build or the new one, never half of one; a build that dies leaves
the published warehouse as it was, and the next build removes its leftovers
(the ``.building-*`` files and the lock file a killed build could not
remove; the lock itself is an ``flock``, which the OS drops with the process).

With the Spark engine the build publishes a warehouse folder instead
(``[engine] warehouse_path``; layout in :mod:`scrm_lib.engine.folder`). What
runs where today: the files not yet in the parse cache are parsed into it on
Spark's executors (:mod:`scrm_lib.ingest.executors`) and staged on the driver;
the canonical transform runs on Spark, whose executors write the canonical tables
as Parquet into ``<folder>/versions/<build_id>/``; the build steps whose code
runs on Spark (``Step.engines``: every step today, OneID's matching with Splink's
Spark backend) run there too and their marts are written into the version by
the executors; what is still computed on the driver (OneID's connected
components, the marts a step builds as pandas frames) reads the Parquet files
through views, and such marts, ``rejects`` and the build log are written as
Parquet into the same version folder by DuckDB (:mod:`scrm_lib.engine.bridge`
hands the tables between the two). When every table and the manifest
are written and fsynced, ``<folder>/CURRENT`` is switched to the new version
with one ``os.replace``; a build that dies leaves the previous version
published, and the next build removes the dead one's folder. The build log's
``runs`` column says where each part ran.

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
import functools
import gc
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scrm_lib.config import (
    Settings,
    check_master,
    load_settings,
    normalize_engine,
    warehouse_folder,
)
from scrm_lib.engine import Runner, duckdb_connect, is_published
from scrm_lib.engine.bridge import SparkBridge
from scrm_lib.engine.folder import version_path
from scrm_lib.errors import ConfigError, ScrmError
from scrm_lib.ingest.cache import check_cache_dir
from scrm_lib.warehouse import log, publish, stage
from scrm_lib.warehouse.canonical import FILE_SEQ, materialize
from scrm_lib.warehouse.log import BUILD_INPUTS, BUILD_REFUSED, BUILDS, status
from scrm_lib.warehouse.steps import StepContext, chosen_steps, placement, run_steps

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
        The published DuckDB file, or the warehouse folder of a Spark build.
    engine
        ``duckdb`` or ``pyspark`` (where the transformations ran).
    files, rows_in, accepted, rejected, duplicates
        Totals over the input files that were read.
    refused
        Files that could not be read: ``file``, ``sha256``, ``reason``,
        ``refused_at`` (ISO text) each.
    master, version
        A Spark build's master and the version it published (None on DuckDB).
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
    master: str | None = None
    version: str | None = None

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
            "master": self.master,
            "version": self.version,
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


def _older_objects_frozen(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` with the objects that exist before it left out of garbage collection.

    A full collection walks every object of the process: with ibis, pandas and the
    capabilities loaded, some 380,000 of them, 0.15-0.3 s a walk, once or twice a
    build, whose own garbage is young and found by the cheap collections anyway.
    Frozen, the walks skip what was there before; unfrozen after, those objects are
    collected as before (a cycle that became garbage meanwhile only waits until then).
    """

    @functools.wraps(fn)
    def frozen(*args: Any, **kwargs: Any) -> Any:
        gc.freeze()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.unfreeze()

    return frozen


@_older_objects_frozen
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
        The DuckDB file to publish, or with the Spark engine the warehouse folder.
        Default: ``settings.warehouse`` (what readers open) when ``engine`` is the
        configured one; a Spark build asked for on a DuckDB configuration
        publishes to ``settings.spark_warehouse_path``.
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
        ``settings.spark_master`` (``local[2]``, or a cluster's URL), whose
        executors write the canonical tables as Parquet into a new version of
        the warehouse folder; the steps after them run on DuckDB and write
        their marts there too; the folder's ``CURRENT`` then names the version.
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
        No input files; another build holds the lock; every file was refused;
        a Spark build to a DuckDB file or a URL it cannot publish to (ConfigError).
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
    engine = normalize_engine(engine or settings.engine)  # type: ignore[assignment]
    target = _target(warehouse, settings, engine)
    master = check_master(settings.spark_master)
    on_spark = engine == "pyspark"

    files = list_raw_files(raw)
    if not files:
        raise ScrmError(f"no input files in {raw}")
    check_cache_dir(settings.cache_dir, raw)
    parse_fn, presets = _ingest(parse)

    target.parent.mkdir(parents=True, exist_ok=True)
    started_at = dt.datetime.now(dt.UTC)
    build_id = started_at.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    # A Spark build keeps everything it writes in its version folder, inside the
    # warehouse folder, which every executor can read: the staged rows on their way
    # to Spark, its work files (a local DuckDB file, fine while the folder is local),
    # the tables. A build that dies leaves one folder, which the next build removes.
    version = version_path(target, build_id) if on_spark else None
    if version is not None:
        building = version / "_build" / "scrm.duckdb"
    else:
        building = target.with_name(f"{target.name}.building-{build_id}")
    stage_path = building.with_name(building.name + ".stage")
    exchange = building.with_name(building.name + ".spark")
    report = progress or (lambda message: None)
    placed = placement(chosen_steps(steps), spark=on_spark)
    runs = _runs(engine, master, target, version, placed)
    previous = None

    with publish.build_lock(target, build_id):
        if version is not None:
            previous = publish.prepare_folder(target)
            building.parent.mkdir(parents=True)
        else:
            publish.remove_leftovers(target)
        logger.info("build %s: %d file(s) from %s -> %s", build_id, len(files), raw, target)
        for part, where in runs.items():
            logger.info("build %s: %s runs on %s", build_id, part, where)
        con = None
        bridge = None
        published = False
        try:
            con = duckdb_connect(building)
            runner = Runner(con, label=f"build {build_id}")
            stage.prepare(
                runner,
                stage_path=stage_path,
                spill=building.with_name(building.name + ".spill"),
                memory_limit=settings.duckdb_memory_limit,
            )
            if on_spark and parse is None:
                _parse_on_spark(runner, files, presets, settings=settings, master=master)
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
            tables, superseded, written = materialize(
                runner,
                stage.staged_tables(runner),
                engine=engine,
                exchange=exchange,
                master=master,
                executor_memory=settings.spark_executor_memory,
                version=version,
                fed=_fed(inputs),
            )
            # identity and the person marts, on the file being built (a Spark build's steps
            # that can run on Spark run there): published together
            if version is not None:
                bridge = SparkBridge(
                    con,
                    version,
                    written=written,
                    exchange=exchange / "steps",
                    master=master,
                    executor_memory=settings.spark_executor_memory,
                    label=runner.label,
                )
            try:
                run_steps(
                    StepContext(
                        con=con,
                        settings=settings,
                        build_id=build_id,
                        previous_warehouse=target if is_published(target) else None,
                        timings=runner.timings,
                        spark=bridge,
                    ),
                    progress=report,
                    only=steps,
                )
            finally:
                if bridge is not None:
                    bridge.close()
                    for step, seconds in bridge.timings.items():
                        key = f"spark {step}"
                        runner.timings[key] = round(runner.timings.get(key, 0.0) + seconds, 4)
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
                master=master if on_spark else None,
                runs=runs,
            )
            stage.detach(runner)
            if version is not None:
                manifest = publish.write_version(
                    runner,
                    version,
                    written=written,
                    info={
                        "version": build_id,
                        "previous": previous,
                        "engine": engine,
                        "master": master,
                        "runs": runs,
                        "created_at": finished_at.isoformat(timespec="seconds"),
                    },
                )
                con.disconnect()
                con = None
                publish.remove_build_files(building.parent)
                publish.publish_version(target, manifest)
                published = True
            else:
                publish.checkpoint(runner)
                con.disconnect()
                con = None
                publish.publish(building, target)
        except BaseException:
            if con is not None:
                with contextlib.suppress(Exception):
                    con.disconnect()
            if not published:
                publish.remove_build_files(version if version is not None else building)
            raise
        finally:
            publish.remove_build_files(stage_path)
            publish.remove_build_files(exchange)
            publish.remove_build_files(building.with_name(building.name + ".spill"))
        if version is not None:
            # the version this one replaced stays: readers may still hold it
            publish.remove_old_versions(target, build_id)

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
        master=master if on_spark else None,
        version=build_id if on_spark else None,
    )
    logger.info("build %s published in %.1f s", build_id, result.seconds)
    return result


def _target(warehouse: str | Path | None, settings: Settings, engine: str) -> Path:
    """Where the build publishes: ``warehouse`` if given; else the configured warehouse
    (what readers open) when the build runs on the configured engine; else that
    engine's own: the Spark warehouse folder (``[engine] warehouse_path``)."""
    if engine == "pyspark":
        if warehouse is not None:
            target = warehouse_folder(str(warehouse))
        else:
            folder = warehouse_folder(settings.spark_warehouse_path)
            target = settings.warehouse if settings.engine == "pyspark" else folder
        target = target.expanduser().resolve()
        if target.is_file() or target.suffix == ".duckdb":
            raise ConfigError(
                f"{target}: a Spark build publishes a warehouse folder, not a DuckDB file; "
                "pass a folder (or set [engine] warehouse_path)"
            )
        return target
    target = Path(warehouse if warehouse is not None else settings.warehouse)
    target = target.expanduser().resolve()
    if target.is_dir():
        raise ConfigError(
            f"{target} is a warehouse folder (the Spark engine's); a DuckDB build publishes "
            "a file: pass --warehouse FILE, or build with --engine spark"
        )
    return target


def _runs(
    engine: str, master: str, target: Path, version: Path | None, where: dict[str, str]
) -> dict[str, str]:
    """Where each part of the build runs and is written, for the build log and the manifest
    (``where``: step -> engine, :func:`scrm_lib.warehouse.steps.placement`)."""
    if version is None:
        return {
            "stage": "duckdb",
            "canonical": "duckdb",
            "steps": "duckdb",
            "storage": f"duckdb file {target}",
        }
    on_duck = [name for name, e in where.items() if e == "duckdb"]
    on_spark = [name for name, e in where.items() if e == "pyspark"]
    parts = []
    if on_duck or not on_spark:
        names = f": {', '.join(on_duck)}" if on_spark else ""
        parts.append(
            f"duckdb on the driver, over the version's Parquet (marts written as Parquet){names}"
        )
    if on_spark:
        spark_names = ", ".join(on_spark)
        parts.append(f"spark {master} (executors write the marts as Parquet): {spark_names}")
    return {
        "stage": "duckdb on the driver (parsed files to Parquet for Spark)",
        "canonical": f"spark {master} (executors write Parquet)",
        "steps": "; ".join(parts),
        "storage": f"parquet folder {version}",
    }


def _fed(inputs: list[dict[str, Any]]) -> set[str] | None:
    """The tables the staged files have rows for (each input lists its non-empty
    tables); None when an input does not say, so that none is taken for empty."""
    if any("tables" not in i for i in inputs):
        return None
    return {name for i in inputs for name in i["tables"]}


def _parse_on_spark(
    runner: Runner, files: list[Path], presets: set[str], *, settings: Settings, master: str
) -> None:
    """A Spark build's files parsed on its executors into the parse cache (the build
    then stages them from there); a build given its own parse function parses here."""
    from scrm_lib.engine import spark_session
    from scrm_lib.ingest.executors import parse_on_executors

    with runner.step("spark start"):
        session = spark_session(master=master, executor_memory=settings.spark_executor_memory)
    with runner.step("parse on spark"):
        n = parse_on_executors(stage.parse_jobs(files, presets), settings=settings, session=session)
    logger.info("%s: %d file(s) parsed on Spark's executors", runner.label, n)


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
