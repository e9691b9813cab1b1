"""The build's transformations: expected values on each engine, and DuckDB == Spark."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from scrm_lib.schema import KEYS, TABLES
from scrm_lib.warehouse.canonical import canonical_tables, dedupe, superseded_counts
from tests.conftest import CLUSTER_WITH_SLOW, stage_on

UTC = dt.UTC


def ts(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text, tz="UTC")


# --- a small staged sample: re-exports, duplicates, refunds, nulls, Chinese text ---------

# file 0: the older Tmall export. O2 appears twice (a duplicated line); O3 is unpaid.
ORDERS_0 = pd.DataFrame(
    {
        "platform": ["tmall"] * 4,
        "order_id": ["O1", "O2", "O2", "O3"],
        "line_id": ["", "", "", ""],
        "account_id": ["tmall:张三", "tmall:li_si", "tmall:li_si", "tmall:王五"],
        "created_at": [
            ts("2024-03-01 01:00"),
            ts("2024-03-02 02:00"),
            ts("2024-03-02 02:00"),
            ts("2024-03-03 03:00"),
        ],
        "paid_at": [ts("2024-03-01 01:05"), ts("2024-03-02 02:05"), ts("2024-03-02 02:05"), None],
        "amount": [199.90, 0.10, 0.10, 88.00],
        "status": ["paid", "paid", "paid", "pending"],
        "items": ["保湿面霜 50ml", "试用装", "试用装", None],
        "quantity": [1, 1, 1, 2],
        "source_file": ["tmall_0301.csv"] * 4,
        "source_line": [2, 3, 4, 5],
    }
)
# file 1: an overlapping re-export. O2 was refunded since; O4 is new.
ORDERS_1 = pd.DataFrame(
    {
        "platform": ["tmall", "tmall"],
        "order_id": ["O2", "O4"],
        "line_id": ["", ""],
        "account_id": ["tmall:li_si", "tmall:张三"],
        "created_at": [ts("2024-03-02 02:00"), ts("2024-02-20 09:00")],
        "paid_at": [ts("2024-03-02 02:05"), ts("2024-02-20 09:01")],
        "amount": [0.10, 1234.56],
        "refund_amount": [0.10, None],
        "status": ["refunded", "paid"],
        "items": ["试用装", "礼盒 🎁"],
        "quantity": [1, 1],
        "source_file": ["tmall_0310.csv"] * 2,
        "source_line": [2, 3],
    }
)
# file 3: a Douyin export, one row per sub-order: same order id, two lines.
ORDERS_3 = pd.DataFrame(
    {
        "platform": ["douyin", "douyin"],
        "order_id": ["D9", "D9"],
        "line_id": ["D9-1", "D9-2"],
        "account_id": ["douyin:d1a2b3", "douyin:d1a2b3"],
        "created_at": [ts("2024-03-05 12:00")] * 2,
        "paid_at": [ts("2024-03-05 12:01")] * 2,
        "amount": [59.00, 0.01],
        "status": ["paid", "paid"],
        "items": ["口红 #01", "赠品"],
        "source_file": ["douyin.xlsx"] * 2,
    }
)
# file 2: WeCom contacts. 张三's hint is later than his first order; a contact
# with a channel code and no activity at all.
ACCOUNTS_2 = pd.DataFrame(
    {
        "account_id": ["tmall:张三", "wecom:wmABC", "wecom:wmABC"],
        "display_name": ["张三（VIP）", "小红", None],
        "first_seen": [ts("2024-03-10"), ts("2024-01-05 08:00"), ts("2024-01-01 00:00")],
        "channel_code": [None, "qr_poster_07", "qr_live_01"],
        "source_file": ["wecom.json"] * 3,
    }
)
# file 4: a later WeCom export: 小红 renamed; a row without a name must not erase one.
ACCOUNTS_4 = pd.DataFrame(
    {
        "account_id": ["wecom:wmABC", "tmall:张三"],
        "display_name": ["小红 Hong", None],
        "first_seen": [None, None],
        "channel_code": ["qr_late", None],
        "source_file": ["wecom_2.json"] * 2,
    }
)
EVENTS_2 = pd.DataFrame(
    {
        "event_id": ["e1", "e2", "e1"],  # e1 twice in the same file
        "account_id": ["wecom:wmABC", "wechat:oX1", "wecom:wmABC"],
        "ts": [ts("2024-01-03 00:00"), ts("2024-02-01 00:00"), ts("2024-01-03 00:00")],
        "type": ["qr_scan", "page_view", "qr_scan"],
        "attributes": ['{"scene": "海报"}', None, '{"scene": "海报"}'],
        "source_file": ["events.jsonl"] * 3,
    }
)
MESSAGES_2 = pd.DataFrame(
    {
        "message_id": ["m1", "m2"],
        "account_id": ["wecom:wmABC", "wecom:wmABC"],
        "ts": [ts("2024-01-04 10:00"), ts("2024-01-04 10:01")],
        "channel": ["wecom_private", "wecom_private"],
        "direction": ["in", "out"],
        "staff_id": [None, "s01"],
        "text": ["请问有货吗？", "有的，亲"],
        "source_file": ["chat.jsonl"] * 2,
    }
)
REFERRALS_2 = pd.DataFrame(
    {
        "inviter_account_id": ["wecom:wmABC"],
        "invitee_account_id": ["wechat:oNEW"],  # referenced nowhere else
        "ts": [ts("2024-02-14 12:00")],
        "kind": ["invite"],
        "campaign": ["情人节"],
        "source_file": ["referrals.csv"],
    }
)
SURVEYS_2 = pd.DataFrame(
    {
        "survey_id": ["R1", "R1"],
        "account_id": ["wechat:oX1", "wechat:oX1"],  # a later sighting: first_seen stays
        "ts": [ts("2024-03-01 10:00"), ts("2024-03-01 10:00")],
        "kind": ["csat", "nps"],
        "score": [5.0, 9.0],
        "staff_id": ["zhangsan", "zhangsan"],
        "channel": ["survey", "survey"],
        "source_file": ["survey_answers.csv", "survey_answers.csv"],
    }
)
IDENTIFIERS_2 = pd.DataFrame(
    {
        "account_id": ["tmall:张三", "wecom:wmABC", "youzan:13800138000"],
        "kind": ["phone_masked", "unionid", "phone"],
        "value": ["138****5678", "uABC", "+8613800138000"],
        "source_file": ["wecom.json", "wecom.json", "youzan.csv"],
    }
)
TOUCHES_2 = pd.DataFrame(
    {
        "touch_id": ["t1"],
        "account_id": ["wechat:oX1"],
        "ts": [ts("2024-01-20 00:00")],
        "channel": ["sms"],
        "campaign": ["春节"],
        "opened": [True],
        "clicked": [None],
        "source_file": ["touches.csv"],
    }
)
CONSENT_2 = pd.DataFrame(
    {
        "account_id": ["wechat:oX1", "wechat:oX1"],
        "channel": ["sms", "sms"],
        "granted": [True, False],
        "ts": [ts("2024-01-10 00:00"), ts("2024-02-10 00:00")],
        "source_file": ["consent.csv"] * 2,
    }
)

SAMPLE: dict[str, list[tuple[int, pd.DataFrame]]] = {
    # file 5 loads ORDERS_1 a second time (same file dropped in twice)
    "orders": [(0, ORDERS_0), (1, ORDERS_1), (3, ORDERS_3), (5, ORDERS_1)],
    "accounts": [(2, ACCOUNTS_2), (4, ACCOUNTS_4)],
    "events": [(2, EVENTS_2)],
    "messages": [(2, MESSAGES_2)],
    "referrals": [(2, REFERRALS_2)],
    "identifiers": [(2, IDENTIFIERS_2)],
    "touches": [(2, TOUCHES_2)],
    "consent": [(2, CONSENT_2)],
    "channels": [],
    "assignments": [],
    "staff": [],
    "surveys": [(2, SURVEYS_2)],
}


def staged_on(con: Any) -> dict[str, Any]:
    return {name: stage_on(con, name, frames) for name, frames in SAMPLE.items()}


def rows(con: Any, expr: Any, key: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows as plain dicts, sorted by key, with engine differences normalized.

    Timestamps -> UTC microseconds; decimals -> Decimal with 2 places; so a
    value that differs between engines shows up as a difference, and a mere
    representation difference does not.
    """
    data: pa.Table = con.to_pyarrow(expr)
    columns = {}
    for name in data.column_names:
        col = data[name]
        if pa.types.is_timestamp(col.type):
            if col.type.tz is None:  # a naive timestamp from Spark is UTC (session zone)
                col = pc.assume_timezone(col, "UTC")
            col = col.cast(pa.timestamp("us", tz="UTC"))
        elif pa.types.is_decimal(col.type):
            col = col.cast(pa.decimal128(18, 2))
        columns[name] = col
    out = pa.table(columns).to_pylist()
    return sorted(out, key=lambda r: tuple((r[k] is None, str(r[k])) for k in key))


