"""Data health of a published warehouse: what went in, what was refused, what is covered.

Every function reads the warehouse read-only and returns a small pandas
frame (the group-bys run inside DuckDB), so the same numbers feed the
``data_health`` report notebook, the dashboard and an analyst's session.
The ``plot_*`` functions turn those frames into plotly figures with
bilingual titles; they compute nothing. The build log (last build, inputs,
refusals, rejects per reason) is read through
:class:`scrm_lib.warehouse.log.BuildLog`, the reader ``scrm status`` uses
too; the queries are named statements in ``engine/sql/build_log.sql`` and
``engine/sql/health.sql``.

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

import pandas as pd

from scrm_lib.engine import Warehouse, using
from scrm_lib.errors import ConfigError, WarehouseError
from scrm_lib.warehouse.log import BuildLog

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
    "surveys": ("ts", None, "account_id"),
    "assignments": ("ts", None, None),
}

BUILD_COLUMNS = ["build_id", "started_at", "finished_at", "library_version", "status", "engine"]
COUNT_COLUMNS = ["rows_in", "accepted", "rejected", "duplicates"]
NO_PLATFORM = "(none)"


def _log(con: Any) -> BuildLog:
    return BuildLog(con, label="data health")


def _require(log: BuildLog, table: str) -> None:
    if table not in log.tables:
        raise WarehouseError(f"warehouse has no table {table!r}; was it built by `scrm build`?")


def _last_build(log: BuildLog) -> pd.DataFrame:
    _require(log, "builds")
    last = log.last_build().rename(columns={"version": "library_version"})
    return last[BUILD_COLUMNS]


def last_build(warehouse: Warehouse = None) -> dict[str, Any] | None:
    """The last build recorded in the warehouse, as a plain dict (None when there is none).

    Parameters
    ----------
    warehouse
        The DuckDB file or an open connection; default: ``warehouse`` from the settings.

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
    with using(warehouse) as con:
        log = _log(con)
        if "builds" not in log.tables:
            return None
        df = _last_build(log)
    if df.empty:
        return None
    return {k: _plain(v) for k, v in df.iloc[0].to_dict().items()}


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else value


def build_read(warehouse: Warehouse = None) -> pd.DataFrame:
    """The build a report reads: one row with build id, times, library version, status.

    Parameters
    ----------
    warehouse
        The DuckDB file or an open connection; default: ``warehouse`` from the settings.

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
    with using(warehouse) as con:
        return _last_build(_log(con))


def inputs(
    warehouse: Warehouse = None,
    *,
    by: Literal["file", "platform"] = "file",
    build_id: str | None = None,
) -> pd.DataFrame:
    """Rows in, accepted, rejected and duplicates per input file (or summed per platform).

    Parameters
    ----------
    warehouse
        The DuckDB file or an open connection; default: ``warehouse`` from the settings.
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
    with using(warehouse) as con:
        log = _log(con)
        _require(log, "build_inputs")
        if build_id is None:
            _require(log, "builds")
            build_id = log.last_build_id()
        df = log.inputs_summed(build_id, by=by, no_platform=NO_PLATFORM)
    rows_in = df["rows_in"].astype("float64")
    df["reject_rate"] = (df["rejected"].astype("float64") / rows_in.where(rows_in > 0)).fillna(0.0)
    return df


