"""Match any two customer lists (or one list against itself) with the OneID matcher.

The identity build stitches the warehouse's accounts; these functions run
the same probabilistic stage (:mod:`.matching`: blocking on several keys,
Fellegi–Sunter with term frequencies, EM-trained, fixed priors on small
data) over plain DataFrames: a CRM list against a shop export
(:func:`link_records`) or one list's duplicates (:func:`dedupe_records`).

Each frame supplies any of the fields ``name``, ``phone`` (full ``13812345678``
/ ``+86 138 1234 5678`` or masked ``138****5678``: compared on the visible
seven digits; anything else is compared as typed), ``city``, ``address``,
``birthday`` and ``email``; ``columns`` maps them onto the frame's own
column names.

Example
-------
>>> import pandas as pd, scrm_lib
>>> crm = pd.DataFrame({"id": ["c1", "c2"], "姓名": ["王芳", "李娜"],
...                     "手机": ["13812345678", "13900001111"]})
>>> shop = pd.DataFrame({"id": ["s1", "s2"], "收货人": ["王芳", "赵敏"],
...                      "手机": ["138****5678", "137****2222"]})
>>> pairs = scrm_lib.link_records(  # doctest: +SKIP
...     crm, shop, columns={"name": "姓名", "phone": "手机"}, id_column="id")
>>> pairs[["left_id", "right_id"]].values.tolist()  # doctest: +SKIP
[['c1', 's1']]
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from scrm_lib.errors import ScrmError

#: Fields a frame may supply, in the order the matcher compares them.
FIELDS = ("name", "phone", "city", "address", "birthday", "email")
#: Columns of the returned pairs.
PAIR_COLUMNS = ["left_id", "right_id", "match_probability", "match_weight", "compared"]


def _records(df: pd.DataFrame, columns: dict[str, str] | None, id_column: str | None, what: str):
    """The matcher's record frame from a user's frame (``unique_id`` + features)."""
    from scrm_lib.identity.matching import to_pinyin

    if not isinstance(df, pd.DataFrame):
        raise ScrmError(f"{what}: expected a pandas DataFrame, not {type(df).__name__}")
    mapping = dict(columns or {})
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ScrmError(f"{what}: unknown field {unknown[0]!r} in columns; known: {list(FIELDS)}")
    for field in FIELDS:
        if field not in mapping and field in df.columns:
            mapping[field] = field
    missing = [c for c in mapping.values() if c not in df.columns]
    if missing:
        raise ScrmError(f"{what}: no column {missing[0]!r} (has {list(df.columns)})")
    if not mapping:
        raise ScrmError(
            f"{what}: none of the fields {list(FIELDS)} is present; map them in columns"
        )
    if id_column is not None:
        if id_column not in df.columns:
            raise ScrmError(f"{what}: no id column {id_column!r} (has {list(df.columns)})")
        ids = df[id_column].astype(str)
    else:
        ids = pd.Series(df.index.astype(str), index=df.index)
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ScrmError(f"{what}: id {dup.iloc[0]!r} appears more than once")

    def text(col: str) -> pd.Series:
        s = df[mapping[col]].astype("string").str.strip()
        return s.where(s.ne(""), None)

    rec = pd.DataFrame({"unique_id": ids.to_numpy()}, index=df.index)
    if "name" in mapping:
        rec["name"] = text("name").str.replace(r"\s+", " ", regex=True)
        rec["name_py"] = to_pinyin(rec["name"])
    if "phone" in mapping:
        rec["mphone"] = _visible_phone(text("phone"))
    if "city" in mapping:
        rec["city"] = text("city")
    if "address" in mapping:
        rec["address"] = text("address").str.replace(r"\s+", "", regex=True).str.lower()
    if "birthday" in mapping:
        rec["birthday"] = text("birthday")
    if "email" in mapping:
        rec["email"] = text("email").str.lower()
    for c in rec.columns:
        rec[c] = rec[c].astype(object).where(rec[c].notna(), None)
    return rec.reset_index(drop=True)


def _visible_phone(s: pd.Series) -> pd.Series:
    """A Chinese mobile number as its visible digits (``138****5678``), full or masked.

    Examples
    --------
    >>> _visible_phone(pd.Series(["+86 138-1234-5678", "138****5678", "1804974", None])).tolist()
    ['138****5678', '138****5678', '1804974', None]
    """
    raw = s.astype("string").str.replace(r"[\s\-()]", "", regex=True)
    full = raw.str.extract(r"^(?:\+?86)?(1\d{2})\d{4}(\d{4})$")
    masked = raw.str.extract(r"^(?:\+?86)?(1\d{2})\*{3,5}(\d{4})$")
    out = (full[0] + "****" + full[1]).fillna(masked[0] + "****" + masked[1]).fillna(raw)
    return out.astype(object).where(out.notna() & out.ne(""), None)


def _match(records: pd.DataFrame, threshold: float, cfg: Any) -> pd.DataFrame:
    from scrm_lib.identity.config import IdentityConfig
    from scrm_lib.identity.trainable import ProbabilisticStage

    if not 0.0 < threshold < 1.0:
        raise ScrmError(f"threshold must be in (0, 1), not {threshold!r}")
    # no platforms here: a pair is kept on its own score, not as a unique best
    cfg = replace(cfg or IdentityConfig(), threshold=threshold, one_per_platform=False)
    stage = ProbabilisticStage(cfg)
    stage.fit(records)
    return stage.edges(records)


def dedupe_records(
    df: pd.DataFrame,
    *,
    columns: dict[str, str] | None = None,
    id_column: str | None = None,
    threshold: float = 0.8,
    config: Any = None,
) -> pd.DataFrame:
    """Pairs of rows of one frame that are probably the same person.

    Parameters
    ----------
    df
        One row per record, with any of :data:`FIELDS` (or columns mapped to them).
    columns
        Field → column name of ``df`` (``{"name": "收货人", "phone": "手机号"}``); fields
        named as the frame's columns are found on their own.
    id_column
        The column identifying a row (default: the index).
    threshold
        Least match probability of a returned pair.
    config
        An :class:`~scrm_lib.identity.config.IdentityConfig` (blocking, EM sizes).

    Returns
    -------
    pandas.DataFrame
        ``left_id, right_id, match_probability, match_weight, compared``
        (``compared``: JSON of field → comparison level), best first.

    Examples
    --------
    >>> df = pd.DataFrame({"name": ["王芳", "王芳", "李娜"],
    ...                    "phone": ["13812345678", "138****5678", "13900001111"]})
    >>> dedupe_records(df)[["left_id", "right_id"]].values.tolist()  # doctest: +SKIP
    [['0', '1']]
    """
    rec = _records(df, columns, id_column, "records")
    return _pairs(_match(rec, threshold, config))


def link_records(
    left_df: pd.DataFrame,
    right_df: pd.DataFrame,
    *,
    columns: dict[str, str] | None = None,
    right_columns: dict[str, str] | None = None,
    id_column: str | None = None,
    right_id_column: str | None = None,
    threshold: float = 0.8,
    config: Any = None,
) -> pd.DataFrame:
    """Pairs of a left and a right row that are probably the same person (link only).

    A CRM list against a shop export: rows are compared only across the two
    frames, never within one. The model trains on both together.

    Parameters
    ----------
    left_df, right_df
        The two lists, with any of :data:`FIELDS` (or columns mapped to them).
    columns, right_columns
        Field → column name, for the left frame and (default: the same) the right.
    id_column, right_id_column
        Row identifiers (default: the index), for the left and (default: the same
        name) the right frame.
    threshold
        Least match probability of a returned pair.
    config
        An :class:`~scrm_lib.identity.config.IdentityConfig`.

    Returns
    -------
    pandas.DataFrame
        ``left_id, right_id, match_probability, match_weight, compared``, best first.

    Examples
    --------
    >>> crm = pd.DataFrame({"id": ["c1"], "name": ["王芳"], "phone": ["13812345678"]})
    >>> shop = pd.DataFrame({"id": ["s1"], "name": ["王芳"], "phone": ["138****5678"]})
    >>> link_records(crm, shop, id_column="id")[["left_id", "right_id"]]  # doctest: +SKIP
      left_id right_id
    0      c1       s1
    """
    left = _records(left_df, columns, id_column, "left")
    right = _records(
        right_df,
        right_columns if right_columns is not None else columns,
        right_id_column if right_id_column is not None else id_column,
        "right",
    )
    # one id space: a side prefix keeps "1" on the left apart from "1" on the right
    left["unique_id"] = "L:" + left["unique_id"]
    right["unique_id"] = "R:" + right["unique_id"]
    both = pd.concat([left, right], ignore_index=True)
    edges = _match(both, threshold, config)
    if len(edges):
        side_a, side_b = edges["a"].str[:2], edges["b"].str[:2]
        edges = edges[side_a != side_b].copy()
        flip = edges["a"].str.startswith("R:")
        edges.loc[flip, ["a", "b"]] = edges.loc[flip, ["b", "a"]].to_numpy()
        edges["a"], edges["b"] = edges["a"].str[2:], edges["b"].str[2:]
    return _pairs(edges)


def _pairs(edges: pd.DataFrame) -> pd.DataFrame:
    if edges is None or edges.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    out = edges.rename(columns={"a": "left_id", "b": "right_id"}).reindex(columns=PAIR_COLUMNS)
    return out.sort_values(
        ["match_probability", "left_id", "right_id"], ascending=[False, True, True]
    ).reset_index(drop=True)
