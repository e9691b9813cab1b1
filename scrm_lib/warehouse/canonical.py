"""The build's transformations: staged rows in, canonical tables out.

The transform functions take and return ibis expressions and nothing else,
so the same code compiles to DuckDB (the embedded default) and to Spark (when
the data outgrows one machine). There is no engine-specific SQL and no
Python loop over rows. :func:`materialize` then runs them where the build
says: on the build's DuckDB file, or on Spark, whose executors write the
canonical tables as Parquet into the version folder the build publishes.

A *stage table* holds the canonical columns of one table (``scrm_lib.schema
.TABLES``) for all input files, plus two bookkeeping columns:

``_file_seq``
    the order of the source file (higher = newer export);
``_row``
    the order of the row within that file.

Rows that share a key (``scrm_lib.schema.KEYS``) are one row in the
warehouse: the row from the newest file wins, and within a file the later
row. An overlapping re-export therefore updates an order's status instead of
adding it twice, and loading the same file twice adds nothing.

Example
-------
>>> import ibis
>>> from scrm_lib.warehouse.canonical import canonical_tables
>>> con = ibis.duckdb.connect()
>>> staged = {"orders": con.create_table("stage_orders", orders_frame)}  # doctest: +SKIP
>>> out = canonical_tables(staged)  # doctest: +SKIP
>>> out.tables["orders"].execute()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from scrm_lib.schema import KEYS, TABLES

if TYPE_CHECKING:
    import pandas as pd

    from scrm_lib.engine import Runner

FILE_SEQ = "_file_seq"
ROW = "_row"
_RANK = "_rank"

# Where an account id shows up outside the accounts table, and the timestamp
# that counts as a sighting of it. Orders may carry only one of their times.
_ACCOUNT_REFERENCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("orders", "account_id", ("created_at", "paid_at")),
    ("events", "account_id", ("ts",)),
    ("messages", "account_id", ("ts",)),
    ("touches", "account_id", ("ts",)),
    ("consent", "account_id", ("ts",)),
    ("referrals", "inviter_account_id", ("ts",)),
    ("referrals", "invitee_account_id", ("ts",)),
    ("surveys", "account_id", ("ts",)),
    ("identifiers", "account_id", ()),
)


@dataclass(frozen=True)
class Transformed:
    """The output of :func:`canonical_tables`.

    Attributes
    ----------
    tables
        Canonical table name -> ibis expression with exactly the canonical
        schema of that table.
    superseded
        One row per (``_file_seq``, ``table``) with the number of that
        file's staged rows that lost to another row with the same key
        (column ``duplicates``).
    """

    tables: dict[str, ir.Table]
    superseded: ir.Table


def dedupe(stage: ir.Table, table: str) -> ir.Table:
    """Keep one row per key of ``table``: the one from the newest file, then the latest row.

    Parameters
    ----------
    stage
        A stage table: the canonical columns of ``table`` plus ``_file_seq`` and ``_row``.
    table
        Canonical table name; its key is ``scrm_lib.schema.KEYS[table]``.

    Returns
    -------
    ir.Table
        The surviving rows with exactly the canonical schema of ``table``.

    Examples
    --------
    >>> orders = dedupe(stage_orders, "orders")  # doctest: +SKIP
    """
    return _canonical(_winners(stage, table), table)


def superseded_counts(
    staged: Mapping[str, ir.Table], won: Mapping[str, ir.Table] | None = None
) -> ir.Table:
    """Count, per source file and table, the staged rows that lost to a row with the same key.

    Parameters
    ----------
    staged
        Canonical table name -> stage table.
    won
        Winners already found (:func:`winners`, or tables made from them), with
        ``_file_seq``; those of the other stage tables are found here.

    Returns
    -------
    ir.Table
        Columns ``_file_seq`` (int64), ``table`` (string), ``duplicates`` (int64).

    Examples
    --------
    >>> superseded_counts({"orders": stage_orders}).execute()  # doctest: +SKIP
       _file_seq   table  duplicates
    0          0  orders           3
    """
    found = dict(won or {})
    parts = []
    for name, stage in staged.items():
        # a file's staged rows minus those that won: no second ranking of every row
        n_in = stage.group_by(FILE_SEQ).aggregate(_in=ibis._.count())
        kept = found[name] if name in found else _winners(stage, name)
        n_won = kept.group_by(FILE_SEQ).aggregate(_won=ibis._.count())
        joined = n_in.left_join(n_won, FILE_SEQ).select(
            n_in[FILE_SEQ], duplicates=n_in._in - n_won._won.fill_null(0)
        )
        parts.append(
            joined.filter(joined.duplicates > 0)
            .mutate(table=ibis.literal(name, "string"))
            .select(FILE_SEQ, "table", "duplicates")
        )
    if not parts:
        raise ValueError("superseded_counts needs at least one stage table")
    out = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    return out.cast({FILE_SEQ: "int64", "table": "string", "duplicates": "int64"})


def accounts(staged: Mapping[str, ir.Table], deduped: Mapping[str, ir.Table]) -> ir.Table:
    """One row per account id referenced anywhere.

    - ``platform`` / ``native_id``: the parts of ``account_id`` before / after the first ``:``;
    - ``first_seen``: the earliest of the staged ``first_seen`` hints and of the
      account's activity timestamps (orders, events, messages, touches, consent,
      referrals on either side, survey answers); ``source_file`` is the file of that sighting;
    - ``display_name``: from the newest staged account row that has one;
    - ``channel_code``: the earliest non-null one, by the staged row's
      ``first_seen`` (then file order).

    Parameters
    ----------
    staged
        Stage tables; only ``staged["accounts"]`` is read here (all its rows, so
        that a superseded row's earlier ``first_seen`` still counts).
    deduped
        Deduplicated canonical tables holding account references.

    Returns
    -------
    ir.Table
        The canonical ``accounts`` table.

    Examples
    --------
    >>> out = accounts({"accounts": stage_accounts}, {"orders": orders})  # doctest: +SKIP
    """
    ts = TABLES["accounts"]["first_seen"]
    # _prio orders sightings at the same instant: an account row explains an
    # account better than an activity row does.
    sightings = []
    stage_accounts = staged.get("accounts")
    if stage_accounts is not None:
        sightings.append(
            stage_accounts.select(
                account_id=stage_accounts.account_id,
                ts=stage_accounts.first_seen.cast(ts),
                source_file=stage_accounts.source_file,
                _prio=ibis.literal(0, "int64"),
                _seq=stage_accounts[FILE_SEQ].cast("int64"),
                _pos=stage_accounts[ROW].cast("int64"),
            )
        )
    for prio, (name, column, ts_columns) in enumerate(_ACCOUNT_REFERENCES, start=1):
        t = deduped.get(name)
        if t is None:
            continue
        if not ts_columns:
            when = ibis.null(ts)
        elif len(ts_columns) == 1:
            when = t[ts_columns[0]].cast(ts)
        else:
            when = ibis.least(*(t[c].cast(ts) for c in ts_columns))
        sightings.append(
            t.select(
                account_id=t[column],
                ts=when,
                source_file=t.source_file,
                _prio=ibis.literal(prio, "int64"),
                _seq=_bookkeeping(t, FILE_SEQ),
                _pos=_bookkeeping(t, ROW),
            )
        )
    if not sightings:
        raise ValueError("accounts needs a staged accounts table or a table that references one")
    seen = sightings[0] if len(sightings) == 1 else ibis.union(*sightings, distinct=False)
    seen = seen.filter(seen.account_id.notnull() & (seen.account_id != ""))

    first = _first_per_account(
        seen,
        order_by=[
            seen.ts.asc(nulls_first=False),
            seen._prio,
            seen._seq,
            seen._pos,
            seen.source_file.asc(nulls_first=False),
        ],
    ).select("account_id", first_seen="ts", source_file="source_file")

    result = first
    if stage_accounts is not None:
        sa = stage_accounts
        named = sa.filter(sa.display_name.notnull() & (sa.display_name.strip() != ""))
        names = _first_per_account(named, order_by=[ibis.desc(FILE_SEQ), ibis.desc(ROW)]).select(
            "account_id", "display_name"
        )
        coded = sa.filter(sa.channel_code.notnull() & (sa.channel_code.strip() != ""))
        codes = _first_per_account(
            coded,
            order_by=[coded.first_seen.asc(nulls_first=False), coded[FILE_SEQ], coded[ROW]],
        ).select("account_id", "channel_code")
        # unmapped columns of user lists (ingest's extras): the latest sighting's
        extra = sa.filter(sa.extras.notnull())
        extras = _first_per_account(extra, order_by=[ibis.desc(FILE_SEQ), ibis.desc(ROW)]).select(
            "account_id", "extras"
        )
        result = result.left_join(names, "account_id").select(*first.columns, "display_name")
        result = result.left_join(codes, "account_id").select(
            *first.columns, "display_name", "channel_code"
        )
        result = result.left_join(extras, "account_id").select(
            *first.columns, "display_name", "channel_code", "extras"
        )
    else:
        result = result.mutate(
            display_name=ibis.null("string"),
            channel_code=ibis.null("string"),
            extras=ibis.null("string"),
        )

    # find() is 0-based and -1 when absent: an id without ':' keeps its whole
    # text as native_id and gets no platform.
    colon = result.account_id.find(":")
    result = result.mutate(
        platform=ibis.ifelse(colon >= 0, result.account_id.left(colon), ibis.null("string")),
        native_id=ibis.ifelse(colon >= 0, result.account_id.substr(colon + 1), result.account_id),
    )
    return _canonical(result, "accounts")


def canonical_tables(staged: Mapping[str, ir.Table]) -> Transformed:
    """Turn stage tables into the canonical tables and the per-file superseded counts.

    Parameters
    ----------
    staged
        Canonical table name -> stage table (canonical columns plus ``_file_seq``
        and ``_row``). Tables not given are left out of the result, except
        ``accounts``, which is always derived from whatever references accounts.

    Returns
    -------
    Transformed
        ``tables`` (deduplicated canonical tables, ``accounts`` rebuilt from
        every reference) and ``superseded`` (per-file duplicate counts).

    Examples
    --------
    >>> out = canonical_tables({"orders": stage_orders})  # doctest: +SKIP
    >>> sorted(out.tables)  # doctest: +SKIP
    ['accounts', 'orders']
    """
    _check_stage(staged)
    return from_winners(staged, winners(staged))


def _check_stage(staged: Mapping[str, ir.Table]) -> None:
    unknown = sorted(set(staged) - set(TABLES))
    if unknown:
        raise ValueError(f"not a canonical table: {', '.join(unknown)}")
    for name, stage in staged.items():
        missing = [c for c in (*TABLES[name].names, FILE_SEQ, ROW) if c not in stage.columns]
        if missing:
            raise ValueError(f"stage table {name!r} lacks column(s): {', '.join(missing)}")


def winners(staged: Mapping[str, ir.Table]) -> dict[str, ir.Table]:
    """The rows that win their key in each stage table but ``accounts`` (whose rows all
    count, see :func:`accounts`): the canonical columns plus ``_file_seq`` and ``_row``,
    which :func:`accounts` reads to break ties by file order.

    Examples
    --------
    >>> won = winners({"orders": stage_orders})  # doctest: +SKIP
    """
    return {name: _winners(stage, name) for name, stage in staged.items() if name != "accounts"}


def from_winners(staged: Mapping[str, ir.Table], won: Mapping[str, ir.Table]) -> Transformed:
    """:func:`canonical_tables` from the winners already found (:func:`winners`, or tables
    made from them, so that the canonical tables, ``accounts`` and the superseded counts
    read them instead of finding them again)."""
    tables = {name: _canonical(t, name) for name, t in won.items()}
    tables["accounts"] = accounts(staged, won)
    return Transformed(
        tables={name: tables[name] for name in TABLES if name in tables},
        superseded=superseded_counts(staged, won),
    )


# --- where the transform runs ---------------------------------------------------------

#: How a Spark build partitions the canonical tables it writes: the event-like tables,
#: by the month of their time (hidden column ``ts_month``, ``YYYY-MM`` in UTC; no time:
#: ``__HIVE_DEFAULT_PARTITION__``). They are the large ones, grow by time, and are read
#: by time windows (churn's lookbacks, KPI series, "the last 90 days"): a month's files
#: then hold a narrow time range, so Spark and DuckDB skip the others from the Parquet
#: statistics, and a month's data can later be rewritten alone. A month, not a day: a
#: day would make thousands of small files a year. The other tables are small
#: (channels, staff) or are read whole by key (accounts, identifiers): no partitions.
PARTITION_TIME: dict[str, tuple[str, ...]] = {
    "orders": ("paid_at", "created_at"),  # a pending order has no paid_at yet
    "events": ("ts",),
    "messages": ("ts",),
    "touches": ("ts",),
}
PARTITION_COLUMN = "ts_month"


def materialize(
    runner: Runner,
    staged: Mapping[str, ir.Table],
    *,
    engine: str,
    exchange: Path,
    master: str = "local[2]",
    executor_memory: str | None = None,
    version: Path | None = None,
    fed: Collection[str] | None = None,
) -> tuple[dict[str, int], pd.DataFrame, dict[str, tuple[str, ...]]]:
    """Make the canonical tables of ``staged``; return their row counts, the per-file
    superseded counts (:attr:`Transformed.superseded`) and the partition columns of the
    tables written as Parquet (empty on DuckDB).

    Parameters
    ----------
    runner
        The runner on the build's DuckDB file, which holds the stage tables
        and, after this, the canonical ones (tables, or views over Spark's files).
    staged
        Canonical table name -> stage table on that connection.
    engine
        ``duckdb``: the transform runs there and writes tables into the file;
        ``pyspark``: on a Spark session, whose executors write the tables as
        Parquet into ``version``; the file gets views over them.
    exchange
        A folder for the staged rows on their way to Spark (the caller removes
        it); on a cluster every executor must see it, so it lies in the
        warehouse folder.
    master, executor_memory
        Where the Spark session runs (:func:`scrm_lib.engine.spark_session`).
    version
        The version folder a Spark build publishes (:mod:`scrm_lib.engine.folder`).
    fed
        The tables some staged file has rows for (None: any may have); on DuckDB the
        others are made empty from their schema (:func:`_unfed`).

    Examples
    --------
    >>> counts, _, _ = materialize(runner, staged, engine="duckdb", exchange=tmp)  # doctest: +SKIP
    >>> counts["orders"]  # doctest: +SKIP
    48213
    """
    if engine == "pyspark":
        if version is None:
            raise ValueError("a Spark build writes into a version folder: pass version")
        return _materialize_on_spark(
            runner,
            staged,
            exchange=exchange,
            version=version,
            master=master,
            executor_memory=executor_memory,
        )
    # Each table's winners are found once and kept with their file positions: accounts
    # and the superseded counts read them there, then the positions are dropped (a
    # dropped column costs nothing in DuckDB; a copy without it would cost the table).
    _check_stage(staged)
    unfed = _unfed(staged, fed)
    kept = {}
    for name, expr in winners(staged).items():
        expr = expr.select(*TABLES[name].names, FILE_SEQ, ROW)
        if name in unfed:
            # the same empty table (create_table takes an expression's columns from its
            # schema), without planning and running the ranking of no rows
            kept[name] = runner.create_table(name, None, schema=expr.schema(), step="transform")
        else:
            kept[name] = runner.create_table(name, expr, step="transform")
    runner.create_table("accounts", accounts(staged, kept), step="transform")
    # a table without rows supersedes none: its part of the union would only add planning
    fed_rows = {name: t for name, t in staged.items() if name not in unfed}
    duplicates = superseded_counts(fed_rows or staged, kept)
    superseded = runner.execute(duplicates, step="transform", table="duplicates")
    counts = {}
    for name in (n for n in TABLES if n in kept or n == "accounts"):
        if name in kept:
            for column in (FILE_SEQ, ROW):
                runner.query(
                    "build.drop_column", step="transform", table=name, target=name, column=column
                )
        if name in unfed and name != "accounts":
            counts[name] = 0
            continue
        counts[name] = int(runner.execute(runner.con.table(name).count(), step="count", table=name))
    return counts, superseded, {}


def _unfed(staged: Mapping[str, ir.Table], fed: Collection[str] | None) -> set[str]:
    """The stage tables no file has rows for (``fed``: those some file has; None: unknown).

    A small brand's first build feeds one or two of the fifteen tables; ranking and
    counting the rows of each of the others planned and ran queries for nothing.
    (``accounts`` is derived from every table, fed or not.)
    """
    if fed is None:
        return set()
    return {name for name in staged if name not in fed}


def partitioned(expr: ir.Table, table: str) -> tuple[ir.Table, tuple[str, ...]]:
    """``expr`` with its partition column (:data:`PARTITION_TIME`) added, and that column's name.

    Examples
    --------
    >>> t, by = partitioned(orders, "orders")  # doctest: +SKIP
    >>> by  # doctest: +SKIP
    ('ts_month',)
    """
    columns = PARTITION_TIME.get(table)
    if not columns:
        return expr, ()
    when = expr[columns[0]] if len(columns) == 1 else ibis.coalesce(*(expr[c] for c in columns))
    return expr.mutate(**{PARTITION_COLUMN: when.strftime("%Y-%m")}), (PARTITION_COLUMN,)


def _materialize_on_spark(
    runner: Runner,
    staged: Mapping[str, ir.Table],
    *,
    exchange: Path,
    version: Path,
    master: str,
    executor_memory: str | None,
) -> tuple[dict[str, int], pd.DataFrame, dict[str, tuple[str, ...]]]:
    """Run the same transform on Spark; its executors write the canonical tables into
    ``version``, and the build's DuckDB file reads them there through views.

    The staged rows reach Spark as Parquet files rather than through the driver,
    so memory stays flat; nothing comes back but counts.
    """
    from scrm_lib.engine import Runner, spark_backend, spark_session
    from scrm_lib.engine.folder import attach_parquet, data_files, duckdb_columns

    con = runner.con
    with runner.step("spark start"):
        spark_con = spark_backend(spark_session(master=master, executor_memory=executor_memory))
    spark = Runner(spark_con, label=runner.label)
    on_spark = {}
    (exchange / "in").mkdir(parents=True, exist_ok=True)
    for name, t in staged.items():
        # A table no file fed stays empty: no Spark job for it (most builds feed a few
        # of the twelve). accounts always goes: it is derived from every other table.
        if name != "accounts" and not runner.execute(t.count(), step="count", table=name):
            continue
        path = exchange / "in" / f"{name}.parquet"
        with runner.step("to spark", table=name):
            con.to_parquet(t, path)
        with spark.step("to spark", table=name):
            on_spark[name] = spark_con.read_parquet(str(path), table_name=f"scrm_stage_{name}")
    _check_stage(on_spark)
    # Each table's winners are found once, as on DuckDB: kept on the executors (memory,
    # spilling to disk) when the table is written, then read there by accounts and the
    # superseded counts, which would otherwise each find them again (shuffles included)
    kept = {name: expr.cache() for name, expr in winners(on_spark).items()}
    out = from_winners(on_spark, kept)
    partitions: dict[str, tuple[str, ...]] = {}
    files: dict[str, list[str]] = {}
    try:
        for name, expr in out.tables.items():
            data, by = partitioned(expr, name)
            partitions[name] = by
            with spark.step("transform", table=name):
                spark_con.to_parquet(data, str(version / name), partitionBy=list(by) or None)
            files[name] = [p.relative_to(version).as_posix() for p in data_files(version / name)]
        superseded = spark.execute(out.superseded, step="transform", table="duplicates")
    finally:
        for table in kept.values():
            table.release()
    names = [n for n in TABLES if n in staged]
    with runner.step("read spark's files"):
        attach_parquet(
            con.con,
            version,
            {n: (duckdb_columns(TABLES[n]), files.get(n, [])) for n in names},
            label=runner.label,
        )
    counts = {
        name: int(runner.execute(con.table(name).count(), step="count", table=name))
        for name in names
    }
    for step, seconds in spark.timings.items():
        runner.timings[step] = round(runner.timings.get(step, 0.0) + seconds, 4)
    return counts, superseded, {n: partitions.get(n, ()) for n in names}


def _winners(stage: ir.Table, table: str) -> ir.Table:
    # The winner is the row with the highest (file, row) position of its key: a grouped
    # max and a semi-join on the position, not a window over whole rows (which sorts
    # every column of every row; twice as slow on DuckDB, more on wide tables). The
    # same rows as a row_number() window newest first: positions are unique in a stage table.
    position = _position(stage)
    best = stage.group_by(list(KEYS[table])).aggregate(_best=position.max())._best
    return stage.filter(position.isin(best))


def _position(stage: ir.Table) -> ir.Value:
    # _row counts rows within one file (< 2**32): file then row in one int64
    return stage[FILE_SEQ].cast("int64") * (1 << 32) + stage[ROW].cast("int64")


def _bookkeeping(t: ir.Table, column: str) -> ir.Value:
    # Tables that were deduplicated elsewhere may come without file order.
    return t[column].cast("int64") if column in t.columns else ibis.literal(0, "int64")


def _first_per_account(t: ir.Table, *, order_by: list) -> ir.Table:
    window = ibis.window(group_by="account_id", order_by=order_by)
    r = t.mutate(**{_RANK: ibis.row_number().over(window)})
    return r.filter(r[_RANK] == 0)


def _canonical(t: ir.Table, table: str) -> ir.Table:
    schema = TABLES[table]
    return t.select(*schema.names).cast(schema)


__all__ = [
    "FILE_SEQ",
    "PARTITION_COLUMN",
    "PARTITION_TIME",
    "ROW",
    "Transformed",
    "accounts",
    "canonical_tables",
    "dedupe",
    "from_winners",
    "materialize",
    "partitioned",
    "superseded_counts",
    "winners",
]
