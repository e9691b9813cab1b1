"""The channels benchmark (bench/channels.py) at a small size, and its pandas peer.

The pandas peer and the plain-SQL floor are second and third implementations
of first-touch attribution and the strict funnel: on the benchmark's
synthetic warehouse their counts must equal scrm's, per channel type and for
everyone. A small hand-made journey pins the peer's strict-order rule.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import channels  # noqa: E402
import channels_data  # noqa: E402
import peer_pandas_funnel as peer  # noqa: E402

from scrm_lib.social.channels.config import DEFAULT_STEPS  # noqa: E402


@pytest.fixture(scope="module")
def bench_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return channels_data.warehouse(20_000, seed=3, cache=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def scrm_result(bench_db: Path) -> dict:
    return channels.part_scrm(bench_db, channels.Clock())


def _everyone(rows: list[dict]) -> list[dict]:
    # the peers attribute by plain first touch; scrm's tolerances (grace after the first order,
    # the acquisition window, first appearance from own activity) move persons between types,
    # so the peers are held to the whole funnel, which no attribution rule changes
    return [r for r in rows if r["group"] == "all"]


def test_pandas_peer_counts_equal_scrm(bench_db: Path, scrm_result: dict) -> None:
    got = channels.part_pandas(bench_db, channels.Clock())
    assert sum(got["acquired_by_type"].values()) == sum(scrm_result["acquired_by_type"].values())
    assert channels.compare(_everyone(scrm_result["funnel"]), _everyone(got["funnel"])) == {
        "equal": True,
        "differences": [],
    }
    # the data reaches every step, in more than one channel type
    last = [r for r in scrm_result["funnel"] if r["step_no"] == len(DEFAULT_STEPS)]
    assert sum(r["persons"] > 0 for r in last) > 3


def test_floor_sql_counts_equal_scrm(bench_db: Path, scrm_result: dict) -> None:
    got = channels.part_floor(bench_db, channels.Clock())
    assert channels.compare(_everyone(scrm_result["funnel"]), _everyone(got["funnel"]))["equal"]


def test_compare_reports_a_different_count() -> None:
    a = [{"group": "all", "step_no": 1, "persons": 10, "median_hours": None}]
    b = [{"group": "all", "step_no": 1, "persons": 9, "median_hours": None}]
    out = channels.compare(a, b)
    assert not out["equal"]
    assert out["differences"] == [{"key": ["all", 1], "scrm": 10, "other": 9}]


def test_peer_funnel_strict_order_by_hand() -> None:
    steps = [
        {"name": "scan", "events": ["qr_scan"]},
        {"name": "cart", "events": ["cart_add"]},
        {"name": "first_order", "order": 1},
    ]
    # p1: cart before the scan does not count; the cart at 50 does; first order at 80
    # p2: scan, then a cart, but the only order came before the cart
    # p3: no scan: outside the funnel
    events = pd.DataFrame(
        {
            "event_id": ["1", "2", "3", "4", "5", "6", "7"],
            "account_id": ["a1", "a1", "a1", "b1", "b1", "c1", "c1"],
            "ts": [5, 10, 50, 100, 200, 10, 20],
            "type": ["cart_add", "qr_scan", "cart_add", "qr_scan", "cart_add", "cart_add",
                     "cart_add"],
        }
    )  # fmt: skip
    orders = pd.DataFrame(
        {
            "platform": ["tmall", "tmall", "tmall"],
            "order_id": ["o1", "o2", "o3"],
            "account_id": ["a2", "b1", "c1"],
            "status": ["paid", "paid", "paid"],
            "ts": [80, 150, 30],
            "amount": [10.0, 20.0, 5.0],
            "refund": [0.0, 0.0, 0.0],
        }
    )
    pm = pd.DataFrame(
        {"account_id": ["a1", "a2", "b1", "c1"], "person_id": ["p1", "p1", "p2", "p3"]}
    )
    acq = pd.DataFrame({"person_id": ["p1", "p2", "p3"], "channel_type": ["活码", "海报", "活码"]})
    f = peer.funnel({"events": events, "orders": orders, "pm": pm}, acq, steps)
    every = f[f["group"] == "all"].set_index("step_no")
    assert every["persons"].tolist() == [2, 2, 1]
    # hours from the scan to the cart: p1 40 s, p2 100 s; median 70 s
    assert every.loc[2, "median_hours_from_previous"] == pytest.approx(70 / 3600)
    assert every.loc[3, "median_hours_from_previous"] == pytest.approx(30 / 3600)
    by_type = f[f["group"] == "活码"]["persons"].tolist()
    assert by_type == [1, 1, 1]
    assert np.isnan(every.loc[1, "median_hours_from_previous"])
