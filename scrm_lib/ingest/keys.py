"""Stable native ids for sources whose export carries no buyer id.

The Douyin shop export names the recipient, a masked phone and an address
but no buyer id, so a buyer is keyed by those three. The key is a hash so
that it is stable across rebuilds and library versions (pandas' own
hashing is not promised to be).

Example
-------
>>> import pandas as pd
>>> douyin_buyer_key(pd.Series(["张三"]), pd.Series(["138****5678"]), pd.Series(["文一路 1 号"]))[0]
'd6f8b7f23b8a7774649b'
"""

from __future__ import annotations

import hashlib
import unicodedata

import pandas as pd


def _clean(s: pd.Series) -> pd.Series:
    return s.astype("string").fillna("").str.strip().str.replace(r"\s+", "", regex=True)


def douyin_buyer_key(name: pd.Series, phone_masked: pd.Series, address: pd.Series) -> pd.Series:
    """Key a Douyin buyer by recipient, masked phone and address (one hash per distinct triple)."""
    joined = _clean(name) + "|" + _clean(phone_masked) + "|" + _clean(address)
    uniques = joined.unique()
    mapping = {
        u: "d" + hashlib.sha1(unicodedata.normalize("NFC", u).encode("utf-8")).hexdigest()[:19]
        for u in uniques
    }
    return joined.map(mapping).astype("string")


def content_hash(*parts: pd.Series, length: int = 20) -> pd.Series:
    """A stable hex id from the row-wise concatenation of ``parts`` (NA hashes as empty).

    Used for event, touch and message ids that the sources do not carry, so
    that the same content in two files (or two builds) gets the same id.

    Example
    -------
    >>> content_hash(pd.Series(["wechat:o1"]), pd.Series(["page_view"]))[0]
    '31dee5e55b58223f9b8a'
    """
    joined = parts[0].astype("string").fillna("")
    for p in parts[1:]:
        joined = joined + "\x1f" + p.astype("string").fillna("")
    mapping = {u: hashlib.sha256(u.encode("utf-8")).hexdigest()[:length] for u in joined.unique()}
    return joined.map(mapping).astype("str")


def utc_micros(ts: pd.Series) -> pd.Series:
    """UTC timestamps as integer microseconds in text (for hashing; NaT becomes a sentinel).

    Example
    -------
    >>> utc_micros(pd.Series(pd.to_datetime(["1970-01-01 00:00:01"], utc=True))).tolist()
    ['1000000']
    """
    ts = pd.to_datetime(ts, utc=True)
    naive = ts.dt.tz_localize(None).to_numpy().astype("datetime64[us]").astype("int64")
    return pd.Series(naive, index=ts.index).astype("str")
