"""Vectorized normalization of raw cells: phones, timestamps, amounts, flags, text.

Every function takes a pandas Series (strings, or numbers for JSON sources)
and works column-wise: regexes and pyarrow kernels over the whole column,
slow library calls (``phonenumbers``) only on the distinct values the fast
path could not settle. Parsers that can fail return ``(values, bad)``
where ``bad`` marks non-empty cells that could not be parsed, so the caller
can reject those rows with the raw value.

Example
-------
>>> import pandas as pd
>>> normalize_phones(pd.Series(["+86 138 1234 5678", "138****5678", "12"]))["value"].tolist()
['+8613812345678', '138****5678', nan]
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from scrm_lib.ingest.read import clean_cells
from scrm_lib.ingest.units import unix_units

# Mainland mobile ranges that libphonenumber treats as valid (checked by a
# property test against phonenumbers itself); anything else goes the slow way.
MOBILE = r"1(?:3\d|4[57]|5[0-35-9]|6[25-7]|7[0-35-8]|8\d|9[0-35-9])\d{8}|1610\d{7}"
_FAST_PHONE = re.compile(rf"^(?:\+86|0086|86)?({MOBILE})$")
_PHONE_SEPARATORS = r"[\s\-\.\(\)/]"
_MASK_PREFIX = r"^(?:\+86|0086|86(?=1\d\d\*))"

TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日",
    "%Y.%m.%d %H:%M:%S",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
)
# What exports write for "no time": unix zero, MySQL's zero date.
_SENTINEL = r"0+|0000-00-00(?:[ T]00:00(?::00)?)?"
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"
_UTC = "datetime64[us, UTC]"

TRUE_WORDS = ("是", "true", "1", "yes", "y", "t", "已同意", "同意")
FALSE_WORDS = ("否", "false", "0", "no", "n", "f", "不同意", "未同意")


def text(s: pd.Series) -> pd.Series:
    """Any column as pandas ``str`` with NA for missing or blank cells (no other change).

    Example
    -------
    >>> text(pd.Series([1, None, " a "])).tolist()
    ['1', nan, 'a']
    """
    return pd.Series(pd.array(_text_cells(s), dtype="str"), index=s.index, name=s.name)


def _text_cells(s: pd.Series) -> pa.ChunkedArray:
    """:func:`text` as Arrow text."""
    if not (pd.api.types.is_string_dtype(s.dtype) and s.dtype != object):
        missing = s.isna()
        s = s.astype("string").astype("str").mask(missing)
    return clean_cells(s.array, unwrap=False)


def _pa_normalize(s: pd.Series, form: str) -> pd.Series:
    if s.empty:
        return text(s)
    arr = _text_cells(s)
    # ASCII text is already in every normal form; ids, phones and numbers mostly are.
    if pc.all(pc.string_is_ascii(arr)).as_py() is not False:
        return _from_arrow(arr, s.index)
    return _from_arrow(pc.utf8_normalize(arr, form=form), s.index)


def _from_arrow(out: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    # By position: ``out.to_pandas()`` is a Series on 0..n-1, which ``index=``
    # would realign by label (NA wherever the caller's index is not 0..n-1).
    # ``pd.array`` wraps the Arrow buffers; going through numpy objects copies every string.
    return pd.Series(pd.array(out, dtype="str"), index=index)


def _re_replace(s: pd.Series, pattern: str, repl: str = "") -> pd.Series:
    # pyarrow's RE2 kernel: pandas may fall back to a Python loop for the same call.
    arr = pa.array(s, type=pa.large_string(), from_pandas=True)
    out = pc.replace_substring_regex(arr, pattern=pattern, replacement=repl)
    return _from_arrow(out, s.index)


def nfc(s: pd.Series) -> pd.Series:
    """Free text in Unicode NFC (full-width punctuation is left alone: it is meaningful).

    Example
    -------
    >>> nfc(pd.Series(["e\\u0301"])).tolist() == ["\\u00e9"]
    True
    """
    return _pa_normalize(s, "NFC")


def halfwidth(s: pd.Series) -> pd.Series:
    """NFKC: full-width digits, letters and signs to ASCII, for ids, phones and numbers.

    Example
    -------
    >>> halfwidth(pd.Series(["１３８＋"])).tolist()
    ['138+']
    """
    return _pa_normalize(s, "NFKC")


# ---------------------------------------------------------------- phones


def normalize_phones(s: pd.Series, region: str = "CN") -> pd.DataFrame:
    """Phones to E.164; masked phones kept in their visible form.

    Returns a frame with ``value`` (E.164 ``+8613812345678``, a masked form
    such as ``138****5678``, or NA) and ``kind`` (``phone``, ``phone_masked``,
    ``invalid``, or NA for an empty cell).

    Example
    -------
    >>> normalize_phones(pd.Series(["１３８１２３４５６７８", "86-138-1234-5678"]))["kind"].tolist()
    ['phone', 'phone']
    """
    raw = halfwidth(s)
    cleaned = _re_replace(raw, _PHONE_SEPARATORS)
    value = pd.Series(pd.NA, index=s.index, dtype="str")
    kind = pd.Series(pd.NA, index=s.index, dtype="str")
    present = cleaned.notna() & (cleaned != "")

    masked = present & cleaned.str.contains("*", regex=False, na=False)
    if masked.any():
        visible = cleaned[masked].str.replace(_MASK_PREFIX, "", regex=True)
        ok = visible.str.fullmatch(r"\+?\d[\d*]*\d", na=False) & (visible.str.count(r"\d") >= 4)
        value[ok[ok].index] = visible[ok]
        kind[masked] = "invalid"
        kind[ok[ok].index] = "phone_masked"

    rest = present & ~masked
    fast = cleaned[rest].str.extract(_FAST_PHONE, expand=False)
    hit = fast.notna()
    value[hit[hit].index] = "+86" + fast[hit]
    kind[hit[hit].index] = "phone"

    slow = rest & ~value.notna()
    if slow.any():
        mapping = _phonenumbers_e164(cleaned[slow].unique(), region)
        e164 = cleaned[slow].map(mapping)
        value[slow] = e164
        kind[slow] = e164.notna().map({True: "phone", False: "invalid"})
    return pd.DataFrame({"value": value, "kind": kind})


def _phonenumbers_e164(values: np.ndarray, region: str) -> dict[str, str | None]:
    import phonenumbers

    out: dict[str, str | None] = {}
    for v in values:
        try:
            num = phonenumbers.parse(str(v), region)
        except phonenumbers.NumberParseException:
            out[v] = None
            continue
        ok = phonenumbers.is_valid_number(num)
        out[v] = (
            phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) if ok else None
        )
    return out


# ---------------------------------------------------------------- timestamps


def parse_timestamps(
    s: pd.Series, tz: str = "Asia/Shanghai", unit: str | None = None
) -> tuple[pd.Series, pd.Series]:
    """Timestamps to UTC; naive local times are read in ``tz``.

    Accepts ``YYYY-MM-DD HH:MM:SS``, ``YYYY/MM/DD HH:MM[:SS]``, ISO 8601 with
    an offset, dates, and unix seconds, milliseconds or microseconds: the
    unit is ``unit`` (``s``, ``ms``, ``us``) or, when None, read from each
    value's magnitude (:func:`scrm_lib.ingest.units.unix_units`). Each
    explicit format is tried only on the
    cells still unparsed. The "no time" sentinels exports write (``0``,
    ``0000-00-00 00:00:00``) are missing values, not bad ones.

    Example
    -------
    >>> ts, bad = parse_timestamps(pd.Series(["2025-01-01 08:00:00", "1735689600000", "x"]))
    >>> [str(t) for t in ts], bad.tolist()
    (['2025-01-01 00:00:00+00:00', '2025-01-01 00:00:00+00:00', 'NaT'], [False, False, True])
    """
    out = pd.Series(pd.NaT, index=s.index, dtype=_UTC)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        num = pd.to_numeric(s).astype("Float64")
        out = _from_unix(num, unit)
        bad = s.notna() & (num != 0).fillna(False) & out.isna()
        return out, bad

    st = halfwidth(s)
    st = st.mask(st.str.fullmatch(_SENTINEL, na=False))
    present = st.notna()
    todo = present.copy()

    digits = todo & st.str.fullmatch(r"\d{9,16}(?:\.\d+)?", na=False)
    if digits.any():
        out[digits] = _from_unix(pd.to_numeric(st[digits]).astype("Float64"), unit)
        todo &= out.isna()

    aware = (
        todo
        & st.str.contains(_OFFSET, regex=True, na=False)
        & st.str.contains(r"^\d{4}-\d{2}-\d{2}[T ]", regex=True, na=False)
    )
    if aware.any():
        parsed = pd.to_datetime(st[aware], format="ISO8601", utc=True, errors="coerce")
        out[aware] = parsed.astype(_UTC)
        todo &= out.isna()

    naive = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    for fmt in TIME_FORMATS:
        if not todo.any():
            break
        parsed = pd.to_datetime(st[todo], format=fmt, errors="coerce")
        got = parsed.notna()
        if got.any():
            idx = got[got].index
            naive[idx] = parsed[got].astype("datetime64[us]")
            todo[idx] = False
    has_naive = naive.notna()
    if has_naive.any():
        local = naive[has_naive].dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
        out[has_naive] = local.dt.tz_convert("UTC").astype(_UTC)
    bad = present & out.isna()
    return out, bad


def _from_unix(num: pd.Series, unit: str | None = None) -> pd.Series:
    out = pd.Series(pd.NaT, index=num.index, dtype=_UTC)
    ok = num.notna() & (num > 0)
    if not ok.any():
        return out
    vals = num[ok].astype("float64")
    # Each value's own magnitude names its unit unless the column's unit is declared:
    # seconds and milliseconds of any date 1973-5138 cannot be confused.
    units = pd.Series(unit, index=vals.index) if unit else unix_units(vals)
    for u, limit in (("s", 9.2e9), ("ms", 9.2e12), ("us", 9.2e15), ("ns", 9.2e18)):
        # beyond the year 2262 a value is garbage pandas cannot hold: left NaT, i.e. bad
        pick = (units == u) & (vals < limit)
        if pick.any():
            got = pd.to_datetime(vals[pick].to_numpy(), unit=u, utc=True)
            out[pick[pick].index] = got.astype(_UTC)
    return out


# ---------------------------------------------------------------- numbers


def parse_amounts(s: pd.Series, scale: float = 1.0) -> tuple[pd.Series, pd.Series]:
    """Money to numbers with 2 decimals; ``scale=100`` turns fen into yuan.

    Strips ``¥``/``￥``, ``元``, ``CNY``, thousands separators and spaces.

    Example
    -------
    >>> v, bad = parse_amounts(pd.Series(["¥1,234.50", "12.345", "abc", None]))
    >>> v.tolist(), bad.tolist()
    ([1234.5, 12.35, <NA>, <NA>], [False, False, True, False])
    """
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        num = pd.to_numeric(s).astype("Float64")
        present = s.notna()
    else:
        st = halfwidth(s)
        present = st.notna()
        st = _re_replace(st, r"[¥,\s]|元|CNY|RMB")
        num = pd.to_numeric(st, errors="coerce").astype("Float64")
    num = num.mask(~np.isfinite(num.astype("float64").fillna(0)))
    bad = present & num.isna()
    return round_money(num / scale), bad


def round_money(x: pd.Series) -> pd.Series:
    """Round half away from zero to 2 decimals, as a cashier would (12.345 → 12.35).

    Example
    -------
    >>> round_money(pd.Series([12.345, -0.005, 1.0])).tolist()
    [12.35, -0.01, 1.0]
    """
    x = x.astype("Float64")
    # The nudge absorbs binary float error (12.345 is stored as 12.3449999...).
    cents = np.floor(x.abs() * 100 + 0.5 + 1e-6)
    return (np.sign(x) * cents / 100).astype("Float64")


def parse_ints(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Counts (quantities) to Int64; ``3.0`` is accepted, ``3.5`` and text are bad.

    Example
    -------
    >>> v, bad = parse_ints(pd.Series(["3", "2.0", "x"]))
    >>> v.tolist(), bad.tolist()
    ([3, 2, <NA>], [False, False, True])
    """
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        num = pd.to_numeric(s).astype("Float64")
        present = s.notna()
    else:
        st = halfwidth(s)
        present = st.notna()
        num = pd.to_numeric(st.str.replace(",", "", regex=False), errors="coerce")
        num = num.astype("Float64")
    whole = num.notna() & (num.round(0) == num)
    out = num.where(whole).astype("Int64")
    return out, present & out.isna()


