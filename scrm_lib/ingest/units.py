"""Units of money and time columns: declared by the preset, read from the header, or guessed.

Money is stored in yuan (CNY). A money column is in ``fen`` or ``yuan``;
which one is decided per file, in this order:

1. the preset's ``[units]`` entry for the header alias the file uses
   (``total_fee = "fen"``: WeChat Pay's field is always fen);
2. the header itself: a name that says fen (``amount_fen``, ``totalFen``,
   ``实付金额(分)``, ``单位：分``, ``cents``) or yuan (``金额(元)``,
   ``amount_yuan``);
3. the preset's ``[units]`` entry for the field (``amount = "fen"``); a
   field name there (``refund_amount = "amount"``) means "the unit the
   other field has in this file" (refunds rarely hold enough non-zero
   values to guess from);
4. the legacy ``amount_scale = 100`` option (fen);
5. ``yuan``.

``auto`` (at 3) is the data-driven check of :func:`guess_money_unit`:
yuan when any cell is written with a decimal point or a currency sign, or
the JSON column holds decimals; fen when every value is a whole number
and the median non-zero value is at least :data:`AUTO_FEN_MEDIAN` (as
fen a median order of 10 yuan, as yuan 1,000 yuan with never a jiao);
yuan otherwise. It is a guess: declare the unit when you know it.

Unix times are told apart by magnitude (:func:`unix_units`): seconds
below 1e11, milliseconds below 1e14, microseconds below 1e17, nanoseconds
above; a preset can declare ``s``, ``ms`` or ``us`` for a column (a value
that is then implausible is rejected by the plausibility rules). Naive
time strings are local (``settings.timezone``) unless the preset declares
``utc`` for the field.

Example
-------
>>> import pandas as pd
>>> header_money_unit("amount_fen"), header_money_unit("实付金额(元)"), header_money_unit("金额")
('fen', 'yuan', None)
>>> guess_money_unit(pd.Series(["9900", "12900", "0"])), guess_money_unit(pd.Series(["99.00"]))
('fen', 'yuan')
>>> unix_units(pd.Series([1735689600, 1735689600123])).tolist()
['s', 'ms']
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

MONEY_UNITS = ("fen", "yuan", "auto")
TIME_UNITS = ("s", "ms", "us", "utc", "local")
UNITS = MONEY_UNITS + TIME_UNITS

#: ``auto``: whole numbers whose median non-zero value reaches this are fen.
AUTO_FEN_MEDIAN = 1000

# A unit word standing on its own in the header (after a separator or a bracket, or at
# the end of a camelCase name): 分 inside 积分 or 分类 must not count.
_EDGE_L = r"(?:^|[_\-\s(（\[【/:：.]|单位)"
_EDGE_R = r"(?:$|[_\-\s)）\]】/.])"
_FEN = re.compile(rf"{_EDGE_L}(?:fen|分|cents?){_EDGE_R}|[a-z](?:Fen|Cents?)$|_?in_?cents$")
_YUAN = re.compile(rf"{_EDGE_L}(?:yuan|元|cny|rmb){_EDGE_R}|[a-z]Yuan$")


def header_money_unit(header: str) -> str | None:
    """``fen`` or ``yuan`` when the header names its unit, else None.

    Example
    -------
    >>> [header_money_unit(h) for h in ["totalFen", "pay_amount_cents", "积分", "金额（分）"]]
    ['fen', 'fen', None, 'fen']
    """
    h = str(header).strip()
    if _FEN.search(h) or _FEN.search(h.lower()):
        return "fen"
    if _YUAN.search(h) or _YUAN.search(h.lower()):
        return "yuan"
    return None


def guess_money_unit(raw: pd.Series) -> str:
    """The ``auto`` check: ``fen`` or ``yuan`` from the values of one column (see module doc).

    Example
    -------
    >>> guess_money_unit(pd.Series([9900, 35000])), guess_money_unit(pd.Series([99, 350]))
    ('fen', 'yuan')
    """
    if pd.api.types.is_float_dtype(raw.dtype):
        # pyarrow reads a JSON column as double only when some value has a decimal point
        return "yuan"
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        num = pd.to_numeric(raw).astype("float64")
    else:
        st = raw.astype("string").str.strip()
        st = st[st.notna() & (st != "")]
        if st.str.contains(r"[.¥￥元]", regex=True).any():
            return "yuan"
        num = pd.to_numeric(st.str.replace(",", "", regex=False), errors="coerce")
    num = num[np.isfinite(num.to_numpy(dtype="float64", na_value=np.nan))]
    if num.empty or (num.round(0) != num).any():
        return "yuan"
    nonzero = num[num != 0].abs()
    if nonzero.empty:
        return "yuan"
    return "fen" if float(nonzero.median()) >= AUTO_FEN_MEDIAN else "yuan"


def unix_units(num: pd.Series) -> pd.Series:
    """``s``, ``ms``, ``us`` or ``ns`` for each unix time, from its magnitude.

    Seconds stay below 1e11 until the year 5138 and milliseconds reach 1e11
    in 1973, so the two never meet on a plausible date; likewise 1e14 and
    1e17 for milliseconds, microseconds and nanoseconds.

    Example
    -------
    >>> unix_units(pd.Series([1735689600, 1735689600123, 1.7e15])).tolist()
    ['s', 'ms', 'us']
    """
    vals = pd.to_numeric(num, errors="coerce").astype("float64").abs()
    cut = np.select([vals < 1e11, vals < 1e14, vals < 1e17], ["s", "ms", "us"], "ns")
    return pd.Series(cut, index=num.index, dtype=object)
