"""Shared machinery of the value package: where data comes from, configuration, the as-of cut.

Every value function takes a ``warehouse``: a warehouse path (what the dashboard's
cached ``query`` passes), ``None`` (the configured warehouse) or an open ibis
backend (DuckDB or PySpark, what tests and build steps pass), opened with
:func:`scrm_lib.engine.using`. The per-person
order table is built here once, so RFM, lifecycle, CLV and the KPIs count
orders the same way.

Counting rules (documented once, used everywhere)
-------------------------------------------------
- An *order* is ``(platform, order_id)``; its lines are summed.
- Only ``paid`` and ``refunded`` orders count; ``cancelled`` and ``pending``
  never were a purchase.
- ``net = amount - refund_amount`` per order (refunds net out, never
  dropped); an order whose net is 0 (fully refunded) is not a purchase.
- An order's time is ``paid_at`` (``created_at`` when the export has no
  payment time); days are calendar days in ``settings.timezone``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.config import Settings, config_section, load_settings
from scrm_lib.engine.exprs import epoch_seconds, on_duckdb
from scrm_lib.errors import ConfigError, ScrmError

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
COUNTED_STATUSES = ("paid", "refunded")

#: Defaults of the ``[value]`` section of ``scrm.toml``.
VALUE_DEFAULTS: dict[str, Any] = {
    # RFM: a score at or above this is "high" (scores run 1..5)
    "r_high": 3,
    "f_high": 3,
    "m_high": 3,
    # recency score at or below this is "very low": with low F, the person is lost
    "r_very_low": 1,
    # an order above this (CNY) is refused as absurd unless bad_orders = "exclude"
    "max_order_amount": 1_000_000,
    "bad_orders": "raise",  # raise | exclude
    # lifecycle (days since last purchase; first-order age)
    "new_days": 30,
    "dormant_days": 90,
    "lost_days": 180,
    "mature_orders": 4,
    "repurchase_window_day": 14,
    "repurchase_window_width": 7,
    # replenishment: a cycle needs this many intervals; "due" within this slack (days)
    "replenish_min_intervals": 3,
    "replenish_slack_days": 3,
    # behaviour layers
    "loyal_orders": 4,
    "silent_days": 180,
    "interactive_min_actions": 5,
    "interactive_max_spend": 100.0,
    # simple LTV
    "lifespan_years": 3.0,
    # probabilistic CLV
    "clv_horizon_days": 365,
    "clv_discount_rate_annual": 0.0,
}


class ValueDataError(ScrmError):
    """The orders cannot be scored as they are (empty, absurd amounts, bad as-of date)."""


def value_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """The ``[value]`` settings: defaults, then ``scrm.toml``, then ``overrides``.

    Examples
    --------
    >>> value_config(r_high=4)["r_high"]
    4
    """
    given = config_section("value", VALUE_DEFAULTS, settings, **overrides)
    cfg = dict(VALUE_DEFAULTS)
    for key, value in given.items():
        default = VALUE_DEFAULTS[key]
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"[value] {key} must be a number, not {value!r}")
            if value < 0:
                raise ConfigError(f"[value] {key} must be 0 or more, not {value!r}")
        cfg[key] = value
    if cfg["bad_orders"] not in ("raise", "exclude"):
        raise ConfigError(
            f"[value] bad_orders must be 'raise' or 'exclude', not {cfg['bad_orders']!r}"
        )
    for key in ("r_high", "f_high", "m_high", "r_very_low"):
        if not 1 <= cfg[key] <= 5:
            raise ConfigError(f"[value] {key} is a score from 1 to 5, not {cfg[key]!r}")
    return cfg


def write_mart(con: Any, name: str, df: pd.DataFrame) -> None:
    """Write a build step's frame as table ``name`` on either engine.

    DuckDB gets a table in the warehouse being built; Spark a view in its
    session (:func:`scrm_lib.engine.register_arrow`), as the build's stages are,
    so a step on Spark leaves no ``spark-warehouse/`` folder behind.
    """
    import pyarrow as pa

    from scrm_lib.engine import register_arrow

    register_arrow(con, name, pa.Table.from_pandas(df, preserve_index=False))


def meta_frame(meta: dict[str, Any]) -> pd.DataFrame:
    """A step's notes as ``key, value`` rows, each value JSON (``value_meta``, ``churn_meta``)."""
    import json

    return pd.DataFrame({"key": list(meta), "value": [json.dumps(v) for v in meta.values()]})


@dataclass(frozen=True)
class AsOf:
    """A reference date and the UTC instant at which it ends (local midnight after it)."""

    date: dt.date
    cutoff_epoch: int  # seconds; orders strictly before this count

    @property
    def cutoff(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.cutoff_epoch, tz=dt.UTC)