def parse_bools(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """是/否, true/false, 1/0, yes/no to booleans.

    Example
    -------
    >>> v, bad = parse_bools(pd.Series(["是", "否", "maybe"]))
    >>> v.tolist(), bad.tolist()
    ([True, False, <NA>], [False, False, True])
    """
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean"), pd.Series(False, index=s.index)
    st = halfwidth(s).str.lower()
    arr = pa.array(st, type=pa.large_string(), from_pandas=True)
    yes = pc.is_in(arr, value_set=pa.array(TRUE_WORDS, pa.large_string()))
    no = pc.is_in(arr, value_set=pa.array(FALSE_WORDS, pa.large_string()))
    yes, no = yes.to_numpy(zero_copy_only=False), no.to_numpy(zero_copy_only=False)
    out = pd.Series(pd.arrays.BooleanArray(yes, ~(yes | no)), index=s.index)
    return out, st.notna() & out.isna()


def map_values(s: pd.Series, mapping: dict[str, str]) -> pd.Series:
    """Map raw labels (e.g. order statuses) after NFKC, stripping and case folding; unknown → NA.

    Example
    -------
    >>> labels = {"交易成功": "paid", "PAID": "paid"}
    >>> map_values(pd.Series(["交易成功 ", "Paid", "?"]), labels).tolist()
    ['paid', 'paid', nan]
    """
    st = halfwidth(s).str.casefold()
    # keys folded like the cells: Tmall writes 卖家已发货，等待买家确认 with a full-width comma
    clean = {
        unicodedata.normalize("NFKC", str(k)).strip().casefold(): v for k, v in mapping.items()
    }
    return st.map(clean).astype("str")
