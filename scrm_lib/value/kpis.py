"""CRM KPIs against targets, as of a reference date and as a weekly series.

Targets and definitions are configuration (``[kpis]`` in ``scrm.toml``);
the defaults below are common practice in Chinese private-domain CRM. A
target of ``None`` shows the value without a verdict.

- ``repeat_purchase_rate`` 复购率 (target ≥ 30%): buyers of the last
  ``repeat_window_days`` (365) with two or more purchases in it / buyers.
- ``ltv`` 客户终身价值 (no target): average order value × purchases per
  buyer (last 365 days) × ``lifespan_years`` of ``[value]``.
- ``crm_gmv_share`` 私域GMV占比 (≥ 25%): net GMV on ``crm_platforms``
  (WeChat mini-program, Youzan) / net GMV, last ``period_days`` (28); every
  sale counts, an order left unattributed on a shared account key included.
- ``message_open_rate`` 消息打开率 (≥ 40%): touches opened / touches sent,
  last ``period_days``.
- ``automation_conversion_rate`` 自动化转化率 (≥ 15%): automated touches
  (campaign matches ``automation_pattern``) followed by a purchase of that
  person within ``attribution_days`` (7) / automated touches, last
  ``period_days``.
- ``new_30d_repurchase_rate`` 新客30天复购率 (no target): persons whose first
  purchase was 31-60 days ago who bought again within 30 days of it / those.

Example
-------
>>> from scrm_lib.value import kpis
>>> kpis.kpis("data/warehouse/scrm.duckdb", as_of="2026-10-31")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.errors import ConfigError
from scrm_lib.value._base import (
    SECONDS_PER_DAY,
    AsOf,
    as_of_cut,
    check_orders,
    person_orders,
    resolve_as_of,
    value_config,
)

#: Defaults of ``[kpis]`` (targets under ``[kpis.targets]``).
KPI_DEFAULTS: dict[str, Any] = {
    "repeat_window_days": 365,
    "period_days": 28,
    "attribution_days": 7,
    "crm_platforms": ["wechat", "youzan"],
    "automation_pattern": "生日|关怀|自动|欢迎|提醒|唤醒|auto|welcome|trigger|reminder",
    "targets": {
        "repeat_purchase_rate": 0.30,
        "ltv": None,
        "crm_gmv_share": 0.25,
        "message_open_rate": 0.40,
        "automation_conversion_rate": 0.15,
        "new_30d_repurchase_rate": None,
    },
}

#: kpi → (中文, English, unit)
KPI_LABELS: dict[str, tuple[str, str, str]] = {
    "repeat_purchase_rate": ("复购率", "Repeat-purchase rate", "%"),
    "ltv": ("客户终身价值", "LTV", "CNY"),
    "crm_gmv_share": ("私域GMV占比", "CRM share of GMV", "%"),
    "message_open_rate": ("消息打开率", "Message open rate", "%"),
    "automation_conversion_rate": ("自动化转化率", "Automation conversion", "%"),
    "new_30d_repurchase_rate": ("新客30天复购率", "New-customer 30-day repurchase", "%"),
}


def kpi_config(settings: Settings | None = None) -> dict[str, Any]:
    """``[kpis]`` merged over :data:`KPI_DEFAULTS` (targets merged key by key)."""
    s = settings or load_settings()
    section = s.extra.get("kpis", {})
    if not isinstance(section, dict):
        raise ConfigError("[kpis] in scrm.toml must be a table of settings")
    cfg = {**KPI_DEFAULTS, "targets": dict(KPI_DEFAULTS["targets"])}
    for key, value in section.items():
        if key not in KPI_DEFAULTS:
            raise ConfigError(f"[kpis] {key!r} is not a setting; known: {', '.join(KPI_DEFAULTS)}")
        if key == "targets":
            for name, target in value.items():
                if name not in KPI_LABELS:
                    raise ConfigError(
                        f"[kpis.targets] {name!r} is not a KPI: {', '.join(KPI_LABELS)}"
                    )
                if not isinstance(target, (int, float)) or isinstance(target, bool):
                    raise ConfigError(f"[kpis.targets] {name} must be a number, not {target!r}")
                cfg["targets"][name] = float(target)
        else:
            cfg[key] = value
    for key in ("repeat_window_days", "period_days", "attribution_days"):
        if not isinstance(cfg[key], int) or cfg[key] <= 0:
            raise ConfigError(f"[kpis] {key} must be a whole number of days above 0")
    try:
        re.compile(cfg["automation_pattern"])
    except re.error as exc:
        raise ConfigError(f"[kpis] automation_pattern is not a regular expression: {exc}") from None
    return cfg


def _ratio(num: Any, den: Any) -> float | None:
    """``num / den``; None when there is nothing to measure (``den`` 0 or missing). A sum
    over no rows (no CRM sales in a period that has sales) comes back missing: it is 0."""
    num, den = _number(num), _number(den)
    return num / den if den else None


def _number(x: Any) -> float:
    return 0.0 if x is None or pd.isna(x) else float(x)


def _orders(con: Any, vcfg: dict, cut: AsOf) -> Any:
    """Counted orders, those left on an account-key hub included with a null person.

    GMV is the brand's, whoever bought: an order on a counter phone with no
    evidence of its buyer is a sale all the same. Per-person KPIs drop it.
    """
    orders, _ = check_orders(person_orders(con, cfg=vcfg, unattributed=True), cfg=vcfg, as_of=cut)
    return orders


def _cut_table(cuts: list[AsOf], cfg: dict) -> ir.Table:
    """One row per cut: its index ``i``, its end and the start of each window ending there.

    The bounds are columns rather than arithmetic in the join conditions, so the
    engine can run each window as a range join of these few rows with the orders.
    """
    day = SECONDS_PER_DAY
    ends = [c.cutoff_epoch for c in cuts]
    bounds = {
        "i": list(range(len(cuts))),
        "end": ends,
        "period_start": [e - cfg["period_days"] * day for e in ends],
        "repeat_start": [e - cfg["repeat_window_days"] * day for e in ends],
        "cohort_start": [e - 60 * day for e in ends],
        "cohort_end": [e - 30 * day for e in ends],
    }
    return ibis.memtable(bounds, schema=dict.fromkeys(bounds, "int64"))


def _per_cut(
    cuts: ir.Table,
    rows: ir.Table,
    on: Callable[[ir.Table, ir.Table], Any],
    aggs: Callable[[ir.Table], dict[str, ir.Value]],
) -> ir.Table:
    """``aggs(joined)`` of the ``rows`` each cut's window ``on(cut, rows)`` holds, by cut ``i``.

    A left join keeps a cut whose window is empty, with what an aggregate of no
    rows is: a count of 0 and a sum NULL, the values a lone cut's query gave.
    """
    at = cuts.view()  # a view per join: ibis keeps apart the sides derived from one table
    j = at.left_join(rows, on(at, rows))
    return j.group_by("i").aggregate(**aggs(j))


def _values_at(con: Any, every: Any, cuts: list[AsOf], cfg: dict, vcfg: dict) -> list[dict]:
    """Every KPI's value at each cut of ``cuts``, in their order: one engine query for all.

    ``every`` is :func:`_orders`: brand totals read all of it, per-person rates the
    orders that have a person. A window ends at its cut's ``end`` (orders strictly
    before count), so one cut gives what the same cut gives among many.
    """
    from scrm_lib.warehouse.steps import person_map

    day = SECONDS_PER_DAY
    at = _cut_table(cuts, cfg)
    orders = every.filter(every.person_id.notnull())
    bought = orders.filter(orders.net > 0).select("person_id", "ts", "net")

    def in_period(a: ir.Table, r: ir.Table, ts: str) -> list:
        return [r[ts] >= a.period_start, r[ts] < a.end]

    c = at.view()
    recent = c.inner_join(bought, [bought.ts < c.end, bought.ts >= c.repeat_start])
    per = recent.group_by(["i", "person_id"]).aggregate(n=recent.count(), gmv=recent.net.sum())
    per = per.select(p_i=per.i, n=per.n, p_gmv=per.gmv)
    parts = [
        _per_cut(
            at,
            per,
            lambda a, r: a.i == r.p_i,
            lambda j: {
                "buyers": j.n.count(),
                "repeaters": (j.n >= 2).sum(),
                "purchases": j.n.sum(),
                "gmv": j.p_gmv.sum(),
            },
        ),
        _per_cut(
            at,
            every.select("ts", "platform", "net"),
            lambda a, r: in_period(a, r, "ts"),
            lambda j: {
                "period_gmv": j.net.sum(),
                "crm_gmv": j.net.sum(where=j.platform.isin(list(cfg["crm_platforms"]))),
            },
        ),
    ]

    # A cut's cohort first bought 31-60 days before it: that first purchase before the
    # cut is the person's first of all, and the 30 days after it end before the cut.
    # So first purchases and who bought again are found once; only who is in which
    # cut's cohort depends on the cut.
    first = bought.group_by("person_id").aggregate(first=bought.ts.min())
    b2 = bought.select(b_person=bought.person_id, b_ts=bought.ts).view()
    j = first.inner_join(
        b2,
        [first.person_id == b2.b_person, b2.b_ts > first.first, b2.b_ts < first.first + 30 * day],
    )
    again = j.select(a_person=j.person_id).distinct()
    flagged = first.left_join(again, first.person_id == again.a_person)
    parts.append(
        _per_cut(
            at,
            flagged.select("first", "a_person", c_person=flagged.person_id),
            lambda a, r: [r.first >= a.cohort_start, r.first < a.cohort_end],
            lambda j: {"cohort": j.c_person.count(), "again": j.a_person.count()},
        )
    )

    touches = "touches" in con.list_tables()
    if touches:
        t = con.table("touches")
        t = t.select("touch_id", "account_id", "campaign", "opened",
                     ts_s=t.ts.epoch_seconds().cast("int64"))  # fmt: skip
        parts.append(
            _per_cut(
                at,
                t.select("ts_s", "opened"),
                lambda a, r: in_period(a, r, "ts_s"),
                lambda j: {"sent": j.ts_s.count(), "opened": j.opened.fill_null(False).sum()},
            )
        )
        auto = t.filter(t.campaign.re_search(cfg["automation_pattern"]))
        pm = person_map(con)
        aj = auto.left_join(pm, auto.account_id == pm.account_id)
        auto = aj.select(
            "touch_id", "ts_s", person_id=ibis.coalesce(aj.person_id, aj.account_id)
        ).view()
        window = cfg["attribution_days"] * day
        # both sides derive from the person map: a renamed view keeps ibis' join sides apart
        b = bought.select(b_person=bought.person_id, b_ts=bought.ts).view()
        c = at.view()
        touched = c.inner_join(auto, in_period(c, auto, "ts_s"))
        # a purchase converts a touch at a cut only if it is before the cut
        hit = touched.inner_join(
            b,
            [
                touched.person_id == b.b_person,
                b.b_ts >= touched.ts_s,
                b.b_ts < touched.ts_s + window,
                b.b_ts < touched.end,
            ],
        )
        hit = hit.select(h_i=hit.i, h_touch=hit.touch_id)
        parts += [
            _per_cut(
                at,
                auto.select("ts_s"),
                lambda a, r: in_period(a, r, "ts_s"),
                lambda j: {"auto": j.ts_s.count()},
            ),
            _per_cut(at, hit, lambda a, r: a.i == r.h_i, lambda j: {"hit": j.h_touch.nunique()}),
        ]

    table = parts[0]
    for part in parts[1:]:
        table = table.inner_join(part, "i")
    rows = con.execute(table.order_by("i")).to_dict("records")

    out = []
    for r in rows:
        aov = _ratio(r["gmv"], r["purchases"])
        freq = _ratio(r["purchases"], r["buyers"])
        ltv = aov * freq * vcfg["lifespan_years"] if aov is not None and freq is not None else None
        out.append(
            {
                "repeat_purchase_rate": _ratio(r["repeaters"], r["buyers"]),
                "ltv": round(ltv, 2) if ltv is not None else None,
                "crm_gmv_share": _ratio(r["crm_gmv"], r["period_gmv"]),
                "message_open_rate": _ratio(r["opened"], r["sent"]) if touches else None,
                "automation_conversion_rate": _ratio(r["hit"], r["auto"]) if touches else None,
                "new_30d_repurchase_rate": _ratio(r["again"], r["cohort"]),
            }
        )
    return out


def _frame(values: dict[str, Any], cfg: dict) -> pd.DataFrame:
    rows = []
    for kpi, value in values.items():
        zh, en, unit = KPI_LABELS[kpi]
        target = cfg["targets"].get(kpi)
        met = None if value is None or target is None else bool(value >= target)
        rows.append({"kpi": kpi, "zh": zh, "en": en, "unit": unit, "value": value,
                     "target": target, "met": met})  # fmt: skip
    out = pd.DataFrame(rows)
    # a number column whichever KPIs have a value (missing: nothing to measure): mixed
    # with None it would be text, which readers mask and cannot format as a number
    out["value"] = pd.to_numeric(pd.Series([r["value"] for r in rows], dtype=object))
    return out


def kpis(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The six KPIs at ``as_of`` with their targets and whether each is met.

    Returns
    -------
    pandas.DataFrame
        ``kpi, zh, en, unit, value, target, met`` (``value`` missing when there is
        nothing to measure, e.g. no touches in the period; ``met`` None without
        a target).

    Examples
    --------
    >>> kpis("data/warehouse/scrm.duckdb").set_index("kpi")["value"]  # doctest: +SKIP
    """
    settings = settings or load_settings()
    cfg, vcfg = kpi_config(settings), value_config(settings)
    with using(warehouse) as con:
        cut = resolve_as_of(con, as_of, settings.timezone)
        orders = _orders(con, vcfg, cut)
        out = _frame(_values_at(con, orders, [cut], cfg, vcfg)[0], cfg)
    out.attrs["as_of"] = cut.date.isoformat()
    return out


