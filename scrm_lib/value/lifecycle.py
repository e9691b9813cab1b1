"""Lifecycle stages, the day-14 repurchase window, replenishment cycles and who is due.

Stages (first rule that applies; thresholds from ``[value]``):

1. 流失 lost — no purchase for more than ``lost_days`` (180) days;
2. 沉睡 dormant — no purchase for more than ``dormant_days`` (90) days;
3. 新客 new/trial — at most one purchase, the first within ``new_days`` (30) days;
4. 成熟 mature — ``mature_orders`` (4) purchases or more;
5. 成长 growing — everyone else (a second or third purchase, recently).

Replenishment: per category, the median number of days between a person's
consecutive purchase days in that category (only categories with at least
``replenish_min_intervals`` intervals get a cycle). A person is *due* for a
category when the days since their last purchase in it reach
``cycle - replenish_slack_days`` and are at most twice the cycle (longer
than that, they are not replenishing any more).

Example
-------
>>> from scrm_lib.value import lifecycle
>>> lifecycle.stages("data/warehouse/scrm.duckdb")["stage"].value_counts()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.config import Settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.errors import ConfigError
from scrm_lib.value._base import (
    COUNTED_STATUSES,
    SECONDS_PER_DAY,
    AsOf,
    epoch_times,
    prepare,
)
from scrm_lib.value.rfm import rfm_summary_expr

#: code → (中文, English), in lifecycle order.
STAGES: dict[str, tuple[str, str]] = {
    "new": ("新客", "New / trial"),
    "growing": ("成长", "Growing"),
    "mature": ("成熟", "Mature"),
    "dormant": ("沉睡", "Dormant"),
    "lost": ("流失", "Lost"),
}


def stages_expr(orders: ir.Table, as_of: AsOf, cfg: dict[str, Any]) -> ir.Table:
    """``person_id, first_purchase, recency_days, frequency, stage`` as an ibis expression."""
    s = rfm_summary_expr(orders, as_of)
    age = (as_of.cutoff_epoch - s.first_ts) // SECONDS_PER_DAY
    stage = ibis.cases(
        (s.recency_days > cfg["lost_days"], "lost"),
        (s.recency_days > cfg["dormant_days"], "dormant"),
        ((s.frequency <= 1) & (age.fill_null(0) <= cfg["new_days"]), "new"),
        (s.frequency >= cfg["mature_orders"], "mature"),
        else_="growing",
    )
    return s.select(
        "person_id",
        first_purchase=s.first_ts,
        recency_days=s.recency_days,
        frequency=s.frequency,
        monetary=s.monetary,
        first_age_days=age.cast("int64"),
        stage=stage,
    )


def stages(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """The lifecycle stage of every person with an order before ``as_of``.

    Returns
    -------
    pandas.DataFrame
        ``person_id, first_purchase, recency_days, frequency, monetary,
        first_age_days, stage, stage_zh, stage_en``.

    Examples
    --------
    >>> stages("data/warehouse/scrm.duckdb", as_of="2026-10-31").head()  # doctest: +SKIP
    """
    with using(warehouse) as con:
        _, cfg, cut, orders, excluded = prepare(con, as_of, settings, overrides)
        df = con.execute(stages_expr(orders, cut, cfg).order_by("person_id"))
    df = epoch_times(df, "first_purchase")
    df["stage_zh"] = df["stage"].map(lambda s: STAGES[s][0])
    df["stage_en"] = df["stage"].map(lambda s: STAGES[s][1])
    df.attrs.update(as_of=cut.date.isoformat(), excluded_orders=excluded)
    return df


def stage_summary(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Persons and net GMV per lifecycle stage, in lifecycle order.

    Examples
    --------
    >>> stage_summary("data/warehouse/scrm.duckdb")  # doctest: +SKIP
    """
    with using(warehouse) as con:
        _, cfg, cut, orders, _ = prepare(con, as_of, settings, overrides)
        e = stages_expr(orders, cut, cfg)
        got = con.execute(e.group_by("stage").aggregate(persons=e.count(), gmv=e.monetary.sum()))
    out = pd.DataFrame(
        {"stage": list(STAGES), "zh": [v[0] for v in STAGES.values()],
         "en": [v[1] for v in STAGES.values()]}
    ).merge(got, on="stage", how="left")  # fmt: skip
    out["persons"] = out["persons"].fillna(0).astype("int64")
    out["gmv"] = out["gmv"].fillna(0.0)
    out.attrs["as_of"] = cut.date.isoformat()
    return out


