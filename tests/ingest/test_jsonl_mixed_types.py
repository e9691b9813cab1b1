"""JSON lines with a field whose JSON type changes between lines stay columnar.

A mini-program export writes ``"total_fee": 55760`` in most lines and
``"total_fee": "N/A"`` in a few; pyarrow's reader stops at the change. The
reader reads those few lines again with the field null and keeps the field's
Python values apart; the parse must equal the line-by-line reading of the same
file: the raw cells, the canonical tables, the rejects and the extras (an
unmapped field of mixed type included). A nested key of the same name, or a
field that is an object in some line, must not confuse it.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from scrm_lib.ingest import parse_file, read

ORDER = {
    "order_no": "WX1",
    "openid": "oA1",
    "create_time": "2025-05-01 10:00:00",
    "pay_time": "2025-05-01 10:05:00",
    "total_fee": 5990,
    "status": "PAID",
    "items": [{"sku": "A1", "name": "奶粉", "qty": 1, "price": 5990, "total_fee": "5990"}],
    "shop_note": 7,
}


def _lines(tmp_path, *changes: dict):
    recs = [{**ORDER, "order_no": f"WX{i}", **c} for i, c in enumerate(changes)]
    path = tmp_path / "miniapp_orders_mixed.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n")
    return path


MIXED = (
    {},
    {"total_fee": "N/A"},
    {"total_fee": None},
    {"total_fee": 12.5, "shop_note": "急"},
    {"shop_note": True},
    {"total_fee": "8800"},
)


def _line_by_line(monkeypatch, path):
    with monkeypatch.context() as m:
        m.setattr(read, "_arrow_jsonl", lambda data: (None, data, {}))
        return read.read_table(path), parse_file(path, preset="miniapp_orders")


def test_mixed_scalar_fields_read_columnar_as_line_by_line(tmp_path, monkeypatch):
    path = _lines(tmp_path, *MIXED)
    fast = read.read_table(path)
    assert fast.arrow is not None and set(fast.mixed) == {"total_fee", "shop_note"}
    assert fast.pylist("total_fee") == [5990, "N/A", None, 12.5, 5990, "8800"]
    slow, slow_parsed = _line_by_line(monkeypatch, path)
    assert slow.arrow is None
    cols = sorted(slow.df.columns)
    assert sorted(fast.df.columns) == cols
    for c in cols:  # the line-by-line frame holds Python objects where pyarrow has types
        assert fast.df[c].astype(object).where(fast.df[c].notna(), None).tolist() == (
            slow.df[c].astype(object).where(slow.df[c].notna(), None).tolist()
        ), c
    parsed = parse_file(path, preset="miniapp_orders")
    assert parsed.rows_in == slow_parsed.rows_in == len(MIXED)
    assert list(parsed.tables) == list(slow_parsed.tables)
    for name, frame in parsed.tables.items():
        pd.testing.assert_frame_equal(frame, slow_parsed.tables[name], obj=name)
    pd.testing.assert_frame_equal(parsed.rejects, slow_parsed.rejects)
    assert "N/A" in parsed.rejects["raw_value"].tolist()
    assert {'{"shop_note":"急"}', '{"shop_note":true}'} <= set(parsed.tables["orders"]["extras"])


@pytest.mark.parametrize(
    "change",
    [{"total_fee": {"amount": 1}}, {"total_fee": [1]}],
    ids=["object", "list"],
)
def test_a_field_that_is_an_object_somewhere_is_read_line_by_line(tmp_path, change):
    path = _lines(tmp_path, {}, change, {"total_fee": "N/A"})
    assert read.read_table(path).arrow is None


#: A money field written as a decimal in most lines: pyarrow reads it as doubles once
#: the text lines are set aside, which hold 3 and 3.0 alike; the values must be as written.
MONEY = (
    {"total_fee": 59.9},
    {"total_fee": "N/A"},
    {"total_fee": 3},
    {"total_fee": 1e2, "shop_note": "急"},
    {"total_fee": None},
    {"total_fee": -0.5},
    {"total_fee": 3.0},
    {"total_fee": 12345678901234567890},
)


def test_a_decimal_field_with_text_in_some_lines_stays_columnar(tmp_path, monkeypatch):
    items = [{"sku": "A1", "name": "奶粉", "qty": 1, "price": 5990}]  # no nested total_fee
    recs = [{**ORDER, "order_no": f"WX{i}", "items": items, **c} for i, c in enumerate(MONEY)]
    path = tmp_path / "miniapp_orders_money.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n")
    fast = read.read_table(path)
    assert fast.arrow is not None and "total_fee" in fast.mixed
    as_written = [json.loads(line)["total_fee"] for line in path.read_text().splitlines()]
    assert fast.pylist("total_fee") == as_written
    assert [type(v) for v in fast.pylist("total_fee")][2:4] == [int, float]
    slow, slow_parsed = _line_by_line(monkeypatch, path)
    for c in sorted(slow.df.columns):
        assert fast.df[c].astype(object).where(fast.df[c].notna(), None).tolist() == (
            slow.df[c].astype(object).where(slow.df[c].notna(), None).tolist()
        ), c
    parsed = parse_file(path, preset="miniapp_orders")
    for name, frame in parsed.tables.items():
        pd.testing.assert_frame_equal(frame, slow_parsed.tables[name], obj=name)
    pd.testing.assert_frame_equal(parsed.rejects, slow_parsed.rejects)


def test_a_decimal_field_also_nested_is_read_line_by_line(tmp_path):
    # the nested total_fee on the same line could be taken for the top-level one
    nested = {"total_fee": 59.9, "items": [{"total_fee": 1.5}]}
    path = _lines(tmp_path, nested, {"total_fee": "N/A"})
    assert read.read_table(path).arrow is None