# --- expected values (both engines) --------------------------------------------------------


def test_dedupe_newest_file_wins(stage: Any, backend: Any) -> None:
    orders = rows(backend, dedupe(stage("orders", SAMPLE["orders"]), "orders"), KEYS["orders"])
    by_id = {(r["platform"], r["order_id"], r["line_id"]): r for r in orders}
    assert sorted(by_id) == [
        ("douyin", "D9", "D9-1"),
        ("douyin", "D9", "D9-2"),
        ("tmall", "O1", ""),
        ("tmall", "O2", ""),
        ("tmall", "O3", ""),
        ("tmall", "O4", ""),
    ]
    o2 = by_id[("tmall", "O2", "")]
    assert o2["status"] == "refunded"
    assert o2["refund_amount"] == Decimal("0.10")
    # the copy loaded last (file 5) is the one kept
    assert o2["source_file"] == "tmall_0310.csv"
    assert by_id[("tmall", "O3", "")]["paid_at"] is None
    assert by_id[("tmall", "O1", "")]["amount"] == Decimal("199.90")
    assert by_id[("tmall", "O4", "")]["items"] == "礼盒 🎁"
    assert by_id[("douyin", "D9", "D9-2")]["amount"] == Decimal("0.01")


def test_dedupe_within_file_keeps_later_row(stage: Any, backend: Any) -> None:
    first = pd.DataFrame(
        {"event_id": ["e1", "e1"], "account_id": ["a:1", "a:1"], "type": ["old", "new"]}
    )
    out = rows(backend, dedupe(stage("events", [(0, first)]), "events"), ("event_id",))
    assert [(r["event_id"], r["type"]) for r in out] == [("e1", "new")]