def repurchase_window(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """One-purchase persons now in the repurchase window after their first order.

    The window opens ``repurchase_window_day`` (14) days after the first
    purchase and stays open ``repurchase_window_width`` (7) days: with the
    defaults, persons whose only purchase was 14 to 20 days ago.

    Examples
    --------
    >>> repurchase_window("data/warehouse/scrm.duckdb", as_of="2026-10-31")  # doctest: +SKIP
    """
    with using(warehouse) as con:
        _, cfg, cut, orders, _ = prepare(con, as_of, settings, overrides)
        e = stages_expr(orders, cut, cfg)
        start = cfg["repurchase_window_day"]
        end = start + cfg["repurchase_window_width"]
        e = e.filter(
            (e.frequency == 1) & (e.first_age_days >= start) & (e.first_age_days < end)
        ).select("person_id", "first_purchase", "first_age_days", "monetary")
        df = con.execute(e.order_by(["first_age_days", "person_id"]))
    df.attrs.update(as_of=cut.date.isoformat(), window=(start, end - 1))
    return epoch_times(df, "first_purchase")


def _category_days(con: Any, cut: AsOf, utc_offset_s: int, by: str) -> tuple[ir.Table, ir.Table]:
    from scrm_lib.warehouse.steps import person_map

    o = con.table("orders")
    o = o.filter(o.status.isin(COUNTED_STATUSES))
    ts = ibis.coalesce(o.paid_at, o.created_at).epoch_seconds().cast("int64")
    net = o.amount.cast("float64").fill_null(0.0) - o.refund_amount.cast("float64").fill_null(0.0)
    lines = o.select("account_id", cat=o[by], ts=ts, net=net)
    lines = lines.filter((lines.ts < cut.cutoff_epoch) & (lines.net > 0))
    missing = lines.filter(lines.cat.isnull() | (lines.cat == ""))
    lines = lines.filter(lines.cat.notnull() & (lines.cat != ""))
    pm = person_map(con)
    j = lines.left_join(pm, lines.account_id == pm.account_id)
    j = j.select(
        person_id=ibis.coalesce(j.person_id, j.account_id),
        category=j.cat,
        day=((j.ts + utc_offset_s) // SECONDS_PER_DAY).cast("int64"),
    ).distinct()
    return j, missing


def replenishment_cycles(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    by: Literal["category", "items"] = "category",
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Median days between a person's consecutive purchases of the same category.

    Parameters
    ----------
    by
        ``category`` (the order line's category) or ``items`` (the product name).

    Returns
    -------
    pandas.DataFrame
        ``category, cycle_days, intervals, persons``; categories with fewer than
        ``replenish_min_intervals`` intervals are left out (see
        ``df.attrs["too_few"]``); lines without a category are counted in
        ``df.attrs["lines_without_category"]``.

    Examples
    --------
    >>> replenishment_cycles("data/warehouse/scrm.duckdb")  # doctest: +SKIP
    """
    if by not in ("category", "items"):
        raise ConfigError(f"by must be 'category' or 'items', not {by!r}")
    from scrm_lib.value.clv import _utc_offset

    with using(warehouse) as con:
        settings, cfg, cut, _, _ = prepare(con, as_of, settings, overrides)
        days, missing = _category_days(con, cut, _utc_offset(settings, cut.date), by)
        w = ibis.window(group_by=[days.person_id, days.category], order_by=days.day)
        gaps = days.mutate(gap=days.day - days.day.lag().over(w))
        gaps = gaps.filter(gaps.gap.notnull())
        per = gaps.group_by("category").aggregate(
            cycle_days=gaps.gap.median(), intervals=gaps.count(), persons=gaps.person_id.nunique()
        )
        df = con.execute(per.order_by("category"))
        n_missing = int(con.execute(missing.count()))
    keep = df["intervals"] >= cfg["replenish_min_intervals"]
    out = df[keep].reset_index(drop=True)
    out["cycle_days"] = out["cycle_days"].astype("float64")
    out.attrs.update(
        as_of=cut.date.isoformat(),
        too_few=sorted(df.loc[~keep, "category"].tolist()),
        lines_without_category=n_missing,
    )
    return out


def due_for_replenishment(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    by: Literal["category", "items"] = "category",
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Persons due to buy a category again, by its replenishment cycle.

    Returns
    -------
    pandas.DataFrame
        ``person_id, category, last_purchase_day, days_since, cycle_days,
        days_overdue`` (negative: due in that many days), most overdue first.

    Examples
    --------
    >>> due_for_replenishment("data/warehouse/scrm.duckdb").head()  # doctest: +SKIP
    """
    cycles = replenishment_cycles(warehouse, as_of=as_of, by=by, settings=settings, **overrides)
    from scrm_lib.value.clv import _utc_offset

    with using(warehouse) as con:
        settings, cfg, cut, _, _ = prepare(con, as_of, settings, overrides)
        offset = _utc_offset(settings, cut.date)
        days, _ = _category_days(con, cut, offset, by)
        last = days.group_by(["person_id", "category"]).aggregate(last_day=days.day.max())
        cyc = ibis.memtable(cycles[["category", "cycle_days"]].astype({"cycle_days": "float64"}))
        today = (cut.cutoff_epoch + offset) // SECONDS_PER_DAY - 1
        j = last.inner_join(cyc, "category")
        j = j.mutate(days_since=(today - j.last_day).cast("int64"))
        j = j.filter(
            (j.days_since >= j.cycle_days - cfg["replenish_slack_days"])
            & (j.days_since <= 2 * j.cycle_days)
        )
        j = j.select(
            "person_id",
            "category",
            last_purchase_day=j.last_day,
            days_since=j.days_since,
            cycle_days=j.cycle_days,
            days_overdue=j.days_since - j.cycle_days,
        )
        df = con.execute(j.order_by([ibis.desc("days_overdue"), "person_id", "category"]))
    epoch = dt.date(1970, 1, 1)
    df["last_purchase_day"] = [epoch + dt.timedelta(days=int(d)) for d in df["last_purchase_day"]]
    df.attrs["as_of"] = cut.date.isoformat()
    return df
