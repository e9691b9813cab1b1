"""Results of the automation rules, measured like experiments against their hold-outs.

Each planned outbox row is one unit (a person selected by a rule on a run date);
its arm is ``send`` or ``holdout`` (drawn before suppression and suppressed alike,
so the arms are comparable). A unit converts when the person places a counted order
within ``conversion_days`` of the planned send (the rule's, else ``[automation]
conversion_days``); only units whose whole window lies before the warehouse's latest
order are judged (the rest are ``maturing``). Intent to treat: a ``send`` unit
counts whether or not the sending tool delivered it, so a tool that skipped sends
dilutes the uplift rather than biasing it.

The engine counts units and conversions per rule and arm (sufficient statistics);
the uplift's interval is Newcombe's score interval (:func:`uplift_interval`: hold-outs
are small and often convert nobody) and its p-value the experiments module's
two-proportion test (:func:`scrm_lib.experiments.frequentist.proportion_test`). Sends, opens and
clicks come from ``touches`` whose campaign is the row's ``auto:<rule>:<date>`` on
the row's account.

The automation-conversion KPI is the converted share of sent units; beside it, the
incremental conversions: the uplift times the units sent.

Planting a known effect (a sample generator, a test): a person's arm for a rule is
``assign([person_id], experiment=holdout_salt(rule), weights={"send": 1.0},
holdout=share)`` from :mod:`scrm_lib.experiments.assignment`, where the person id is
OneID's stable id (``P`` + a hash of the person's smallest account id on a first
build, :mod:`scrm_lib.identity.stable_ids`), so the arm is known before scrm runs;
raise the order rate of ``send`` persons within ``conversion_days`` after the rule's
planned send and the measured uplift should cover it. Touches that come back carry
the outbox row's ``campaign`` (``auto:<rule>:<run date>``) on its ``account_id``.

Example
-------
>>> automation_results()[["rule", "conversion_send", "uplift", "uplift_lo"]]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pandas as pd

from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.errors import ScrmError
from scrm_lib.social.automation.conditions import Inputs
from scrm_lib.social.automation.config import automation_config
from scrm_lib.social.automation.outbox import parse_date, read_runs

DAY = 86_400
#: Columns of :func:`automation_results`.
RESULT_COLUMNS = ["rule", "conversion_days", "units", "maturing", "send_units", "holdout_units",
                  "sent", "opened", "clicked", "open_rate", "click_rate", "conversions_send",
                  "conversions_holdout", "conversion_send", "conversion_holdout", "uplift",
                  "uplift_lo", "uplift_hi", "relative_uplift", "p_value",
                  "incremental_conversions", "note"]  # fmt: skip


def unit_frame(con: Any, rows: pd.DataFrame, days: dict[str, int]) -> pd.DataFrame:
    """Per rule and arm: ``units``, ``matured``, ``converted``, ``sent``, ``opened``,
    ``clicked`` from the planned ``rows`` of the outbox (counted in the engine)."""
    with Inputs(con, 2**62, dt.date.today()) as inp:
        return _units(inp, rows, days)


def _units(inp: Inputs, rows: pd.DataFrame, days: dict[str, int]) -> pd.DataFrame:
    con = inp.con
    cols = ["row_id", "rule", "arm", "person_id", "account_id", "campaign", "planned_at"]
    r = rows.loc[rows["status"] == "planned", cols].copy()
    r["p"] = (pd.to_datetime(r["planned_at"], utc=True) - pd.Timestamp(0, tz="UTC")) // (
        pd.Timedelta(seconds=1)
    )
    r["w"] = r["rule"].map(days).astype("int64") * DAY
    u = ibis.memtable(r.drop(columns="planned_at").astype(
        {"row_id": "string", "rule": "string", "arm": "string", "person_id": "string",
         "account_id": "string", "campaign": "string", "p": "int64", "w": "int64"}))  # fmt: skip
    o = inp.orders()
    end = o.ts.max()
    hit = u.inner_join(o, "person_id")
    hit = hit.filter((hit.ts >= hit.p) & (hit.ts < hit.p + hit.w)).select("row_id").distinct()
    u = u.left_join(hit.mutate(conv=ibis.literal(1)), "row_id").drop("row_id_right")
    if "touches" in inp.tables():
        t = con.table("touches")
        t = t.group_by(["account_id", "campaign"]).aggregate(
            tsent=t.count(), topen=t.opened.fill_null(False).cast("int64").max(),
            tclick=t.clicked.fill_null(False).cast("int64").max(),
        )  # fmt: skip
        u = u.left_join(t, ["account_id", "campaign"]).drop("account_id_right", "campaign_right")
    else:
        u = u.mutate(tsent=ibis.null("int64"), topen=ibis.null("int64"), tclick=ibis.null("int64"))
    latest = con.execute(o.aggregate(end=end))["end"].iloc[0]
    latest = -1 if pd.isna(latest) else int(latest)
    matured = (u.p + u.w) <= latest
    g = u.group_by(["rule", "arm"]).aggregate(
        units=u.count(),
        matured=matured.cast("int64").sum(),
        converted=(matured & u.conv.notnull()).cast("int64").sum(),
        sent=u.tsent.notnull().cast("int64").sum(),
        opened=u.topen.fill_null(0).sum(),
        clicked=u.tclick.fill_null(0).sum(),
    )
    return con.execute(g.order_by(["rule", "arm"]))


def _row(rule: str, days: int, g: pd.DataFrame) -> dict[str, Any]:
    from scrm_lib.experiments.frequentist import StatsConfig, proportion_test
    from scrm_lib.experiments.statistics import ProportionStatistic

    def arm(name: str, col: str) -> int:
        v = g.loc[g["arm"] == name, col]
        return int(v.iloc[0]) if len(v) and pd.notna(v.iloc[0]) else 0

    ns, nh = arm("send", "matured"), arm("holdout", "matured")
    cs, ch = arm("send", "converted"), arm("holdout", "converted")
    sent, units = arm("send", "sent"), arm("send", "units") + arm("holdout", "units")
    out: dict[str, Any] = {
        "rule": rule, "conversion_days": days, "units": units,
        "maturing": units - ns - nh, "send_units": ns, "holdout_units": nh,
        "sent": sent, "opened": arm("send", "opened"), "clicked": arm("send", "clicked"),
        "conversions_send": cs, "conversions_holdout": ch,
        "conversion_send": cs / ns if ns else None,
        "conversion_holdout": ch / nh if nh else None,
    }  # fmt: skip
    out["open_rate"] = out["opened"] / sent if sent else None
    out["click_rate"] = out["clicked"] / sent if sent else None
    if ns and nh:
        c = proportion_test(ProportionStatistic(n=nh, sum=ch), ProportionStatistic(n=ns, sum=cs),
                            StatsConfig())  # fmt: skip
        lo, hi = uplift_interval(cs, ns, ch, nh)
        uplift = cs / ns - ch / nh
        out.update(uplift=uplift, uplift_lo=lo, uplift_hi=hi,
                   relative_uplift=c.relative, p_value=c.p_value,
                   incremental_conversions=uplift * ns,
                   note=c.message if c.error else None)  # fmt: skip
    elif ns:
        out["note"] = "no hold-out units (a hold-out share of 0, or none matured yet)"
    else:
        out["note"] = "no matured units yet"
    return out


def uplift_interval(
    conv_send: int, n_send: int, conv_hold: int, n_hold: int, alpha: float = 0.05
) -> tuple[float, float]:
    """The interval for send minus hold-out conversion: Newcombe's hybrid score interval
    (statsmodels' ``confint_proportions_2indep(method="newcomb")``).

    Hold-outs are small by design (5-10% of a rule's audience), and a small arm often has
    no conversion at all; the Wald interval then takes that arm's variance as zero and is
    too narrow. Newcombe's interval keeps its coverage there (Newcombe 1998, Stat Med 17).

    Examples
    --------
    >>> [round(x, 4) for x in uplift_interval(56, 70, 48, 80)]  # Newcombe's example (a)
    [0.0524, 0.3339]
    >>> [round(x, 4) for x in uplift_interval(0, 10, 0, 20)]  # example (d): no conversions
    [-0.1611, 0.2775]
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    lo, hi = confint_proportions_2indep(
        conv_send, n_send, conv_hold, n_hold, method="newcomb", compare="diff", alpha=alpha
    )
    return float(lo), float(hi)


def automation_results(
    warehouse: Warehouse = None,
    *,
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    rule: str | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Per rule: units, sends, opens, clicks, conversion by arm and the uplift against the
    hold-out with its 95% interval; the last row (``rule = all``) is the
    automation-conversion KPI over every rule.

    Parameters
    ----------
    since, until
        Run dates to include (inclusive; default: every kept run).
    rule
        One rule only.
    overrides
        ``[automation]`` settings (``conversion_days=14`` for the rules without their own).

    Examples
    --------
    >>> automation_results(since="2026-11-01")  # doctest: +SKIP
    """
    settings = settings or load_settings()
    cfg = automation_config(settings, **overrides)
    rows = read_runs(cfg)
    if since is not None:
        rows = rows[rows["run_date"] >= parse_date(since).isoformat()]
    if until is not None:
        rows = rows[rows["run_date"] <= parse_date(until).isoformat()]
    if rule is not None:
        rows = rows[rows["rule"] == rule]
    if rows.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    days = _conversion_days(cfg, rows)
    with using(warehouse) as con:
        g = unit_frame(con, rows, days)
    out = [_row(r, days[r], part) for r, part in g.groupby("rule", sort=True)]
    total = g.groupby("arm", as_index=False)[["units", "matured", "converted", "sent", "opened",
                                              "clicked"]].sum()  # fmt: skip
    out.append(_row("all", cfg["conversion_days"], total) | {"conversion_days": None})
    return pd.DataFrame(out).reindex(columns=RESULT_COLUMNS)


def _conversion_days(cfg: dict[str, Any], rows: pd.DataFrame) -> dict[str, int]:
    """Each rule's conversion window: its own, else the setting (rules of the file now)."""
    from scrm_lib.social.automation.rules import load_rules

    try:
        rules = {r.name: r for r in load_rules(cfg["rules_path"], channels=cfg["channels"]).rules}
    except ScrmError:  # a rules file broken since the runs: the setting still measures
        rules = {}
    out = {}
    for name in rows["rule"].unique():
        r = rules.get(name)
        out[name] = r.conversion_days if r and r.conversion_days else cfg["conversion_days"]
    return out
