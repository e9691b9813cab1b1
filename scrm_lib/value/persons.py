"""The person value mart: one row per person with everything a segment can filter on.

``value_persons`` holds RFM (scores, segment), the behaviour layer, the
lifecycle stage, the main platform and acquisition channel, and the CLV
model's P(alive), expected purchases and CLV, all as of one reference date
(the day of the latest order). The build step writes it into each new
warehouse (registered in :mod:`scrm_lib.warehouse.steps` after identity); when a
warehouse has no such table (built before this step existed), readers
compute the same frame on the fly with :func:`person_value_frame`.

Example
-------
>>> from scrm_lib.value.persons import person_value_frame
>>> person_value_frame(con).head()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import Any

import ibis
import pandas as pd

from scrm_lib.config import Settings, load_settings
from scrm_lib.schema import MARTS
from scrm_lib.value._base import (
    ValueDataError,
    check_orders,
    meta_frame,
    person_orders,
    resolve_as_of,
    value_config,
    write_mart,
)

logger = logging.getLogger(__name__)

MART = "value_persons"
META = "value_meta"

#: Columns of the mart and their meaning, as declared in :data:`scrm_lib.schema.MARTS`.
COLUMNS: dict[str, str] = MARTS[MART].columns
#: ``df`` with exactly the mart's columns and types (so an empty mart is typed too).
typed = MARTS[MART].typed


def person_value_frame(
    con: Any, *, as_of: Any = None, settings: Settings | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The mart's rows for ``con`` (RFM, layer, stage, platform, channel, CLV) and its metadata.

    A person holding an account-key hub (``identity_hubs`` scope ``account_key``)
    has no row: it stands for many buyers, not a customer.
    """
    from scrm_lib.identity.account_hubs import unattributed_accounts
    from scrm_lib.value.clv import clv
    from scrm_lib.value.layers import layers_expr
    from scrm_lib.value.lifecycle import stages_expr
    from scrm_lib.value.rfm import rfm_expr
    from scrm_lib.warehouse.steps import person_map

    settings = settings or load_settings()
    cfg = value_config(settings)
    cut = resolve_as_of(con, as_of, settings.timezone)
    # a build must not fail on a few absurd rows: leave them out and record how many
    cfg_build = {**cfg, "bad_orders": "exclude"}
    # read by the check and by the RFM, layer, stage and platform parts of the one query
    # below: kept once, the orders' plan is no longer compiled into both queries
    with person_orders(con, cfg=cfg_build).cache() as counted:
        orders, excluded = check_orders(counted, cfg=cfg_build, as_of=cut)
        r = rfm_expr(orders, cut, cfg).select(
            "person_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
            rfm_segment="segment",
        )  # fmt: skip
        lay = layers_expr(con, orders, cut, cfg).select("person_id", "layer", "actions")
        st = stages_expr(orders, cut, cfg).select("person_id", "stage")
        o = orders.filter(orders.ts < cut.cutoff_epoch)
        plat = o.group_by(["person_id", "platform"]).aggregate(n=o.count())
        top = plat.mutate(
            k=ibis.row_number().over(
                group_by=plat.person_id, order_by=[ibis.desc(plat.n), plat.platform]
            )
        )
        top = top.filter(top.k == 0).select("person_id", "platform")
        pm = person_map(con)
        acc = con.table("accounts")
        pa = pm.inner_join(acc, "account_id")
        has_channel = pa.channel_code.notnull() & (pa.channel_code != "")
        ch = pa.group_by("person_id").aggregate(
            channel=pa.channel_code.min(where=has_channel), account_platform=pa.platform.min()
        )
        j = lay.left_join(r, "person_id").select(
            lay.person_id, *[r[c] for c in r.columns if c != "person_id"], lay.layer, lay.actions
        )
        j = j.left_join(st, "person_id").drop("person_id_right")
        j = j.left_join(top, "person_id").drop("person_id_right")
        j = j.left_join(ch, "person_id").drop("person_id_right")
        hubs = unattributed_accounts(con)
        if hubs is not None:
            # a person holding an account-key hub (a counter phone: many buyers) is no
            # customer; its orders went to their recipients, the rest are nobody's
            j = j.anti_join(pm.semi_join(hubs, "account_id").select("person_id"), "person_id")
        df = con.execute(j.order_by("person_id"))
    # persons who never bought: the platform of their accounts
    df["platform"] = df["platform"].fillna(df["account_platform"])
    df["stage"] = df["stage"].fillna("prospect")  # interacting, never bought
    df["rfm_segment"] = df["rfm_segment"].fillna("none")
    meta: dict[str, Any] = {"as_of": cut.date.isoformat(), "excluded_orders": excluded}
    try:
        c = clv(con, as_of=cut.date, settings=settings, bad_orders="exclude")
        df = df.merge(
            c[["person_id", "p_alive", "expected_purchases", "clv"]], on="person_id", how="left"
        )
        meta.update(bgnbd=c.attrs.get("bgnbd"), gamma_gamma=c.attrs.get("gamma_gamma"))
    except (ValueDataError, ValueError) as exc:
        logger.warning("value: no CLV model on this warehouse (%s)", exc)
        for col in ("p_alive", "expected_purchases", "clv"):
            df[col] = float("nan")
        meta["clv_error"] = str(exc)
    df["frequency"] = df["frequency"].fillna(0).astype("int64")
    df["monetary"] = df["monetary"].fillna(0.0)
    return typed(df), meta


def run(ctx: Any) -> dict[str, int]:
    """Build step: write ``value_persons`` and ``value_meta`` into the warehouse being built."""
    con = ctx.con
    try:
        df, meta = person_value_frame(con, settings=ctx.settings)
    except ValueDataError as exc:
        # an empty warehouse is valid: the mart is empty and says why
        logger.warning("value: %s", exc)
        df = typed(pd.DataFrame())
        meta = {"error": str(exc)}
    meta["build_id"] = ctx.build_id
    write_mart(con, MART, df)
    write_mart(con, META, meta_frame(meta))
    return {MART: len(df)}
