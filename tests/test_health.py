"""Data-health functions on a hand-made warehouse, with every expected number worked out by hand."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from scrm_lib.errors import WarehouseError
from scrm_lib.warehouse import health

DDL = """
CREATE TABLE builds (build_id VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    library_version VARCHAR, status VARCHAR, timings VARCHAR, engine VARCHAR);
INSERT INTO builds VALUES
 ('b1', '2026-10-01 10:00:00+00', '2026-10-01 10:05:00+00', '0.0.9', 'ok', '{}', 'duckdb'),
 ('b2', '2026-11-01 11:50:00+00', '2026-11-01 12:00:00+00', '0.1.0', 'ok', '{}', 'duckdb');
CREATE TABLE build_inputs (build_id VARCHAR, file VARCHAR, format VARCHAR, platform VARCHAR,
    sha256 VARCHAR, rows_in BIGINT, accepted BIGINT, rejected BIGINT, duplicates BIGINT);
INSERT INTO build_inputs VALUES
 ('b1', 'old.csv', 'tmall_orders', 'tmall', 'x', 5, 5, 0, 0),
 ('b2', 'tmall_1.csv', 'tmall_orders', 'tmall', 'a', 10, 8, 2, 1),
 ('b2', 'tmall_2.csv', 'tmall_orders', 'tmall', 'b', 4, 4, 0, 3),
 ('b2', 'youzan.csv', 'youzan_orders', 'youzan', 'c', 5, 5, 0, 0),
 ('b2', 'wx_events.jsonl', 'wechat_events', 'wechat', 'd', 7, 6, 1, 2),
 ('b2', 'channels.csv', 'channels', '', 'e', 3, 3, 0, 0);
CREATE TABLE rejects (file VARCHAR, line BIGINT, "column" VARCHAR, reason VARCHAR,
    raw_value VARCHAR);
INSERT INTO rejects VALUES
 ('tmall_1.csv', 7, 'paid_at', 'bad timestamp', '昨天'),
 ('tmall_1.csv', 3, 'paid_at', 'bad timestamp', '2026-13-01'),
 ('tmall_1.csv', 5, 'amount', 'bad amount', 'abc'),
 ('wx_events.jsonl', 2, 'ts', 'bad timestamp', 'x');
CREATE TABLE accounts (account_id VARCHAR, platform VARCHAR, first_seen TIMESTAMPTZ);
INSERT INTO accounts VALUES
 ('tmall:1', 'tmall', '2026-01-01 00:00:00+00'),
 ('wechat:a', 'wechat', '2026-02-01 00:00:00+00');
CREATE TABLE orders (platform VARCHAR, order_id VARCHAR, account_id VARCHAR,
    created_at TIMESTAMPTZ, paid_at TIMESTAMPTZ);
INSERT INTO orders VALUES
 -- 17:00 UTC on 31 Jan is 01:00 on 1 Feb in Shanghai: a February order
 ('tmall', 'o1', 'tmall:1', '2026-01-31 17:00:00+00', NULL),
 -- 15:00 UTC is 23:00 in Shanghai: still January
 ('tmall', 'o2', 'tmall:1', '2026-01-31 15:00:00+00', '2026-01-31 15:01:00+00'),
 ('youzan', 'o3', 'youzan:9', '2026-03-10 02:00:00+00', '2026-03-10 02:00:00+00');
CREATE TABLE events (event_id VARCHAR, account_id VARCHAR, ts TIMESTAMPTZ, type VARCHAR);
INSERT INTO events VALUES
 ('e1', 'wechat:a', '2026-02-28 16:30:00+00', 'page_view'),   -- 1 March in Shanghai
 ('e2', 'wechat:b', '2026-02-10 08:00:00+00', 'page_view');   -- no account: prefix says wechat