def test_loading_same_file_twice_adds_nothing(stage: Any, backend: Any) -> None:
    once = rows(backend, dedupe(stage("orders", [(0, ORDERS_0)]), "orders"), KEYS["orders"])
    twice = rows(
        backend, dedupe(stage("orders", [(0, ORDERS_0), (1, ORDERS_0)]), "orders"), KEYS["orders"]
    )
    assert len(once) == 3
    assert twice == once


def test_superseded_counts_per_file(stage: Any, backend: Any) -> None:
    staged = {
        "orders": stage("orders", SAMPLE["orders"]),
        "events": stage("events", SAMPLE["events"]),
    }
    got = rows(backend, superseded_counts(staged), ("_file_seq", "table"))
    assert [(r["_file_seq"], r["table"], r["duplicates"]) for r in got] == [
        # file 0: both O2 lines lose to the re-export
        (0, "orders", 2),
        # file 1: both rows lose to the same file loaded again as file 5
        (1, "orders", 2),
        # file 2: e1 appears twice
        (2, "events", 1),
    ]


def test_accounts_expected(backend: Any) -> None:
    out = canonical_tables(staged_on(backend))
    accounts = {r["account_id"]: r for r in rows(backend, out.tables["accounts"], ("account_id",))}
    assert sorted(accounts) == sorted(
        [
            "tmall:张三",
            "tmall:li_si",
            "tmall:王五",
            "douyin:d1a2b3",
            "wecom:wmABC",
            "wechat:oX1",
            "wechat:oNEW",
            "youzan:13800138000",
        ]
    )
    zhang = accounts["tmall:张三"]
    assert (zhang["platform"], zhang["native_id"]) == ("tmall", "张三")
    # his O4 order (20 Feb) predates the WeCom hint (10 Mar)
    assert zhang["first_seen"] == dt.datetime(2024, 2, 20, 9, 0, tzinfo=UTC)
    assert zhang["source_file"] == "tmall_0310.csv"
    # the newest export has no name for him: the older name stays
    assert zhang["display_name"] == "张三（VIP）"
    assert zhang["channel_code"] is None

    hong = accounts["wecom:wmABC"]
    # the earliest hint wins over later activity and later hints
    assert hong["first_seen"] == dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert hong["display_name"] == "小红 Hong"
    # the channel of the earliest sighting, not the newest row's
    assert hong["channel_code"] == "qr_live_01"

    # known only from a referral: first seen at the referral
    new = accounts["wechat:oNEW"]
    assert new["first_seen"] == dt.datetime(2024, 2, 14, 12, 0, tzinfo=UTC)
    assert new["source_file"] == "referrals.csv"
    assert new["display_name"] is None
    # earliest of touch (20 Jan), consent (10 Jan, 10 Feb), event (1 Feb)
    assert accounts["wechat:oX1"]["first_seen"] == dt.datetime(2024, 1, 10, tzinfo=UTC)
    # an unpaid order still counts as a sighting (created_at)
    assert accounts["tmall:王五"]["first_seen"] == dt.datetime(2024, 3, 3, 3, 0, tzinfo=UTC)
    # known only from identifiers: no time, but a row all the same
    youzan = accounts["youzan:13800138000"]
    assert youzan["first_seen"] is None
    assert (youzan["platform"], youzan["native_id"]) == ("youzan", "13800138000")


