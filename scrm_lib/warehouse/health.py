"""Data health of a published warehouse: what went in, what was refused, what is covered.

Every function reads the warehouse read-only and returns a small pandas
frame (the group-bys run inside DuckDB), so the same numbers feed the
``data_health`` report notebook, the dashboard and an analyst's session.
The ``plot_*`` functions turn those frames into plotly figures with
bilingual titles; they compute nothing.

Example
-------
>>> from scrm_lib.warehouse import health
>>> health.build_read("data/warehouse/scrm.duckdb")  # doctest: +SKIP
     build_id                      finished_at library_version status
0  b-20261125  2026-11-25 12:00:00+00:00           0.1.0     ok
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import pandas as pd

from scrm_lib.engine import read_only_duckdb
from scrm_lib.errors import ConfigError, WarehouseError

if TYPE_CHECKING:
    import plotly.graph_objects as go

logger = logging.getLogger(__name__)

# Table → (time column, where the platform comes from). A platform column on
# the table itself is used as is; an account column is looked up in
# ``accounts``; None means the table has no platform (reported as "all").
TIME_COLUMNS: dict[str, tuple[str, str | None, str | None]] = {
    "accounts": ("first_seen", "platform", None),
    "orders": ("created_at", "platform", None),
    "events": ("ts", None, "account_id"),
    "messages": ("ts", None, "account_id"),
    "touches": ("ts", None, "account_id"),
    "consent": ("ts", None, "account_id"),
    "referrals": ("ts", None, "invitee_account_id"),
    "assignments": ("ts", None, None),
}

BUILD_COLUMNS = ["build_id", "started_at", "finished_at", "library_version", "status", "engine"]
COUNT_COLUMNS = ["rows_in", "accepted", "rejected", "duplicates"]
NO_PLATFORM = "(none)"


def _connect(warehouse: str | Path | None):
    # empty string = the configured warehouse (the notebook's parameter default)
    return read_only_duckdb(warehouse if warehouse not in (None, "") else None)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return {r[0] for r in rows}


def _query(
    con: duckdb.DuckDBPyConnection, sql: str, table: str, params: Any = None
) -> pd.DataFrame:
    # One place for error wrapping, so a broken warehouse names the table it broke on.
    logger.debug("health query on %s: %s", table, sql)
    try:
        return con.execute(sql, params or []).df()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WarehouseError(f"data health: query on table {table!r} failed: {first}") from None


def _require(con: duckdb.DuckDBPyConnection, table: str) -> None:
    if table not in _tables(con):
        raise WarehouseError(f"warehouse has no table {table!r}; was it built by `scrm build`?")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()
    return {r[0] for r in rows}


# Build-log columns and the other names a build may have written them under.
_BUILD_ALIASES = {"library_version": ("library_version", "version")}


def _last_build(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    _require(con, "builds")
    have = _columns(con, "builds")
    select = []
    for col in BUILD_COLUMNS:
        found = next((c for c in _BUILD_ALIASES.get(col, (col,)) if c in have), None)
        select.append(f'"{found}" AS {col}' if found else f"NULL AS {col}")
    # "Last" = most recently finished; a build still running has no finished_at.
    sql = (
        f"SELECT {', '.join(select)} FROM builds "
        "ORDER BY coalesce(finished_at, started_at) DESC NULLS LAST, started_at DESC LIMIT 1"
    )
    return _query(con, sql, "builds")


def last_build(warehouse: str | Path | None = None) -> dict[str, Any] | None:
    """The last build recorded in the warehouse, as a plain dict (None when there is none).

    Parameters
    ----------
    warehouse
        The DuckDB file; default: ``warehouse`` from the settings.

    Returns
    -------
    dict or None
        ``build_id``, ``started_at``, ``finished_at`` (ISO strings),
        ``library_version``, ``status``, ``engine``.

    Examples
    --------
    >>> last_build("data/warehouse/scrm.duckdb")["build_id"]  # doctest: +SKIP
    'b-20261125T120000'
    """
    with _connect(warehouse) as con:
        if "builds" not in _tables(con):
            return None
        df = _last_build(con)
    if df.empty:
        return None
    return {k: _plain(v) for k, v in df.iloc[0].to_dict().items()}


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else value


def build_read(warehouse: str | Path | None = None) -> pd.DataFrame:
    """The build a report reads: one row with build id, times, library version, status.

    Parameters
    ----------
    warehouse
        The DuckDB file; default: ``warehouse`` from the settings.

    Returns
    -------
    pandas.DataFrame
        Columns ``build_id, started_at, finished_at, library_version, status,
        engine``; empty when the warehouse records no build.

    Raises
    ------
    WarehouseError
        No warehouse file, or it has no ``builds`` table.

    Examples
    --------
    >>> build_read("data/warehouse/scrm.duckdb").build_id.iloc[0]  # doctest: +SKIP
    'b-20261125T120000'
    """
    with _connect(warehouse) as con:
        return _last_build(con)


def inputs(
    warehouse: str | Path | None = None,
    *,
    by: Literal["file", "platform"] = "file",
    build_id: str | None = None,
) -> pd.DataFrame:
    """Rows in, accepted, rejected and duplicates per input file (or summed per platform).

    Parameters
    ----------
    warehouse
        The DuckDB file; default: ``warehouse`` from the settings.
    by
        ``"file"``: one row per input file; ``"platform"``: summed per platform.
    build_id
        Which build's inputs; default: the last build.

    Returns
    -------
    pandas.DataFrame
        ``file, format, platform`` (or ``platform, files``) then ``rows_in,
        accepted, rejected, duplicates, reject_rate`` (rejected / rows in).

    Examples
    --------
    >>> inputs("data/warehouse/scrm.duckdb", by="platform")  # doctest: +SKIP
      platform  files  rows_in  accepted  rejected  duplicates  reject_rate
    0    tmall      2    12000     11950        50         120     0.004167
    """
    if by not in ("file", "platform"):
        raise ConfigError(f"inputs: by={by!r} is not one of 'file', 'platform'")
    with _connect(warehouse) as con:
        _require(con, "build_inputs")
        if build_id is None:
            last = _last_build(con)
            build_id = None if last.empty else str(last.build_id.iloc[0])
        sums = ", ".join(f"sum({c})::BIGINT AS {c}" for c in COUNT_COLUMNS)
        # Files that belong to no platform (channels, consent lists) get a visible label.
        source = (
            f"(SELECT * REPLACE (coalesce(nullif(platform, ''), '{NO_PLATFORM}') AS platform) "
            "FROM build_inputs WHERE build_id IS NOT DISTINCT FROM ?)"
        )
        if by == "file":
            sql = (
                "SELECT file, any_value(format) AS format, any_value(platform) AS platform, "
                f"{sums} FROM {source} GROUP BY file ORDER BY platform, file"
            )
        else:
            sql = (
                f"SELECT platform, count(DISTINCT file)::BIGINT AS files, {sums} "
                f"FROM {source} GROUP BY platform ORDER BY platform"
            )
        df = _query(con, sql, "build_inputs", [build_id])
    rows_in = df["rows_in"].astype("float64")
    df["reject_rate"] = (df["rejected"].astype("float64") / rows_in.where(rows_in > 0)).fillna(0.0)
    return df


def rejects_by_reason(
    warehouse: str | Path | None = None, *, max_examples: int = 5
) -> pd.DataFrame:
    """Rejected rows counted by reason, with a few example raw values and their lines.

    Parameters
    ----------
    warehouse
        The DuckDB file; default: ``warehouse`` from the settings.
    max_examples
        How many examples to keep per reason (the first by file and line).

    Returns
    -------
    pandas.DataFrame
        ``reason, rows, files, columns, example_values, example_lines``;
        ``example_values`` and ``example_lines`` are lists (``file:line``),
        most frequent reason first.

    Examples
    --------
    >>> rejects_by_reason("data/warehouse/scrm.duckdb", max_examples=2)  # doctest: +SKIP
                reason  rows  files      columns         example_values  ...
    0  bad timestamp    31      2   [paid_at]  [2026-13-01, 昨天]  ...
    """
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
        raise ConfigError(
            f"rejects_by_reason: max_examples must be an int >= 0, not {max_examples!r}"
        )
    with _connect(warehouse) as con:
        _require(con, "rejects")
        sql = (
            "SELECT reason, count(*)::BIGINT AS rows, count(DISTINCT file)::BIGINT AS files, "
            'list(DISTINCT "column" ORDER BY "column") AS columns, '
            "list(raw_value ORDER BY file, line)[1:?] AS example_values, "
            "list(file || ':' || line ORDER BY file, line)[1:?] AS example_lines "
            "FROM rejects GROUP BY reason ORDER BY rows DESC, reason"
        )
        df = _query(con, sql, "rejects", [max_examples, max_examples])
    for col in ("columns", "example_values", "example_lines"):
        df[col] = df[col].map(lambda v: [] if v is None else list(v))
    return df


def rejects(
    warehouse: str | Path | None = None,
    *,
    reason: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The rejected rows themselves (for a download or a closer look), by file and line.

    Parameters
    ----------
    warehouse
        The DuckDB file; default: ``warehouse`` from the settings.
    reason
        Only rows refused for this reason.
    limit
        At most this many rows.

    Returns
    -------
    pandas.DataFrame
        ``file, line, column, reason, raw_value``.

    Examples
    --------
    >>> rejects("data/warehouse/scrm.duckdb", reason="bad timestamp", limit=2)  # doctest: +SKIP
              file  line   column         reason   raw_value
    0  tmall_1.csv     3  paid_at  bad timestamp  2026-13-01
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ConfigError(f"rejects: limit must be an int >= 0, not {limit!r}")
    with _connect(warehouse) as con:
        _require(con, "rejects")
        sql = (
            'SELECT file, line, "column", reason, raw_value FROM rejects '
            'WHERE ? IS NULL OR reason = ? ORDER BY file, line, "column"'
        )
        params: list[Any] = [reason, reason]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return _query(con, sql, "rejects", params)


REFUSED_COLUMNS = ["file", "by", "reason", "sha256", "refused_at"]


def refused_files(
    warehouse: str | Path | None = None, *, state_db: str | Path | None = None
) -> pd.DataFrame:
    """Files that could not be read at all, so none of their rows is in the warehouse.

    Two kinds: a file in the raw area that the last build refused (no preset
    matches it, a required column is missing, its bytes do not decode), and
    a file ``scrm ingest`` refused, which never reached the raw area and
    stays listed until a file of that name or content is accepted.

    Parameters
    ----------
    warehouse
        The DuckDB file; default: ``warehouse`` from the settings.
    state_db
        The state store holding ingest's refusals; default: ``state_db``
        from the settings when ``warehouse`` is the configured one too, else
        only the build's refusals are listed.

    Returns
    -------
    pandas.DataFrame
        ``file, by, reason, sha256, refused_at``; ``by`` is ``build`` or
        ``ingest``. Empty when nothing was refused.

    Examples
    --------
    >>> refused_files("data/warehouse/scrm.duckdb")  # doctest: +SKIP
               file     by                                   reason  sha256  refused_at
    0  shop/x.csv  build  matches no preset (header: 单号, 金额)  9f2c...  2026-11-25 ...
    """
    with _connect(warehouse) as con:
        tables = _tables(con)
        parts = []
        if "build_refused" in tables and "builds" in tables:
            last = _last_build(con)
            build_id = None if last.empty else str(last.build_id.iloc[0])
            parts.append(
                _query(
                    con,
                    "SELECT file, 'build' AS by, reason, sha256, refused_at FROM build_refused "
                    "WHERE build_id IS NOT DISTINCT FROM ? ORDER BY file",
                    "build_refused",
                    [build_id],
                )
            )
    if state_db is None and warehouse in (None, ""):
        from scrm_lib.config import load_settings

        state_db = load_settings().state_db
    if state_db not in (None, ""):
        from scrm_lib.access.state import read_refused

        ingest = read_refused(path=Path(state_db))
        parts.append(ingest.assign(by="ingest")[REFUSED_COLUMNS])
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=REFUSED_COLUMNS)
    df = pd.concat(parts, ignore_index=True)[REFUSED_COLUMNS]
    df["refused_at"] = pd.to_datetime(df["refused_at"], utc=True)
    return df


def coverage(
    warehouse: str | Path | None = None, *, timezone: str = "Asia/Shanghai"
) -> pd.DataFrame:
    """Orders and events per platform and calendar month (months in ``timezone``).

    An order counts in the month it was created; an event's platform is its
    account's platform (the account id's prefix when the account is missing).

    Parameters
    ----------
    warehouse
        The DuckDB file; default: ``warehouse`` from the settings.
    timezone
        The zone whose calendar months count; the shops' zone by default.

    Returns
    -------
    pandas.DataFrame
        ``platform, month`` (first day, a date), ``orders, events``; months
        where a platform has neither are absent.

    Examples
    --------
    >>> coverage("data/warehouse/scrm.duckdb").head(2)  # doctest: +SKIP
      platform       month  orders  events
    0   douyin  2024-11-01    1203       0
    1   douyin  2024-12-01    1388       0
    """
    with _connect(warehouse) as con:
        tables = _tables(con)
        parts = []
        if "orders" in tables:
            parts.append(
                "SELECT platform, date_trunc('month', timezone(?, created_at))::DATE AS month, "
                "count(*) AS orders, 0 AS events FROM orders "
                "WHERE created_at IS NOT NULL GROUP BY ALL"
            )
        if "events" in tables:
            join = "LEFT JOIN accounts a USING (account_id)" if "accounts" in tables else ""
            platform = (
                "coalesce(a.platform, split_part(e.account_id, ':', 1))"
                if join
                else "split_part(e.account_id, ':', 1)"
            )
            parts.append(
                f"SELECT {platform} AS platform, "
                "date_trunc('month', timezone(?, e.ts))::DATE AS month, "
                f"0 AS orders, count(*) AS events FROM events e {join} "
                "WHERE e.ts IS NOT NULL GROUP BY ALL"
            )
        if not parts:
            return pd.DataFrame(
                {
                    "platform": pd.Series(dtype="object"),
                    "month": pd.Series(dtype="object"),
                    "orders": pd.Series(dtype="int64"),
                    "events": pd.Series(dtype="int64"),
                }
            )
        sql = (
            f"SELECT coalesce(nullif(platform, ''), '{NO_PLATFORM}') AS platform, month, "
            "sum(orders)::BIGINT AS orders, sum(events)::BIGINT AS events "
            f"FROM ({' UNION ALL '.join(parts)}) GROUP BY ALL ORDER BY platform, month"
        )
        df = _query(con, sql, "orders/events", [timezone] * len(parts))
    # DuckDB hands DATE over as datetime64; a calendar month is a date.
    df["month"] = pd.to_datetime(df["month"]).dt.date
    return df


def freshness(warehouse: str | Path | None = None) -> pd.DataFrame:
    """Latest timestamp per table and platform, and its age in days at build time.

    A large age says a platform's exports stopped arriving; a negative age
    says timestamps from the future (a clock or time-zone problem).

    Parameters
    ----------
    warehouse
        The DuckDB file; default: ``warehouse`` from the settings.

    Returns
    -------
    pandas.DataFrame
        ``table, platform, rows, latest, build_finished_at, age_days``,
        oldest first.

    Examples
    --------
    >>> freshness("data/warehouse/scrm.duckdb").head(1)  # doctest: +SKIP
        table platform   rows                    latest  ...  age_days
    0  events   wechat  81234 2026-10-31 15:59:00+00:00  ...      25.0
    """
    with _connect(warehouse) as con:
        tables = _tables(con)
        built = None
        if "builds" in tables:
            last = _last_build(con)
            if not last.empty:
                built = last.finished_at.iloc[0]
                if pd.isna(built):
                    built = last.started_at.iloc[0]
        parts = []
        for table, (ts, platform_col, account_col) in TIME_COLUMNS.items():
            if table not in tables:
                continue
            if platform_col:
                platform, join = f"t.{platform_col}", ""
            elif account_col and "accounts" in tables:
                platform = f"coalesce(a.platform, split_part(t.{account_col}, ':', 1))"
                join = f"LEFT JOIN accounts a ON a.account_id = t.{account_col}"
            elif account_col:
                platform, join = f"split_part(t.{account_col}, ':', 1)", ""
            else:
                platform, join = "'all'", ""
            platform = f"coalesce(nullif({platform}, ''), '{NO_PLATFORM}')"
            parts.append(
                f"SELECT '{table}' AS \"table\", {platform} AS platform, count(*)::BIGINT AS rows, "
                f"max(t.{ts}) AS latest FROM {table} t {join} GROUP BY ALL"
            )
        if not parts:
            return pd.DataFrame(
                columns=["table", "platform", "rows", "latest", "build_finished_at", "age_days"]
            )
        df = _query(con, " UNION ALL ".join(parts), "freshness")
    df["latest"] = pd.to_datetime(df["latest"], utc=True)
    df["build_finished_at"] = pd.Timestamp(built).tz_convert("UTC") if built is not None else pd.NaT
    df["build_finished_at"] = pd.to_datetime(df["build_finished_at"], utc=True)
    df["age_days"] = ((df["build_finished_at"] - df["latest"]).dt.total_seconds() / 86400).round(2)
    return df.sort_values(
        ["age_days", "table", "platform"], ascending=[False, True, True], na_position="first"
    ).reset_index(drop=True)


# --- figures (presentation only; the numbers come from the functions above) ---


def plot_inputs(df: pd.DataFrame) -> go.Figure:
    """Stacked bars of accepted and rejected rows (= rows in) per platform or file.

    Duplicates show on hover: how they relate to accepted rows is the
    build's business, so they are not stacked on top.

    Examples
    --------
    >>> plot_inputs(inputs(by="platform")).show()  # doctest: +SKIP
    """
    import plotly.express as px

    key = "platform" if "files" in df.columns else "file"
    long = df.melt(
        id_vars=[key, "duplicates"],
        value_vars=["accepted", "rejected"],
        var_name="outcome",
        value_name="rows",
    )
    title = (
        "各平台输入行数 / Input rows per platform"
        if key == "platform"
        else "各文件输入行数 / Input rows per file"
    )
    return px.bar(
        long,
        x=key,
        y="rows",
        color="outcome",
        barmode="stack",
        hover_data=["duplicates"],
        title=title,
    )


def plot_rejects(df: pd.DataFrame) -> go.Figure:
    """Horizontal bars of rejected rows per reason.

    Examples
    --------
    >>> plot_rejects(rejects_by_reason()).show()  # doctest: +SKIP
    """
    import plotly.express as px

    fig = px.bar(
        df.sort_values("rows"),
        x="rows",
        y="reason",
        orientation="h",
        title="拒收原因 / Rejects by reason",
    )
    return fig.update_layout(yaxis_title=None)


def plot_coverage(df: pd.DataFrame) -> go.Figure:
    """Orders and events per month, one line per platform.

    Examples
    --------
    >>> plot_coverage(coverage()).show()  # doctest: +SKIP
    """
    import plotly.express as px

    long = df.melt(
        id_vars=["platform", "month"],
        value_vars=["orders", "events"],
        var_name="table",
        value_name="rows",
    )
    fig = px.line(
        long,
        x="month",
        y="rows",
        color="platform",
        facet_row="table",
        markers=True,
        title="各平台覆盖 / Coverage per platform",
    )
    return fig.update_yaxes(matches=None)


def plot_freshness(df: pd.DataFrame) -> go.Figure:
    """Age in days of the latest row per table and platform, at build time.

    Examples
    --------
    >>> plot_freshness(freshness()).show()  # doctest: +SKIP
    """
    import plotly.express as px

    fig = px.bar(
        df,
        x="age_days",
        y="table",
        color="platform",
        orientation="h",
        barmode="group",
        title="数据新鲜度（天）/ Freshness (days since latest row)",
    )
    return fig.update_layout(yaxis_title=None)
