"""Results against the hold-out, checked against numbers computed apart from scrm:
conversions counted by hand from the orders written here, the uplift's interval and
p-value from statsmodels (Wald interval of a difference, pooled z-test)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from scrm_lib.config import load_settings
from scrm_lib.engine import duckdb_connect, register_arrow
from scrm_lib.schema import MARTS
from scrm_lib.social.automation.outbox import _write
from scrm_lib.social.automation.results import automation_results, uplift_interval
from tests.value.conftest import order, put

PLANNED = pd.Timestamp("2026-11-02 10:00", tz="Asia/Shanghai").tz_convert("UTC")
DAY = pd.Timedelta(days=1)


def _outbox_rows() -> pd.DataFrame:
    """60 units of one rule: 40 sent (12 convert), 20 held out (3 convert); plus 5 units
    planned too late to judge (their 7 days end after the last order)."""
    rows = []
    for i in range(65):
        late = i >= 60
        rows.append({
            "run_date": "2026-11-02" if not late else "2026-12-20", "run_id": "r",
            "row_id": f"x{i}", "rule": "nudge", "title": "nudge", "kind": "marketing",
            "priority": 1, "template": "T", "campaign": "auto:nudge:2026-11-02",
            "person_id": f"U{i}", "channel": "wecom_1v1", "platform": "wecom",
            "account_id": f"wecom:u{i}", "arm": "send" if i < 40 or i >= 60 else "holdout",
            "send": i < 40, "status": "planned", "evidence": "",
            "planned_at": PLANNED if not late else PLANNED + 48 * DAY,
            "due_at": PLANNED, "rules_version": "1", "build_id": None,
        })  # fmt: skip
    # a suppressed row is no unit
    rows.append(rows[0] | {"row_id": "s", "person_id": "U99", "status": "suppressed",
                           "reason": "frequency_cap", "send": False})  # fmt: skip
    return MARTS["automation_outbox"].typed(pd.DataFrame(rows))


def _warehouse():
    con = duckdb_connect()
    accs = [f"wecom:u{i}" for i in range(65)]
    put(con, "accounts", [{"account_id": a, "platform": "wecom", "native_id": a[6:],
                           "first_seen": "2026-01-01T00:00:00Z"} for a in accs])  # fmt: skip
    ts = lambda d: (PLANNED + d).isoformat()  # noqa: E731
    orders = []
    for i in range(12):  # sent, converted on day 2
        orders.append(order(f"wecom:u{i}", f"o{i}", ts(2 * DAY), 50.0))
    for i in range(40, 43):  # held out, converted on day 6
        orders.append(order(f"wecom:u{i}", f"o{i}", ts(6 * DAY), 50.0))
    orders += [
        order("wecom:u20", "late", ts(8 * DAY), 50.0),  # after 7 days: not a conversion
        order("wecom:u21", "before", ts(-DAY), 50.0),  # before the send
        order("wecom:u22", "refund", ts(DAY), 50.0, refund=50.0, status="refunded"),
        order("wecom:u44", "last", ts(30 * DAY), 10.0),  # the warehouse's latest order
    ]
    put(con, "orders", orders)
    put(con, "touches", [
        {"touch_id": f"t{i}", "account_id": f"wecom:u{i}", "ts": ts(pd.Timedelta(0)),
         "channel": "wecom_1v1", "campaign": "auto:nudge:2026-11-02", "opened": i < 20,
         "clicked": i < 5} for i in range(36)  # the tool sent 36 of the 40
    ])  # fmt: skip
    pm = pd.DataFrame({"account_id": accs, "person_id": [f"U{i}" for i in range(65)]})
    register_arrow(con, "person_accounts", pa.Table.from_pandas(pm, preserve_index=False))
    return con


@pytest.fixture
def results(tmp_path):
    settings = load_settings(tmp_path)
    _write(settings.state_db.parent / "automation" / "outbox" / "2026-11-02.parquet",
           _outbox_rows())  # fmt: skip
    con = _warehouse()
    try:
        yield automation_results(con, settings=settings).set_index("rule")
    finally:
        con.disconnect()


def test_counts_by_hand(results):
    r = results.loc["nudge"]
    assert (r["units"], r["send_units"], r["holdout_units"], r["maturing"]) == (65, 40, 20, 5)
    assert (r["conversions_send"], r["conversions_holdout"]) == (12, 3)
    assert (r["sent"], r["opened"], r["clicked"]) == (36, 20, 5)
    assert r["open_rate"] == pytest.approx(20 / 36)
    assert r["conversion_send"] == pytest.approx(0.3)
    assert r["conversion_holdout"] == pytest.approx(0.15)


def test_uplift_interval_and_p_value_match_statsmodels(results):
    r = results.loc["nudge"]
    lo, hi = confint_proportions_2indep(12, 40, 3, 20, method="newcomb", compare="diff")
    _, p = proportions_ztest([12, 3], [40, 20])
    assert r["uplift"] == pytest.approx(0.15)
    assert (r["uplift_lo"], r["uplift_hi"]) == (pytest.approx(lo), pytest.approx(hi))
    assert r["p_value"] == pytest.approx(p)
    assert r["relative_uplift"] == pytest.approx(0.3 / 0.15 - 1)
    assert r["incremental_conversions"] == pytest.approx(0.15 * 40)


def test_a_hold_out_without_conversions_keeps_a_score_interval():
    """0 of 39 held out converted, 6 of 400 sent: the Wald interval takes the hold-out's
    variance as zero and excludes 0; the score interval does not (Newcombe 1998)."""
    lo, hi = uplift_interval(6, 400, 0, 39)
    wald = confint_proportions_2indep(6, 400, 0, 39, method="wald", compare="diff")
    assert wald[0] > 0
    assert lo < 0 < hi
    assert (lo, hi) == tuple(
        pytest.approx(x)
        for x in confint_proportions_2indep(6, 400, 0, 39, method="newcomb", compare="diff")
    )


def test_the_kpi_row_sums_every_rule(results):
    assert results.index[-1] == "all"
    kpi = results.loc["all"]
    assert kpi["conversion_send"] == pytest.approx(12 / 40)
    assert kpi["send_units"] == 40
