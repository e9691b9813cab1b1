"""Normalizers: phones, timestamps, amounts, flags; property tests against references."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrm_lib.ingest import normalize as nz

FULLWIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")


def test_phone_spellings_from_the_contract() -> None:
    raw = [
        "+86 138 1234 5678",
        "86-138-1234-5678",
        "138-1234-5678",
        "１３８１２３４５６７８",
        "13812345678",
        "0086 13812345678",
        " 138 1234 5678 ",
    ]
    out = nz.normalize_phones(pd.Series(raw))
    assert out["value"].tolist() == ["+8613812345678"] * len(raw)
    assert out["kind"].tolist() == ["phone"] * len(raw)


def test_masked_phone_is_never_a_phone() -> None:
    out = nz.normalize_phones(
        pd.Series(["138****5678", "+86 138****5678", "１３８＊＊＊＊５６７８"])
    )
    assert out["kind"].tolist() == ["phone_masked"] * 3
    assert out["value"].tolist() == ["138****5678"] * 3


def test_invalid_and_empty_phones() -> None:
    out = nz.normalize_phones(pd.Series(["12345", "abc", None, "", "10012345678"]))
    assert out["kind"].tolist()[:2] == ["invalid", "invalid"]
    assert out["kind"].isna().tolist()[2:4] == [True, True]
    assert out["kind"].iloc[4] == "invalid"
    assert out["value"].isna().all()


def test_landline_and_foreign_go_through_phonenumbers() -> None:
    out = nz.normalize_phones(pd.Series(["021-6212 3456", "+1 650-253-0000"]))
    assert out["value"].tolist() == ["+862162123456", "+16502530000"]


def _spell(digits: str, style: int) -> str:
    a, b, c = digits[:3], digits[3:7], digits[7:]
    return [
        digits,
        f"+86{digits}",
        f"+86 {a} {b} {c}",
        f"86-{a}-{b}-{c}",
        f"0086{digits}",
        f"{a}-{b}-{c}",
        f"({a}) {b} {c}",
        digits.translate(FULLWIDTH),
        f"+86 {a} {b} {c}".translate(FULLWIDTH),
        f"\u3000{digits}\u3000",
    ][style]


@settings(max_examples=300, deadline=None)
@given(
    rest=st.text(alphabet="0123456789", min_size=10, max_size=10).filter(
        lambda s: s[0] in "3456789"
    ),
    styles=st.lists(st.integers(0, 9), min_size=1, max_size=5),
)
def test_phone_fast_path_agrees_with_phonenumbers(rest: str, styles: list[int]) -> None:
    digits = "1" + rest
    try:
        ref = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:  # e.g. 179xx reads as a carrier prefix
        valid, expected = False, None
    else:
        valid = phonenumbers.is_valid_number(ref)
        expected = phonenumbers.format_number(ref, phonenumbers.PhoneNumberFormat.E164)
    spellings = [_spell(digits, s) for s in styles]
    out = nz.normalize_phones(pd.Series(spellings))
    for got, kind in zip(out["value"], out["kind"], strict=True):
        if valid:
            assert (got, kind) == (expected, "phone")
        else:
            assert kind == "invalid" and pd.isna(got)


@settings(max_examples=300, deadline=None)
@given(
    rest=st.text(alphabet="0123456789", min_size=10, max_size=10).filter(
        lambda s: s[0] in "3456789"
    )
)
def test_fast_path_regex_matches_libphonenumber_validity(rest: str) -> None:
    import re

    digits = "1" + rest
    fast = re.fullmatch(nz.MOBILE, digits) is not None
    if fast:  # the fast path may only accept what phonenumbers accepts
        assert phonenumbers.is_valid_number(phonenumbers.parse(digits, "CN"))


SH = ZoneInfo("Asia/Shanghai")


@settings(max_examples=200, deadline=None)
@given(
    instant=st.datetimes(
        min_value=dt.datetime(2001, 1, 1),
        max_value=dt.datetime(2037, 12, 31),
        timezones=st.just(dt.UTC),
    ),
    fmt=st.sampled_from(["dash", "slash", "slash_min", "iso", "iso_z", "unix_s", "unix_ms"]),
)
def test_timestamp_round_trip(instant: dt.datetime, fmt: str) -> None:
    instant = instant.replace(microsecond=0)
    local = instant.astimezone(SH)
    if fmt == "slash_min":
        instant = instant.replace(second=0)
        local = local.replace(second=0)
    text = {
        "dash": local.strftime("%Y-%m-%d %H:%M:%S"),
        "slash": local.strftime("%Y/%m/%d %H:%M:%S"),
        "slash_min": local.strftime("%Y/%m/%d %H:%M"),
        "iso": local.isoformat(),
        "iso_z": instant.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "unix_s": str(int(instant.timestamp())),
        "unix_ms": str(int(instant.timestamp()) * 1000),
    }[fmt]
    ts, bad = nz.parse_timestamps(pd.Series([text]))
    assert not bad.iloc[0], text
    assert ts.iloc[0].to_pydatetime() == instant, text
    assert str(ts.dtype) == "datetime64[us, UTC]"


def test_timestamps_numeric_column_and_garbage() -> None:
    ts, bad = nz.parse_timestamps(pd.Series([1735689600000, 1735689600, None], dtype="Int64"))
    assert ts.iloc[0] == ts.iloc[1] == pd.Timestamp("2025-01-01", tz="UTC")
    assert bad.tolist() == [False, False, False]
    ts, bad = nz.parse_timestamps(pd.Series(["2025-13-01 00:00:00", "昨天", "", None]))
    assert bad.tolist() == [True, True, False, False]
    assert ts.isna().all()


def test_timestamps_in_another_zone() -> None:
    ts, _ = nz.parse_timestamps(pd.Series(["2025-01-01 09:00:00"]), tz="UTC")
    assert ts.iloc[0] == pd.Timestamp("2025-01-01 09:00", tz="UTC")


def test_amounts() -> None:
    v, bad = nz.parse_amounts(pd.Series(["¥1,234.50", "￥ 9.9", "12元", "-3", "1e3x", "", None]))
    assert v.tolist()[:4] == [1234.5, 9.9, 12.0, -3.0]
    assert bad.tolist() == [False, False, False, False, True, False, False]
    v, bad = nz.parse_amounts(pd.Series([1999, 1, None], dtype="Int64"), scale=100)
    assert v.tolist() == [19.99, 0.01, pd.NA]


def test_ints_and_bools() -> None:
    v, bad = nz.parse_ints(pd.Series(["1", "2.0", "2.5", "x", None]))
    assert v.tolist()[:2] == [1, 2] and bad.tolist() == [False, False, True, True, False]
    b, bad = nz.parse_bools(pd.Series(["是", "否", "TRUE", "0", "也许"]))
    assert b.tolist()[:4] == [True, False, True, False] and bad.tolist()[4]


@pytest.mark.parametrize(
    "raw,nfc", [("e\u0301", "\u00e9"), ("=SUM(A1:A3)", "=SUM(A1:A3)"), ("＋86", "＋86")]
)
def test_text_nfc_keeps_formulas_and_fullwidth_text(raw: str, nfc: str) -> None:
    assert nz.nfc(pd.Series([raw])).iloc[0] == nfc


def test_text_kernels_keep_a_filtered_series_index() -> None:
    # a filtered or re-indexed column: each value stays on its own label
    assert nz.halfwidth(pd.Series(["a", "b"], index=[0, 2])).tolist() == ["a", "b"]
    index = [0, 2, 9, 4]
    raw = pd.Series(["ａ", "e\u0301", None, "１３８-１２３４-５６７８"], index=index)
    half = nz.halfwidth(raw)
    assert half.index.tolist() == index and half[0] == "a" and half[4] == "138-1234-5678"
    assert half[2] == "\u00e9" and pd.isna(half[9])
    out = nz.nfc(raw)
    assert out.index.tolist() == index and out[0] == "ａ" and out[2] == "\u00e9"
    phones = nz.normalize_phones(raw)
    assert phones.index.tolist() == index and phones.loc[4, "value"] == "+8613812345678"