def parse_date(value: Any, what: str = "as_of") -> dt.date:
    """A date from a ``date``, ``datetime`` or ``YYYY-MM-DD`` string; a clear error otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def as_of_cut(as_of: Any, timezone: str) -> AsOf:
    """The end of ``as_of`` (a local calendar day in ``timezone``) as a UTC epoch.

    Examples
    --------
    >>> as_of_cut("2026-01-31", "Asia/Shanghai").cutoff.isoformat()
    '2026-01-31T16:00:00+00:00'
    """
    day = parse_date(as_of)
    local_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(timezone))
    return AsOf(day, int(local_midnight.timestamp()))


def default_as_of(con: Any, timezone: str) -> dt.date:
    """The local day of the latest counted order: "as of the end of the data"."""
    if "orders" not in con.list_tables():
        raise ValueDataError("the warehouse has no orders table; run `scrm build`")
    o = con.table("orders")
    o = o.filter(o.status.isin(COUNTED_STATUSES))
    last = o.aggregate(x=ibis.coalesce(o.paid_at, o.created_at).epoch_seconds().max()).execute()
    value = last["x"].iloc[0]
    if value is None or value != value:
        raise ValueDataError("no paid or refunded orders in the warehouse: nothing to score")
    return dt.datetime.fromtimestamp(int(value), tz=ZoneInfo(timezone)).date()


def resolve_as_of(con: Any, as_of: Any, timezone: str) -> AsOf:
    """``as_of`` as an :class:`AsOf`; None means the day of the latest order."""
    return as_of_cut(default_as_of(con, timezone) if as_of is None else as_of, timezone)


def person_orders(con: Any, *, cfg: dict[str, Any], unattributed: bool = False) -> ir.Table:
    """One row per counted order and person: ``person_id, platform, order_id, ts, ordered_at,
    net, gross``.

    ``ts`` is epoch seconds (engine-neutral arithmetic on both DuckDB and
    Spark); ``ordered_at`` the same instant as a timestamp, for a filter or a
    min/max that needs no conversion of every row (convert the aggregate).
    Orders of accounts unknown to the person map keep their account
    as the person rather than disappear; orders left on an account-key hub
    (:func:`scrm_lib.identity.account_hubs.unattributed_accounts`) are nobody's:
    left out, or with ``unattributed=True`` kept with a null ``person_id``, for
    brand-level totals (GMV) that count every sale whoever made it.
    """
    from scrm_lib.identity.account_hubs import unattributed_accounts
    from scrm_lib.warehouse.steps import person_map

    tables = con.list_tables()
    if "orders" not in tables:
        raise ValueDataError("the warehouse has no orders table; run `scrm build`")
    hubs = unattributed_accounts(con)

    def counted(o: ir.Table) -> ir.Table:
        """Counted order rows as lines: ``platform, order_id, account_id, ts, amount, refund``."""
        o = o.filter(o.status.isin(COUNTED_STATUSES))
        if hubs is not None and not unattributed:
            # orders left on an account-key hub (a counter phone) had no evidence of their
            # buyer: nobody's purchases; OneID re-keyed every other order of the hub
            o = o.anti_join(hubs, "account_id")
        ordered_at = ibis.coalesce(o.paid_at, o.created_at)
        return o.select(
            "platform",
            "order_id",
            "account_id",
            ts=epoch_seconds(con, ordered_at),
            ordered_at=ordered_at,
            amount=o.amount.cast("float64").fill_null(0.0),
            refund=o.refund_amount.cast("float64").fill_null(0.0),
            net=_net(o.amount, o.refund_amount),
        )

    orders = _orders_of_lines(con, con.table("orders"), counted)
    if "person_accounts" in tables:
        pm = person_map(con)
        joined = orders.left_join(pm, orders.account_id == pm.account_id)
        person = ibis.coalesce(joined.person_id, orders.account_id)
    else:
        # before the identity step every account is its own person (person_map maps
        # each account to itself and an unknown one keeps its account): no join to run
        joined, person = orders, orders.account_id
    if hubs is not None and unattributed:
        person = ibis.cases(
            (orders.account_id.isin(hubs.account_id), ibis.null("string")), else_=person
        )
    return joined.select(
        person_id=person,
        platform=orders.platform,
        order_id=orders.order_id,
        account_id=orders.account_id,
        ts=orders.ts,
        ordered_at=orders.ordered_at,
        gross=orders.gross,
        net=orders.net,
    )


def _net(amount: ir.Value, refund: ir.Value) -> ir.FloatingValue:
    """An order row's net (paid minus refunded) as a float rounded to the cent.

    Amounts stored as decimals of at most two places (the warehouse's
    ``DECIMAL(18, 2)``) subtract exactly and are cast once: the same float as
    rounding the difference of the two floats to two places (equal on 8M
    random amounts up to 10^9 CNY), without two casts and a rounding per row.
    """

    def cents(x: ir.Value) -> bool:
        t = x.type()
        return t.is_decimal() and t.scale is not None and t.scale <= 2

    if cents(amount) and cents(refund):
        return (amount.fill_null(0) - refund.fill_null(0)).cast("float64")
    gross = amount.cast("float64").fill_null(0.0)
    return (gross - refund.cast("float64").fill_null(0.0)).round(2)


#: The columns of an order row, in order (:func:`_orders_of_lines`).
ORDER_ROW = ("platform", "order_id", "account_id", "ts", "ordered_at", "net", "gross")


def _orders_of_lines(con: Any, table: ir.Table, counted: Any) -> ir.Table:
    """Order rows (``platform, order_id, account_id, ts, ordered_at, net, gross``) of the
    orders table.

    ``counted(t)`` turns rows of ``table`` into counted lines. ``(platform,
    order_id, line_id)`` is the orders key (:data:`scrm_lib.schema.KEYS`), so a
    row whose ``line_id`` is ``""`` is the only such row of its order: when the
    order has no other line (or line with a null ``line_id``) it *is* the order
    and passes through. Only the lines of the other orders are summed, so a
    warehouse of one row per order pays no group-by of every order (on DuckDB
    that group-by took longer than the whole RFM summary's). Each branch reads
    ``table`` itself: a projection shared by both would be materialized first.
    On DuckDB, a table with no sub-order line at all (asked first: one scan of
    ``line_id``) needs neither branch: its rows are its orders.
    """
    if "line_id" not in table.columns:
        lined = table
    else:
        # an OR, not a coalesce of the comparison: DuckDB pushes the OR into its scan
        # of the column (the probe of 10M one-line orders: 0.1 s of CPU as a
        # coalesce, a third of that as the OR)
        lined = table.filter((table.line_id != "") | table.line_id.isnull())
        if on_duckdb(con) and not con.execute(lined.limit(1).count()):
            rows = counted(table)
            return rows.select(*ORDER_ROW[:-1], gross=rows.amount)
    lined = lined.select("platform", "order_id").distinct()
    keys = ["platform", "order_id"]
    single = counted(table.anti_join(lined, keys))
    single = single.select(*ORDER_ROW[:-1], gross=single.amount)
    parts = counted(table.semi_join(lined, keys))
    summed = parts.group_by(keys).aggregate(
        account_id=parts.account_id.min(),
        ts=parts.ts.min(),
        ordered_at=parts.ordered_at.min(),
        gross=parts.amount.sum(),
        refund=parts.refund.sum(),
    )
    summed = summed.select(
        *ORDER_ROW[:-2], net=(summed.gross - summed.refund).round(2), gross=summed.gross
    )
    return single.union(summed, distinct=False)


def check_orders(orders: ir.Table, *, cfg: dict[str, Any], as_of: AsOf) -> tuple[ir.Table, int]:
    """Refuse (or, when configured, exclude with a warning) orders that cannot be right.

    Bad: a negative amount, a refund larger than the amount, an amount above
    ``max_order_amount``. Empty data and an as-of date before every order are
    errors with a message saying so; nothing is dropped without a trace.
    Returns the orders to use and how many were excluded.
    """
    bad = (orders.gross < 0) | (orders.net < 0) | (orders.gross > cfg["max_order_amount"])
    stats = orders.aggregate(
        n=orders.count(),
        n_bad=bad.sum().cast("int64"),
        first=orders.ts.min(),
        example=orders.order_id.min(where=bad),
    ).execute()
    n, n_bad = int(stats["n"].iloc[0]), int(stats["n_bad"].fillna(0).iloc[0])
    if n == 0:
        raise ValueDataError("no paid or refunded orders in the warehouse: nothing to score")
    first = stats["first"].iloc[0]
    if first is not None and int(first) >= as_of.cutoff_epoch:
        first_day = dt.datetime.fromtimestamp(int(first), tz=dt.UTC).date()
        raise ValueDataError(
            f"as_of {as_of.date} is before every order (the first is on {first_day})"
        )
    if n_bad:
        example = stats["example"].iloc[0]
        message = (
            f"{n_bad} of {n} orders have a negative amount, a refund above the amount or an "
            f"amount above {cfg['max_order_amount']:,} CNY (e.g. order {example})"
        )
        if cfg["bad_orders"] == "raise":
            raise ValueDataError(message + "; set [value] bad_orders = 'exclude' to leave them out")
        logger.warning("%s: left out", message)
        return orders.filter(~bad), n_bad
    return orders, 0


def prepare(
    con: Any, as_of: Any, settings: Settings | None, overrides: dict[str, Any]
) -> tuple[Settings, dict[str, Any], AsOf, ir.Table, int]:
    """What every value function starts from: ``(settings, cfg, cut, orders, excluded)``:
    the settings, the ``[value]`` config with ``overrides``, the as-of cut, the
    orders that count up to it and how many bad orders were left out."""
    settings = settings or load_settings()
    cfg = value_config(settings, **overrides)
    cut = resolve_as_of(con, as_of, settings.timezone)
    orders, excluded = check_orders(person_orders(con, cfg=cfg), cfg=cfg, as_of=cut)
    return settings, cfg, cut, orders, excluded


def epoch_times(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """``df`` with the epoch-second columns ``cols`` (those present) as UTC timestamps."""
    for col in cols:
        if col in df:
            df[col] = pd.to_datetime(df[col], unit="s", utc=True)
    return df