def test_output_has_canonical_schema(backend: Any) -> None:
    out = canonical_tables(staged_on(backend))
    assert list(out.tables) == list(TABLES)
    for name, expr in out.tables.items():
        assert expr.schema() == TABLES[name], name


def test_rejects_unknown_table_and_missing_columns(backend: Any) -> None:
    staged = staged_on(backend)
    with pytest.raises(ValueError, match="not a canonical table: order"):
        canonical_tables({"order": staged["orders"]})
    with pytest.raises(ValueError, match="lacks column"):
        canonical_tables({"orders": staged["orders"].drop("_row")})


# --- engine parity ---------------------------------------------------------------------------


@pytest.mark.spark
@CLUSTER_WITH_SLOW
def test_duckdb_and_spark_give_identical_tables(spark_target: Any) -> None:
    """On local[2] and on the standalone cluster (whose executors are other processes)."""
    from scrm_lib.engine import duckdb_connect, spark_backend

    duck = duckdb_connect()
    spark = spark_backend(spark_target.session)
    try:
        on_duck = canonical_tables(staged_on(duck))
        on_spark = canonical_tables(staged_on(spark))
        assert list(on_duck.tables) == list(on_spark.tables)
        for name in on_duck.tables:
            left = rows(duck, on_duck.tables[name], KEYS[name])
            right = rows(spark, on_spark.tables[name], KEYS[name])
            assert len(left) == len(right), name
            assert left == right, name
            assert on_duck.tables[name].schema() == on_spark.tables[name].schema(), name
        key = ("_file_seq", "table")
        assert rows(duck, on_duck.superseded, key) == rows(spark, on_spark.superseded, key)
        # the comparison is not vacuous
        assert len(rows(duck, on_duck.tables["accounts"], ("account_id",))) == 8
        spark_target.check_distributed()
    finally:
        duck.disconnect()


def _mart_inputs() -> dict[str, pd.DataFrame]:
    """Canonical tables of 150 persons (two accounts each, stitched) and one account-key hub."""
    import numpy as np

    from tests.churn.conftest import DAYS, START, synthetic_tables

    tables = synthetic_tables(seed=4, n_persons=150)
    # buyers stop buying at some point, so BG/NBD has dropouts to fit (finite CLV)
    orders = tables["orders"]
    buyers = orders["account_id"].unique()
    stop = np.random.default_rng(4).uniform(0.2, 1.6, len(buyers)) * DAYS
    last = dict(zip(buyers, START + pd.to_timedelta(stop, unit="D"), strict=True))
    tables["orders"] = orders[orders["created_at"] < orders["account_id"].map(last)]
    # a counter phone: its orders are nobody's, and its person gets no value row
    tables["identity_hubs"] = pd.DataFrame({"scope": ["account_key"], "account_id": ["tmall:7"]})
    return tables


def _load_marts_input(con: Any, tables: dict[str, pd.DataFrame]) -> None:
    from scrm_lib.engine import register_arrow
    from tests.value.conftest import put

    for name, df in tables.items():
        if name in TABLES:
            put(con, name, df)
        else:  # identity's tables: no canonical schema to conform to
            register_arrow(con, name, pa.Table.from_pandas(df, preserve_index=False))