def rejects_by_reason(warehouse: Warehouse = None, *, max_examples: int = 5) -> pd.DataFrame:
    """Rejected rows counted by reason, with a few example raw values and their lines.

    Parameters
    ----------
    warehouse
        The DuckDB file or an open connection; default: ``warehouse`` from the settings.
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
    with using(warehouse) as con:
        log = _log(con)
        _require(log, "rejects")
        df = log.rejects_by_reason(max_examples)
    for col in ("columns", "example_values", "example_lines"):
        df[col] = df[col].map(lambda v: [] if v is None else list(v))
    return df


def rejects(
    warehouse: Warehouse = None,
    *,
    reason: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The rejected rows themselves (for a download or a closer look), by file and line.

    Parameters
    ----------
    warehouse
        The DuckDB file or an open connection; default: ``warehouse`` from the settings.
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
    with using(warehouse) as con:
        log = _log(con)
        _require(log, "rejects")
        params: dict[str, Any] = {"reason": reason}
        if limit is not None:
            params["limit"] = limit
        return log.runner.df(
            "health.rejects", params, step="read", table="rejects", limited=limit is not None
        )


REFUSED_COLUMNS = ["file", "by", "reason", "sha256", "refused_at"]


def refused_files(
    warehouse: Warehouse = None, *, state_db: str | Path | None = None
) -> pd.DataFrame:
    """Files that could not be read at all, so none of their rows is in the warehouse.

    Two kinds: a file in the raw area that the last build refused (no preset
    matches it, a required column is missing, its bytes do not decode), and
    a file ``scrm ingest`` refused, which never reached the raw area and
    stays listed until a file of that name or content is accepted.

    Parameters
    ----------
    warehouse
        The DuckDB file or an open connection; default: ``warehouse`` from the settings.
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
    with using(warehouse) as con:
        log = _log(con)
        parts = []
        if "build_refused" in log.tables and "builds" in log.tables:
            refused = log.refused(log.last_build_id()).assign(by="build")
            parts.append(refused[REFUSED_COLUMNS])
    if state_db is None and (warehouse is None or str(warehouse) == ""):
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


def coverage(warehouse: Warehouse = None, *, timezone: str = "Asia/Shanghai") -> pd.DataFrame:
    """Orders and events per platform and calendar month (months in ``timezone``).

    An order counts in the month it was created; an event's platform is its
    account's platform (the account id's prefix when the account is missing).

    Parameters
    ----------
    warehouse
        The DuckDB file or an open connection; default: ``warehouse`` from the settings.
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
    with using(warehouse) as con:
        log = _log(con)
        tables = log.tables
        if "orders" not in tables and "events" not in tables:
            return pd.DataFrame(
                {
                    "platform": pd.Series(dtype="object"),
                    "month": pd.Series(dtype="object"),
                    "orders": pd.Series(dtype="int64"),
                    "events": pd.Series(dtype="int64"),
                }
            )
        df = log.runner.df(
            "health.coverage",
            {"zone": timezone, "no_platform": NO_PLATFORM},
            step="read",
            table="orders/events",
            orders="orders" in tables,
            events="events" in tables,
            accounts="accounts" in tables,
        )
    # DuckDB hands DATE over as datetime64; a calendar month is a date.
    df["month"] = pd.to_datetime(df["month"]).dt.date
    return df


def freshness(warehouse: Warehouse = None) -> pd.DataFrame:
    """Latest timestamp per table and platform, and its age in days at build time.

    A large age says a platform's exports stopped arriving; a negative age
    says timestamps from the future (a clock or time-zone problem).

    Parameters
    ----------
    warehouse
        The DuckDB file or an open connection; default: ``warehouse`` from the settings.

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
    with using(warehouse) as con:
        log = _log(con)
        tables = log.tables
        built = None
        if "builds" in tables:
            last = _last_build(log)
            if not last.empty:
                built = last.finished_at.iloc[0]
                if pd.isna(built):
                    built = last.started_at.iloc[0]
        parts = []
        for table, (ts, platform_col, account_col) in TIME_COLUMNS.items():
            if table not in tables:
                continue
            latest = log.runner.df(
                "health.latest",
                {"no_platform": NO_PLATFORM},
                step="read",
                table=table,
                source=table,
                ts=ts,
                platform=platform_col or "",
                account=account_col or "",
                accounts="accounts" in tables,
            )
            if len(latest):
                parts.append(latest.assign(table=table)[["table", "platform", "rows", "latest"]])
        if not parts:
            return pd.DataFrame(
                columns=["table", "platform", "rows", "latest", "build_finished_at", "age_days"]
            )
        df = pd.concat(parts, ignore_index=True)
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
    return _hbar(df.sort_values("rows"), "rows", "reason", "拒收原因 / Rejects by reason")


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
    title = "数据新鲜度（天）/ Freshness (days since latest row)"
    return _hbar(df, "age_days", "table", title, color="platform", barmode="group")


def _hbar(df: pd.DataFrame, x: str, y: str, title: str, **kw: Any) -> go.Figure:
    import plotly.express as px

    fig = px.bar(df, x=x, y=y, orientation="h", title=title, **kw)
    return fig.update_layout(yaxis_title=None)
