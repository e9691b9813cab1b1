"""RFM, segments, migration and concentration on a hand-made case with answers worked by hand.

As of 2026-01-31 (Asia/Shanghai), five persons:

| person | counted purchases (net)                          | R days | F | M    |
|--------|--------------------------------------------------|--------|---|------|
| A      | 01-10 300, 01-20 200 (two lines 120+80), 01-30 100 | 1    | 3 | 600  |
| B      | 01-31 50 (10:00 local)                           | 0      | 1 | 50   |
| C      | 2025-12-01 1000; 01-25 80 fully refunded         | 61     | 1 | 1000 |
| D      | 2025-11-01 70 fully refunded (no purchase)       | 91     | 0 | 0    |
| E      | 2025-10-01 20, 2025-10-02 20 with 5 refunded     | 121    | 2 | 35   |

Not counted: B's cancelled order, B's order at 00:30 local on 02-01, A's order in February.
Scores = 1 + floor(5 * (min rank) / 5): F ranks D0 B1 C1 E3 A4 (B and C tie),
recency ranks from the longest silence E0 D1 C2 A3 B4, monetary D0 E1 B2 A3 C4.
"""

from __future__ import annotations

import pandas as pd
import pytest

from scrm_lib.value import rfm as R
from scrm_lib.value._base import ValueDataError

from .conftest import order, put

AS_OF = "2026-01-31"

ORDERS = [
    order("t:A", "a1", "2026-01-10 04:00:00+00", 300),
    order("t:A", "a2", "2026-01-20 04:00:00+00", 120, line="1"),
    order("t:A", "a2", "2026-01-20 04:00:00+00", 80, line="2"),
    order("t:A", "a3", "2026-01-30 04:00:00+00", 100),
    order("t:A", "a4", "2026-02-03 04:00:00+00", 999),
    order("t:B", "b1", "2026-01-31 02:00:00+00", 50),
    order("t:B", "b2", "2026-01-31 03:00:00+00", 999, status="cancelled"),
    order("t:B", "b3", "2026-01-31 16:30:00+00", 500),
    order("t:C", "c1", "2025-12-01 04:00:00+00", 1000),
    order("t:C", "c2", "2026-01-25 04:00:00+00", 80, refund=80, status="refunded"),
    order("t:D", "d1", "2025-11-01 04:00:00+00", 70, refund=70, status="refunded"),
    order("t:E", "e1", "2025-10-01 04:00:00+00", 20),
    order("t:E", "e2", "2025-10-02 04:00:00+00", 20, refund=5),
]
ACCOUNTS = [{"account_id": f"t:{p}", "platform": "tmall"} for p in "ABCDE"]

EXPECTED = pd.DataFrame(
    {
        "person_id": [f"t:{p}" for p in "ABCDE"],
        "recency_days": [1, 0, 61, 91, 121],
        "frequency": [3, 1, 1, 0, 2],
        "monetary": [600.0, 50.0, 1000.0, 0.0, 35.0],
        "r_score": [4, 5, 3, 2, 1],
        "f_score": [5, 2, 2, 1, 4],
        "m_score": [4, 3, 5, 1, 2],
        "segment": ["champions", "important_develop", "important_develop", "lost", "general_keep"],
    }
)


def load(con, orders=ORDERS, accounts=ACCOUNTS):
    put(con, "accounts", accounts)
    put(con, "orders", orders)
    return con


def test_known_answer_on_each_engine(backend, settings):
    df = R.rfm(load(backend), as_of=AS_OF, settings=settings)
    got = df[EXPECTED.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, EXPECTED, check_dtype=False)
    assert df.loc[0, "segment_zh"] == "重要价值客户" and df.loc[3, "segment_en"] == "Lost"
    assert df.loc[0, "rfm_code"] == "454"
    assert df.loc[3, "last_purchase"] is pd.NaT or pd.isna(df.loc[3, "last_purchase"])
    assert df.attrs == {"as_of": AS_OF, "excluded_orders": 0}


