"""Lifecycle stages, the repurchase window, replenishment cycles and layers: answers by hand."""

from __future__ import annotations

from scrm_lib.value import layers as Y
from scrm_lib.value import lifecycle as L

from .conftest import order, put

AS_OF = "2026-06-30"


def noon(day: str) -> str:
    return f"{day} 04:00:00+00"  # 12:00 in Shanghai


def accounts(names):
    return [{"account_id": f"t:{n}", "platform": "tmall"} for n in names]


def buys(name: str, *days: str, amount: float = 50.0, category: str | None = None):
    return [
        order(f"t:{name}", f"{name}{i}", noon(d), amount, category=category)
        for i, d in enumerate(days)
    ]


STAGE_ORDERS = [
    *buys("N", "2026-06-20"),  # 10 days old, one purchase: new
    *buys("G", "2026-03-01", "2026-06-01"),  # 2 purchases, 29 days ago: growing
    *buys("M", "2026-01-10", "2026-02-10", "2026-03-10", "2026-06-10"),  # 4: mature
    *buys("D", "2026-01-01", "2026-03-01"),  # 121 days silent: dormant
    *buys("L", "2025-12-01"),  # 211 days silent: lost
    *buys("X", "2026-06-17"),  # window day 13: not yet
    *buys("W", "2026-06-16"),  # window day 14: in
    *buys("Y", "2026-06-10"),  # window day 20: in
    *buys("Z", "2026-06-09"),  # window day 21: out (growing: 1 purchase, older than 30? no: new)
]


def test_stages(duck, settings):
    put(duck, "accounts", accounts("NGMDLXWYZ"))
    put(duck, "orders", STAGE_ORDERS)
    df = L.stages(duck, as_of=AS_OF, settings=settings).set_index("person_id")
    got = {p.removeprefix("t:"): s for p, s in df["stage"].items()}
    assert got == {
        "N": "new", "G": "growing", "M": "mature", "D": "dormant", "L": "lost",
        "X": "new", "W": "new", "Y": "new", "Z": "new",
    }  # fmt: skip
    assert df.loc["t:D", "stage_zh"] == "沉睡"
    # rules are configuration: with new_days = 5, N (10 days) is growing
    df = L.stages(duck, as_of=AS_OF, settings=settings, new_days=5).set_index("person_id")
    assert df.loc["t:N", "stage"] == "growing"
    summary = L.stage_summary(duck, as_of=AS_OF, settings=settings).set_index("stage")
    assert summary["persons"].tolist() == [5, 1, 1, 1, 1]


def test_repurchase_window(duck, settings):
    put(duck, "accounts", accounts("NGMDLXWYZ"))
    put(duck, "orders", STAGE_ORDERS)
    df = L.repurchase_window(duck, as_of=AS_OF, settings=settings)
    assert df["person_id"].tolist() == ["t:W", "t:Y"]
    assert df["first_age_days"].tolist() == [14, 20]


def test_replenishment_cycles_and_due(duck, settings):
    rows = [
        *buys("P1", "2026-01-01", "2026-01-11", "2026-01-31", category="coffee"),
        # a second line on the same day is the same purchase day
        order("t:P1", "P1x", noon("2026-01-11"), 20, category="coffee"),
        *buys("P2", "2026-02-01", "2026-02-16", category="coffee"),
        *buys("P3", "2026-02-25", category="coffee"),
        order("t:P1", "tea1", noon("2026-01-01"), 20, category="tea"),
        order("t:P1", "tea2", noon("2026-02-01"), 20, category="tea"),
        order("t:P2", "nocat", noon("2026-02-02"), 20),
    ]
    put(duck, "accounts", accounts(["P1", "P2", "P3"]))
    put(duck, "orders", rows)
    cycles = L.replenishment_cycles(duck, as_of="2026-02-28", settings=settings)
    # coffee gaps: P1 10 and 20 days, P2 15 days: median 15 over 3 intervals, 2 persons
    assert cycles.to_dict("records") == [
        {"category": "coffee", "cycle_days": 15.0, "intervals": 3, "persons": 2}
    ]
    assert cycles.attrs["too_few"] == ["tea"] and cycles.attrs["lines_without_category"] == 1
    due = L.due_for_replenishment(duck, as_of="2026-02-28", settings=settings)
    # P1: 28 days since 01-31 (13 overdue); P2: 12 days since 02-16 (due within the 3-day slack)
    assert due[["person_id", "days_since", "days_overdue"]].values.tolist() == [
        ["t:P1", 28, 13.0],
        ["t:P2", 12, -3.0],
    ]


def test_layers(duck, settings):
    put(duck, "accounts", accounts(["loyal", "once", "quiet", "chatty", "plain"]))
    put(
        duck,
        "orders",
        [
            *buys("loyal", "2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01"),
            *buys("once", "2026-06-01"),
            *buys("quiet", "2025-10-01", "2025-11-01"),
            *buys("chatty", "2026-05-01", amount=30.0),
            *buys("plain", "2026-05-01", "2026-06-01"),
        ],
    )
    events = [
        {"event_id": f"e{i}", "account_id": "t:chatty", "ts": noon("2026-06-0" + str(i + 1)),
         "type": "group_join"}
        for i in range(5)
    ] + [{"event_id": "pv", "account_id": "t:ghost", "ts": noon("2026-06-01"),
          "type": "page_view"}]  # fmt: skip
    put(duck, "events", events)
    df = Y.layers(duck, as_of=AS_OF, settings=settings).set_index("person_id")
    got = {p.removeprefix("t:"): v for p, v in df["layer"].items()}
    assert got == {
        "loyal": "loyal",
        "once": "one_time",
        "quiet": "long_silent",
        "chatty": "interactive_low_spend",
        "plain": "other",
    }
    assert df.loc["t:chatty", "actions"] == 5 and df.loc["t:chatty", "is_one_time"]
    assert df.loc["t:quiet", "silent_days"] == 241
    summary = Y.layer_summary(duck, as_of=AS_OF, settings=settings).set_index("layer")
    assert summary.loc["one_time", "flagged"] == 2  # once and chatty
    assert summary["persons"].sum() == 5
