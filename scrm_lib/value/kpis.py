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
from typing import Any

import ibis
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
    num, den = float(num or 0), float(den or 0)
    return num / den if den else None


def _orders(con: Any, vcfg: dict, cut: AsOf) -> Any:
    """Counted orders, those left on an account-key hub included with a null person.

    GMV is the brand's, whoever bought: an order on a counter phone with no
    evidence of its buyer is a sale all the same. Per-person KPIs drop it.
    """
    orders, _ = check_orders(person_orders(con, cfg=vcfg, unattributed=True), cfg=vcfg, as_of=cut)
    return orders


def _values_at(con: Any, every: Any, cut: AsOf, cfg: dict, vcfg: dict) -> dict[str, Any]:
    """Every KPI's value at one reference date (a handful of engine aggregates).

    ``every`` is :func:`_orders`: brand totals read all of it, per-person rates the
    orders that have a person.
    """
    from scrm_lib.warehouse.steps import person_map

    orders = every.filter(every.person_id.notnull())
    end = cut.cutoff_epoch
    day = SECONDS_PER_DAY
    period_start = end - cfg["period_days"] * day
    bought = orders.filter((orders.net > 0) & (orders.ts < end))
    recent = bought.filter(bought.ts >= end - cfg["repeat_window_days"] * day)
    per = recent.group_by("person_id").aggregate(n=recent.count(), gmv=recent.net.sum())
    r = con.execute(
        per.aggregate(
            buyers=per.count(),
            repeaters=(per.n >= 2).sum(),
            purchases=per.n.sum(),
            gmv=per.gmv.sum(),
        )
    ).iloc[0]
    aov = _ratio(r["gmv"], r["purchases"])
    freq = _ratio(r["purchases"], r["buyers"])
    ltv = aov * freq * vcfg["lifespan_years"] if aov is not None and freq is not None else None

    period = every.filter((every.ts >= period_start) & (every.ts < end))
    crm = period.platform.isin(list(cfg["crm_platforms"]))
    g = con.execute(period.aggregate(gmv=period.net.sum(), crm=period.net.sum(where=crm))).iloc[0]

    first = bought.group_by("person_id").aggregate(first=bought.ts.min())
    cohort = first.filter((first.first >= end - 60 * day) & (first.first < end - 30 * day))
    b2 = bought.select(b_person=bought.person_id, b_ts=bought.ts).view()
    j = cohort.inner_join(b2, cohort.person_id == b2.b_person)
    again = j.filter((j.b_ts > j.first) & (j.b_ts < j.first + 30 * day))
    n_cohort = int(con.execute(cohort.count()))
    n_again = int(con.execute(again.person_id.nunique())) if n_cohort else 0

    open_rate = auto_rate = None
    if "touches" in con.list_tables():
        t = con.table("touches")
        t = t.mutate(ts_s=t.ts.epoch_seconds().cast("int64"))
        t = t.filter((t.ts_s >= period_start) & (t.ts_s < end))
        o = con.execute(t.aggregate(n=t.count(), opened=t.opened.fill_null(False).sum())).iloc[0]
        open_rate = _ratio(o["opened"], o["n"])
        auto = t.filter(t.campaign.re_search(cfg["automation_pattern"]))
        pm = person_map(con)
        aj = auto.left_join(pm, auto.account_id == pm.account_id)
        auto = aj.select(
            "touch_id", "ts_s", person_id=ibis.coalesce(aj.person_id, aj.account_id)
        ).view()
        window = cfg["attribution_days"] * day
        # both sides derive from the person map: a renamed view keeps ibis' join sides apart
        b = bought.select(b_person=bought.person_id, b_ts=bought.ts).view()
        hit = auto.inner_join(
            b,
            [
                auto.person_id == b.b_person,
                b.b_ts >= auto.ts_s,
                b.b_ts < auto.ts_s + window,
            ],
        )
        n_auto = int(con.execute(auto.count()))
        n_hit = int(con.execute(hit.touch_id.nunique())) if n_auto else 0
        auto_rate = _ratio(n_hit, n_auto)
    return {
        "repeat_purchase_rate": _ratio(r["repeaters"], r["buyers"]),
        "ltv": round(ltv, 2) if ltv is not None else None,
        "crm_gmv_share": _ratio(g["crm"], g["gmv"]),
        "message_open_rate": open_rate,
        "automation_conversion_rate": auto_rate,
        "new_30d_repurchase_rate": _ratio(n_again, n_cohort),
    }


def _frame(values: dict[str, Any], cfg: dict) -> pd.DataFrame:
    rows = []
    for kpi, value in values.items():
        zh, en, unit = KPI_LABELS[kpi]
        target = cfg["targets"].get(kpi)
        met = None if value is None or target is None else bool(value >= target)
        rows.append({"kpi": kpi, "zh": zh, "en": en, "unit": unit, "value": value,
                     "target": target, "met": met})  # fmt: skip
    return pd.DataFrame(rows)


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
        ``kpi, zh, en, unit, value, target, met`` (``value`` None when there is
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
        out = _frame(_values_at(con, orders, cut, cfg, vcfg), cfg)
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
        # one set of engine aggregates per week: a few dozen small queries, not a row loop
        for k in range(weeks - 1, -1, -1):
            end = min(last_sunday - dt.timedelta(weeks=k), cut.date)
            at = as_of_cut(end, settings.timezone)
            f = _frame(_values_at(con, orders, at, cfg, vcfg), cfg)
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