def weekly(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    weeks: int = 12,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The KPIs at the end of each of the last ``weeks`` weeks (weeks end on Sunday).

    The last week is the one containing ``as_of`` (cut at ``as_of``); the
    rates over ``period_days`` are trailing windows at each week's end.

    Returns
    -------
    pandas.DataFrame
        Long format: ``week_end, kpi, value, target, met``.

    Examples
    --------
    >>> weekly("data/warehouse/scrm.duckdb", weeks=8)  # doctest: +SKIP
    """
    if not isinstance(weeks, int) or not 1 <= weeks <= 260:
        raise ConfigError(f"weeks must be a whole number from 1 to 260, not {weeks!r}")
    settings = settings or load_settings()
    cfg, vcfg = kpi_config(settings), value_config(settings)
    frames = []
    with using(warehouse) as con:
        cut = resolve_as_of(con, as_of, settings.timezone)
        orders = _orders(con, vcfg, cut)
        last_sunday = cut.date + dt.timedelta(days=(6 - cut.date.weekday()))
        weeks_back = range(weeks - 1, -1, -1)
        ends = [min(last_sunday - dt.timedelta(weeks=k), cut.date) for k in weeks_back]
        # the orders are checked once, at the last cut: a week before the first order is
        # an empty week, not an error
        values = _values_at(con, orders, [as_of_cut(e, settings.timezone) for e in ends], cfg, vcfg)
    for end, at_end in zip(ends, values, strict=True):
        f = _frame(at_end, cfg)
        f.insert(0, "week_end", end)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["as_of"] = cut.date.isoformat()
    return out


def plot_weekly(series: pd.DataFrame, kpi: str) -> Any:
    """A line of one KPI over the weeks with its target as a dashed line (plotly).

    Examples
    --------
    >>> plot_weekly(weekly(weeks=8), "repeat_purchase_rate").show()  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    if kpi not in KPI_LABELS:
        raise ConfigError(f"unknown KPI {kpi!r}; choose one of {', '.join(KPI_LABELS)}")
    zh, en, unit = KPI_LABELS[kpi]
    s = series[series["kpi"] == kpi]
    fig = go.Figure(go.Scatter(x=s["week_end"], y=s["value"], mode="lines+markers", name=en))
    target = s["target"].dropna()
    if len(target):
        fig.add_hline(y=float(target.iloc[0]), line_dash="dash", annotation_text="目标 target")
    fig.update_layout(title=f"{zh} / {en}", yaxis_tickformat=".0%" if unit == "%" else ",.0f",
                      height=300, margin={"t": 40, "b": 20})  # fmt: skip
    return fig