def _marts(con: Any, settings: Any, cutoff: str) -> dict[str, pd.DataFrame]:
    """Every value and churn mart of ``con``, computed by the library's own functions.

    ``value_persons`` joins the expressions that ``rfm()``, ``layers()`` and
    ``stages()`` run alone, so those are not run a second time (each query costs
    Spark seconds); the features are compared whole, as scoring sees only some.
    """
    from scrm_lib.churn import scoring
    from scrm_lib.churn.features import feature_frame
    from scrm_lib.value import persons
    from scrm_lib.warehouse.steps import StepContext

    out = {"churn_features": feature_frame(con, cutoff=cutoff, settings=settings)}
    # the build steps, as the build runs them: value first, churn reads its CLV
    ctx = StepContext(con=con, settings=settings, build_id="parity")
    assert persons.run(ctx)["value_persons"] > 0
    assert scoring.run(ctx)["churn_scores"] > 0
    for mart in ("value_persons", "churn_scores"):
        out[mart] = con.execute(con.table(mart).order_by("person_id"))
    return out


# the default suite runs these marts on Spark through a whole build, on the same inputs
# (tests/test_build.py::test_value_and_churn_steps_run_on_spark_and_publish_what_duckdb_does);
# this one also compares the churn features whole, and runs on the cluster
@pytest.mark.spark
@pytest.mark.slow
def test_duckdb_and_spark_give_identical_value_and_churn_marts(
    spark_target: Any, tmp_path: Any
) -> None:
    """From the same canonical tables, the value and churn marts are the same rows on both
    engines: one set of ibis expressions runs on each, and one trained model scores both;
    Spark on local[2] and on the standalone cluster."""
    import datetime as dt

    from scrm_lib.churn.backtest import labelled
    from scrm_lib.churn.config import churn_config
    from scrm_lib.churn.model import fit_model, save_model
    from scrm_lib.config import load_settings
    from scrm_lib.engine import duckdb_connect, spark_backend
    from tests.churn.conftest import CUTOFF

    settings = load_settings(tmp_path)
    tables = _mart_inputs()
    duck = duckdb_connect()
    spark_session = spark_target.session
    spark = spark_backend(spark_session)
    before = {t.name for t in spark_session.catalog.listTables() if t.isTemporary}
    # on a few hundred rows, compiling whole-stage code costs more than it saves
    # (about half of this test's Spark time); the results do not depend on it
    codegen = spark_session.conf.get("spark.sql.codegen.wholeStage")
    spark_session.conf.set("spark.sql.codegen.wholeStage", "false")
    try:
        _load_marts_input(duck, tables)
        _load_marts_input(spark, tables)
        cfg = churn_config(settings, max_iter=30, calibration="sigmoid")
        train = pd.concat(
            [labelled(duck, dt.date(2025, m, 1), settings=settings, cfg=cfg) for m in (8, 10)]
        )
        model = fit_model(train, train["churned"], groups=train["person_id"], cfg=cfg)
        save_model(model, {"kind": "churn"}, settings=settings)

        on_duck = _marts(duck, settings, CUTOFF)
        on_spark = _marts(spark, settings, CUTOFF)
        for name, left in on_duck.items():
            right = on_spark[name]
            assert list(left.columns) == list(right.columns), name
            assert len(left) == len(right), name
            pd.testing.assert_frame_equal(
                left.reset_index(drop=True), right.reset_index(drop=True),
                check_dtype=False, rtol=1e-9, atol=1e-9, obj=name,
            )  # fmt: skip
        # the comparison is not vacuous: every mart has rows, the hub's person none
        assert all(len(df) >= 100 for df in on_duck.values())
        assert "P7" not in set(on_duck["value_persons"]["person_id"])
        scores = on_duck["churn_scores"]
        assert scores["churn_probability"].nunique() > 10 and scores["reasons"].notna().any()
        assert on_duck["value_persons"]["clv"].notna().sum() >= 100
        spark_target.check_distributed()
    finally:
        duck.disconnect()
        spark_session.conf.set("spark.sql.codegen.wholeStage", codegen)
        # the session is shared: no later Spark test may find these tables
        mine = {*tables, "value_persons", "value_meta", "churn_scores", "churn_meta"}
        for t in spark_session.catalog.listTables():
            if t.isTemporary and (t.name not in before or t.name in mine):
                spark_session.catalog.dropTempView(t.name)
