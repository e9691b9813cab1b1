"""Column-wise normalizers on hand-made dirty cells, checked against values worked out by hand.

Yes/no words are matched in Arrow, ASCII columns skip Unicode normalization,
row hashes are cut from one hex string and repeated attribute rows share
their JSON: each must still give what the cell means, whatever its spelling,
and keep the caller's index.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.keys import content_hash
from scrm_lib.ingest.nested import frame_to_json, to_json


def test_yes_no_spellings() -> None:
    raw = ["是", "否", "TRUE", "1", "yes", "", None, " 同意 ", "ＹＥＳ", "０", "N", "f"]
    raw += ["maybe", "2"]
    index = pd.RangeIndex(10, 10 + len(raw))
    value, bad = nz.parse_bools(pd.Series(raw, index=index, dtype=object))
    assert value.index.equals(index)
    assert str(value.dtype) == "boolean"
    expected = [True, False, True, True, True, None, None, True, True, False, False, False]
    assert [None if pd.isna(v) else bool(v) for v in value] == [*expected, None, None]
    assert bad.tolist() == [False] * 12 + [True, True]


def test_yes_no_column_without_any_word() -> None:
    value, bad = nz.parse_bools(pd.Series([None, "", "  "], dtype="str"))
    assert value.isna().all()
    assert not bad.any()


def test_halfwidth_on_ascii_and_fullwidth_columns() -> None:
    ascii_only = pd.Series([" wm001 ", "A-1", None, ""], index=[7, 3, 5, 1], dtype=object)
    out = nz.halfwidth(ascii_only)
    assert out.index.tolist() == [7, 3, 5, 1]
    assert str(out.dtype) == "str"
    assert out.tolist()[:2] == ["wm001", "A-1"]
    assert out.isna().tolist() == [False, False, True, True]
    mixed = pd.Series(["１３８＋", "abc", "ＡＢＣ１２", None], index=[9, 8, 7, 6])
    assert nz.halfwidth(mixed).tolist()[:3] == ["138+", "abc", "ABC12"]
    assert nz.halfwidth(mixed).index.tolist() == [9, 8, 7, 6]


def test_nfc_composes_only_where_needed() -> None:
    out = nz.nfc(pd.Series(["plain", "e\u0301", "１２", None]))
    # NFC composes accents but leaves full-width digits alone (unlike NFKC)
    assert out.tolist()[:3] == ["plain", "\u00e9", "１２"]


def test_phones_ascii_and_fullwidth_in_one_column() -> None:
    raw = [
        "+86 138 1234 5678",
        "0086-138-1234-5678",
        "86 138-1234-5678",
        "１３８ １２３４ ５６７８",
        "（138）1234-5678",
        "138****0000",
        "+86 138****0000",
        "",
        None,
        "12",
    ]
    out = nz.normalize_phones(pd.Series(raw, index=range(100, 100 + len(raw))))
    assert out.index.tolist() == list(range(100, 110))
    e164 = "+8613812345678"
    assert out["value"].tolist()[:5] == [e164] * 5
    assert out["value"].tolist()[5:7] == ["138****0000", "138****0000"]
    assert out["value"].isna().tolist()[7:] == [True, True, True]
    assert out["kind"].tolist()[:7] == ["phone"] * 5 + ["phone_masked"] * 2
    assert out["kind"].isna().tolist()[7:9] == [True, True]
    assert out["kind"].tolist()[9] == "invalid"


def test_content_hash_is_the_sha256_of_the_joined_text() -> None:
    a = pd.Series(["wechat:o1", "x", None], index=[5, 6, 7])
    b = pd.Series(["page_view", None, None], index=[5, 6, 7])
    out = content_hash(a, b)
    assert out.index.tolist() == [5, 6, 7]
    # the first value as the ids stored before (DuckDB's sha256 of the same text)
    assert out.tolist()[0] == "31dee5e55b58223f9b8a"
    by_hand = [hashlib.sha256(t.encode()).hexdigest()[:20] for t in ("x\x1f", "\x1f")]
    assert out.tolist()[1:] == by_hand
    assert content_hash(a, length=8).tolist()[0] == hashlib.sha256(b"wechat:o1").hexdigest()[:8]


def test_frame_to_json_repeats_share_the_text_of_each_row() -> None:
    frame = pd.DataFrame(
        {
            "staff": ["li", "li", "wang", "li", None],
            "add_way": [1, 1, 2, 1, 3],
            "tags": [["a", "b"], ["a", "b"], None, ["c"], []],
        },
        dtype=object,
    )
    keys = frame.assign(tags=["a; b", "a; b", None, "c", ""])
    got = frame_to_json(frame, keys)
    assert got == to_json(frame.to_dict("records"))
    assert got[0] == '{"add_way":1,"staff":"li","tags":["a","b"]}'
    assert got[4] == '{"add_way":3,"tags":[]}'
