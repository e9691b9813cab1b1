"""Behaviour and value layers: loyal repeaters, one-time buyers, the long silent, and the
interactive who spend little.

Flags are not exclusive (a person can be one-time *and* long silent);
``layer`` is the first that applies in the order of :data:`LAYERS`, so every
person has exactly one for counting. Thresholds come from ``[value]``:

- 高复购忠诚 loyal: ``loyal_orders`` (4) purchases or more and a purchase in
  the last ``dormant_days`` (90) days;
- 高互动低消费 interactive, low spend: at least ``interactive_min_actions``
  (5) interactions in the 365 days up to the reference date (group joins,
  group-buy joins, shares, QR scans, messages the customer wrote, campaign
  messages they clicked) and net spend below ``interactive_max_spend``;
- 长期沉默 long silent: no purchase and no interaction for more than
  ``silent_days`` (180) days;
- 一次性购买 one-time: exactly one purchase;
- 其他 other.

Persons with interactions but no order are included (they are the point of
the interactive layer).

Example
-------
>>> from scrm_lib.value import layers
>>> layers.layers("data/warehouse/scrm.duckdb")["layer"].value_counts()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.config import Settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.value._base import (
    SECONDS_PER_DAY,
    AsOf,
    prepare,
)
from scrm_lib.value.rfm import rfm_summary_expr

#: code → (中文, English), in priority order.
LAYERS: dict[str, tuple[str, str]] = {
    "loyal": ("高复购忠诚", "High-repeat loyal"),
    "interactive_low_spend": ("高互动低消费", "Interactive, low spend"),
    "long_silent": ("长期沉默", "Long silent"),
    "one_time": ("一次性购买", "One-time buyer"),
    "other": ("其他", "Other"),
}
#: Event types that count as an interaction.
INTERACTION_EVENTS = ("group_join", "groupbuy_join", "share", "qr_scan")


def interactions_expr(con: Any, as_of: AsOf) -> ir.Table:
    """``person_id, actions, last_action`` over the 365 days up to the reference date."""
    from scrm_lib.warehouse.steps import person_map

    start = as_of.cutoff_epoch - 365 * SECONDS_PER_DAY
    tables = set(con.list_tables())
    parts = []
    if "events" in tables:
        e = con.table("events")
        e = e.filter(e.type.isin(INTERACTION_EVENTS))
        parts.append(e.select("account_id", ts=e.ts.epoch_seconds().cast("int64")))
    if "messages" in tables:
        m = con.table("messages")
        m = m.filter(m.direction == "in")
        parts.append(m.select("account_id", ts=m.ts.epoch_seconds().cast("int64")))
    if "touches" in tables:
        t = con.table("touches")
        t = t.filter(t.clicked.fill_null(False))
        parts.append(t.select("account_id", ts=t.ts.epoch_seconds().cast("int64")))
    if not parts:
        return ibis.memtable(
            {"person_id": [], "actions": [], "last_action": []},
            schema={"person_id": "string", "actions": "int64", "last_action": "int64"},
        )
    acts = ibis.union(*parts) if len(parts) > 1 else parts[0]
    acts = acts.filter(acts.ts < as_of.cutoff_epoch)
    pm = person_map(con)
    j = acts.left_join(pm, acts.account_id == pm.account_id)
    j = j.select(person_id=ibis.coalesce(j.person_id, j.account_id), ts=j.ts)
    return j.group_by("person_id").aggregate(
        actions=(j.ts >= start).sum().cast("int64"), last_action=j.ts.max()
    )


def layers_expr(con: Any, orders: ir.Table, as_of: AsOf, cfg: dict[str, Any]) -> ir.Table:
    """Per person: the four flags and the ``layer`` (first flag in :data:`LAYERS` order)."""
    s = rfm_summary_expr(orders, as_of)
    acts = interactions_expr(con, as_of)
    j = s.outer_join(acts, s.person_id == acts.person_id)
    j = j.select(
        person_id=ibis.coalesce(j.person_id, j.person_id_right),
        frequency=j.frequency.fill_null(0),
        monetary=j.monetary.fill_null(0.0),
        recency_days=j.recency_days,
        actions=j.actions.fill_null(0),
        last_action=j.last_action,
    )
    silent_since = (
        as_of.cutoff_epoch - ibis.greatest(
            ibis.coalesce(as_of.cutoff_epoch - j.recency_days * SECONDS_PER_DAY, 0),
            ibis.coalesce(j.last_action, 0),
        )
    ) // SECONDS_PER_DAY  # fmt: skip
    j = j.mutate(
        silent_days=silent_since.cast("int64"),
        is_loyal=(j.frequency >= cfg["loyal_orders"])
        & (j.recency_days.fill_null(10**9) <= cfg["dormant_days"]),
        is_interactive_low_spend=(j.actions >= cfg["interactive_min_actions"])
        & (j.monetary < cfg["interactive_max_spend"]),
        is_one_time=j.frequency == 1,
    )
    j = j.mutate(is_long_silent=j.silent_days > cfg["silent_days"])
    layer = ibis.cases(
        (j.is_loyal, "loyal"),
        (j.is_interactive_low_spend, "interactive_low_spend"),
        (j.is_long_silent, "long_silent"),
        (j.is_one_time, "one_time"),
        else_="other",
    )
    return j.mutate(layer=layer)


def layers(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Behaviour and value layers per person (buyers and interacting non-buyers).

    Returns
    -------
    pandas.DataFrame
        ``person_id, frequency, monetary, recency_days, actions, silent_days,
        is_loyal, is_interactive_low_spend, is_one_time, is_long_silent, layer,
        layer_zh, layer_en``.

    Examples
    --------
    >>> layers(as_of="2026-10-31").layer.value_counts()  # doctest: +SKIP
    """
    with using(warehouse) as con:
        _, cfg, cut, orders, excluded = prepare(con, as_of, settings, overrides)
        expr = layers_expr(con, orders, cut, cfg).drop("last_action").order_by("person_id")
        df = con.execute(expr)
    df["layer_zh"] = df["layer"].map(lambda c: LAYERS[c][0])
    df["layer_en"] = df["layer"].map(lambda c: LAYERS[c][1])
    df.attrs.update(as_of=cut.date.isoformat(), excluded_orders=excluded)
    return df


def layer_summary(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Persons and net GMV per layer, plus how many carry each (non-exclusive) flag.

    Examples
    --------
    >>> layer_summary("data/warehouse/scrm.duckdb")  # doctest: +SKIP
    """
    df = layers(warehouse, as_of=as_of, settings=settings, **overrides)
    flag = {
        "loyal": "is_loyal",
        "interactive_low_spend": "is_interactive_low_spend",
        "long_silent": "is_long_silent",
        "one_time": "is_one_time",
    }
    rows = []
    for code, (zh, en) in LAYERS.items():
        sub = df[df["layer"] == code]
        rows.append(
            {
                "layer": code,
                "zh": zh,
                "en": en,
                "persons": len(sub),
                "gmv": float(sub["monetary"].sum()),
                "flagged": int(df[flag[code]].sum()) if code in flag else len(sub),
            }
        )
    out = pd.DataFrame(rows)
    out.attrs["as_of"] = df.attrs["as_of"]
    return out