"""


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "scrm.duckdb"
    con = duckdb.connect(str(path))
    con.execute(DDL)
    con.close()
    return path


def test_build_log_written_with_version_column(tmp_path):
    # the build may name the library version column `version`
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE builds (build_id VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, "
        "version VARCHAR); INSERT INTO builds VALUES "
        "('b9', '2026-11-01 00:00:00+00', '2026-11-01 00:01:00+00', '0.2.0')"
    )
    con.close()
    df = health.build_read(path)
    assert (df.build_id.iloc[0], df.library_version.iloc[0]) == ("b9", "0.2.0")
    assert df.engine.isna().all()


def test_build_read_is_the_last_finished_build(warehouse):
    df = health.build_read(warehouse)
    assert df.build_id.tolist() == ["b2"]
    assert df.library_version.iloc[0] == "0.1.0"
    assert health.last_build(warehouse)["build_id"] == "b2"
    assert health.last_build(warehouse)["finished_at"].startswith("2026-11-01T12:00:00")


def test_inputs_per_file_for_the_last_build_only(warehouse):
    df = health.inputs(warehouse).set_index("file")
    assert sorted(df.index) == [
        "channels.csv",
        "tmall_1.csv",
        "tmall_2.csv",
        "wx_events.jsonl",
        "youzan.csv",
    ]
    assert df.loc["channels.csv", "platform"] == "(none)"
    assert df.loc["tmall_1.csv", ["rows_in", "accepted", "rejected", "duplicates"]].tolist() == [
        10,
        8,
        2,
        1,
    ]
    assert df.loc["tmall_1.csv", "reject_rate"] == pytest.approx(0.2)
    assert df.loc["wx_events.jsonl", "platform"] == "wechat"


def test_inputs_per_platform(warehouse):
    df = health.inputs(warehouse, by="platform").set_index("platform")
    assert df.loc["tmall", ["files", "rows_in", "accepted", "rejected", "duplicates"]].tolist() == [
        2,
        14,
        12,
        2,
        4,
    ]
    assert df.loc["youzan", "reject_rate"] == 0
    assert df.loc["(none)", "rows_in"] == 3
    # an older build's inputs are not counted
    assert health.inputs(warehouse, by="platform", build_id="b1").rows_in.tolist() == [5]


def test_rejects_by_reason_with_examples_in_file_line_order(warehouse):
    df = health.rejects_by_reason(warehouse, max_examples=2)
    assert df.reason.tolist() == ["bad timestamp", "bad amount"]
    top = df.iloc[0]
    assert (top.rows, top.files) == (3, 2)
    assert top.columns == ["paid_at", "ts"]
    assert top.example_values == ["2026-13-01", "昨天"]
    assert top.example_lines == ["tmall_1.csv:3", "tmall_1.csv:7"]
    assert health.rejects_by_reason(warehouse, max_examples=5).example_lines.iloc[0][-1] == (
        "wx_events.jsonl:2"
    )


def test_rejects_rows_in_file_line_order(warehouse):
    df = health.rejects(warehouse)
    assert df.line.tolist() == [3, 5, 7, 2]
    assert df.columns.tolist() == ["file", "line", "column", "reason", "raw_value"]
    only = health.rejects(warehouse, reason="bad timestamp", limit=2)
    assert only.raw_value.tolist() == ["2026-13-01", "昨天"]


def test_coverage_counts_shanghai_calendar_months(warehouse):
    df = health.coverage(warehouse)
    got = {(r.platform, r.month.isoformat()): (r.orders, r.events) for r in df.itertuples()}
    assert got == {
        ("tmall", "2026-01-01"): (1, 0),
        ("tmall", "2026-02-01"): (1, 0),
        ("youzan", "2026-03-01"): (1, 0),
        ("wechat", "2026-02-01"): (0, 1),
        ("wechat", "2026-03-01"): (0, 1),
    }
    utc = health.coverage(warehouse, timezone="UTC")
    assert utc[utc.platform == "tmall"].orders.tolist() == [2]


def test_freshness_age_against_build_time(warehouse):
    df = health.freshness(warehouse)
    row = df[(df.table == "orders") & (df.platform == "tmall")].iloc[0]
    # 31 Jan 17:00 → 1 Nov 12:00 UTC: 274 days minus 5 hours
    assert row.age_days == pytest.approx(274 - 5 / 24, abs=0.01)
    assert row.rows == 2
    wechat = df[(df.table == "events") & (df.platform == "wechat")].iloc[0]
    assert wechat.latest == pd.Timestamp("2026-02-28 16:30", tz="UTC")
    assert set(df.table) == {"accounts", "orders", "events"}
    assert df.age_days.is_monotonic_decreasing


def test_missing_warehouse_is_one_line_error(tmp_path):
    with pytest.raises(WarehouseError, match="no warehouse at"):
        health.build_read(tmp_path / "nope.duckdb")


def test_plots_build_from_the_frames(warehouse):
    fig = health.plot_coverage(health.coverage(warehouse))
    assert fig.layout.title.text.startswith("各平台覆盖")
    assert health.plot_inputs(health.inputs(warehouse, by="platform")).data
    assert health.plot_rejects(health.rejects_by_reason(warehouse)).data
    assert health.plot_freshness(health.freshness(warehouse)).data


def test_coverage_month_is_a_date(warehouse):
    assert isinstance(health.coverage(warehouse).month.iloc[0], dt.date)


def test_status_and_health_read_one_build_log(warehouse):
    from scrm_lib.warehouse.build import status

    s = status(warehouse)
    # the same last build, inputs and rejects, through the one reader of the build log
    assert s["last_build"]["build_id"] == health.last_build(warehouse)["build_id"] == "b2"
    assert s["last_build"]["version"] == "0.1.0"  # written as library_version here
    assert s["builds"] == 2
    assert [i["file"] for i in s["inputs"]] == sorted(health.inputs(warehouse).file)
    by_reason = health.rejects_by_reason(warehouse)
    assert s["rejects"] == dict(zip(by_reason.reason, by_reason.rows, strict=True))
    assert s["tables"]["orders"] == 3 and s["steps"] == []