def test_cutoffs_are_configuration(duck, settings):
    # with "high" = 4, C (R3 F2 M5) is low R, low F, high M: important to win back
    df = R.rfm(load(duck), as_of=AS_OF, settings=settings, r_high=4).set_index("person_id")
    assert df.loc["t:C", "segment"] == "important_win_back"
    assert df.loc["t:B", "segment"] == "important_develop"


def test_ties_share_a_score_whatever_the_row_order(duck, settings):
    twins = [order(f"t:{p}", f"{p}1", "2026-01-20 04:00:00+00", 10) for p in "XYZ"]
    accounts = [{"account_id": f"t:{p}", "platform": "tmall"} for p in "XYZ"]
    df = R.rfm(load(duck, twins[::-1], accounts), as_of=AS_OF, settings=settings)
    assert (df[["r_score", "f_score", "m_score"]] == 1).all().all()


def test_persons_come_from_the_identity_step(duck, settings):
    load(duck)
    put_map = pd.DataFrame(
        {"account_id": [f"t:{p}" for p in "ABCDE"], "person_id": ["P1", "P1", "C", "D", "E"]}
    )
    duck.create_table("person_accounts", put_map)
    df = R.rfm(duck, as_of=AS_OF, settings=settings).set_index("person_id")
    assert df.loc["P1", ["recency_days", "frequency", "monetary"]].tolist() == [0, 4, 650.0]
    assert len(df) == 4


def test_segment_summary_and_concentration(duck, settings):
    load(duck)
    s = R.segment_summary(duck, as_of=AS_OF, settings=settings).set_index("segment")
    assert s["persons"].sum() == 5 and len(s) == 8
    assert s.loc["important_develop", "persons"] == 2
    assert s.loc["important_develop", "gmv"] == pytest.approx(1050.0)
    assert s["gmv_share"].sum() == pytest.approx(1.0)
    c = R.concentration(duck, as_of=AS_OF, settings=settings, points=4)
    # customers with spend: C 1000, A 600, B 50, E 35 (total 1685); top 10% of 4 = 1 person
    assert c.attrs["top10_share"] == pytest.approx(1000 / 1685)
    assert c["sales_share"].round(4).tolist() == [0.0, 0.5935, 0.9496, 0.9792, 1.0]


def test_migration_matrix(duck, settings):
    load(duck)
    m = R.migration(duck, before="2026-01-15", after=AS_OF, settings=settings)
    assert m.values.sum() == 5
    assert m.loc["new"].sum() == 1  # B bought first on 01-31
    assert m.loc["new", "important_develop"] == 1
    with pytest.raises(Exception, match="must be earlier"):
        R.migration(duck, before=AS_OF, after="2026-01-15", settings=settings)


def test_empty_orders_say_so(duck, settings):
    with pytest.raises(ValueDataError, match="no paid or refunded orders"):
        R.rfm(load(duck, []), settings=settings)


def test_as_of_before_every_order(duck, settings):
    with pytest.raises(ValueDataError, match="before every order"):
        R.rfm(load(duck), as_of="2020-01-01", settings=settings)


@pytest.mark.parametrize(
    "bad",
    [
        order("t:E", "neg", "2026-01-05 04:00:00+00", -20),
        order("t:E", "over", "2026-01-05 04:00:00+00", 20, refund=50),
        order("t:E", "huge", "2026-01-05 04:00:00+00", 5e7),
    ],
)
def test_bad_amounts_are_refused_or_excluded_with_a_count(duck, settings, bad):
    load(duck, [*ORDERS, bad])
    message = rf"1 of 12 orders .* \(e\.g\. order {bad['order_id']}\)"
    with pytest.raises(ValueDataError, match=message):
        R.rfm(duck, as_of=AS_OF, settings=settings)
    df = R.rfm(duck, as_of=AS_OF, settings=settings, bad_orders="exclude")
    assert df.attrs["excluded_orders"] == 1
    assert df.set_index("person_id").loc["t:E", "monetary"] == 35.0


def test_unknown_setting_is_named(duck, settings):
    with pytest.raises(Exception, match="'r_hihg' is not a setting"):
        R.rfm(load(duck), settings=settings, r_hihg=4)
