"""Probabilistic stage: Splink (Fellegi–Sunter, EM-trained) for accounts without a strong key.

Tmall and Douyin buyers carry no phone, unionid or member number: only a
name as typed, masked phones (``138****5678``), an address and a city. Each
account becomes one Splink record:

- ``name`` and ``name_py`` (toneless pinyin, so that 張偉 / 张伟 and the
  homophone 张玮 agree on ``name_py``);
- ``mphone``: the visible seven digits of a masked phone, from
  ``phone_masked`` / ``alipay_masked`` or derived from a full phone; a masked
  value shared by more accounts than the hub limit (the shop's test phone
  ``138****8000``) is left out;
- ``city`` (the identifier, or the prefecture in the address), ``address``
  (whitespace removed), ``birthday``, ``email``.

λ comes from a deterministic rule and u from random pairs, both over all
records. m comes first from the pairs the deterministic stage joined (they
share a phone or a unionid, so they are matches) for the fields those pairs
carry (name, masked phone, platform), fixed from then on; EM on two
blocking passes estimates the rest (city, address, birthday) on whole name
groups of about ``train_max_records`` records. Without such pairs (Febrl)
EM estimates every m. Pairs at or above the configured threshold join the
graph with their probability and the comparison levels that justified them.

Example
-------
>>> to_pinyin(pd.Series(["張偉", "张玮", None])).tolist()
['zhang wei', 'zhang wei', None]
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import pandas as pd

from scrm_lib.identity.config import IdentityConfig
from scrm_lib.identity.graph import raw_duckdb

logger = logging.getLogger(__name__)

#: Columns the probabilistic model compares, in the ledger's "compared" order.
FEATURES = ("name", "name_py", "mphone", "city", "address", "birthday", "email", "platform")


def to_pinyin(names: pd.Series) -> pd.Series:
    """Toneless pinyin of each name, syllables joined by spaces (nulls stay null).

    Traditional characters map to their simplified reading, so variants of one
    name agree.
    """
    from pypinyin import Style, lazy_pinyin

    s = names.astype("string")
    uniq = s.dropna().unique()
    # one conversion per distinct name, then a vectorized map back to the rows
    table = {u: " ".join(lazy_pinyin(u, style=Style.NORMAL)).lower() for u in uniq}
    return s.map(table).astype(object).where(s.notna(), None)


_RECORDS_SQL = r"""
WITH masks AS (
    SELECT account_id, value AS m FROM identifiers
    WHERE kind IN ('phone_masked', 'alipay_masked')
      AND regexp_full_match(value, '1[0-9]{2}\*{4}[0-9]{4}')
    UNION ALL
    SELECT account_id, substr(value, 4, 3) || '****' || substr(value, 11, 4) FROM identifiers
    WHERE kind IN ('phone', 'recipient_phone') AND regexp_full_match(value, '\+861[0-9]{10}')
),
mask_plat AS (
    SELECT m, split_part(account_id, ':', 1) AS p, count(DISTINCT account_id) AS n
    FROM masks GROUP BY ALL
),
mask_use AS (SELECT m, sum(n) AS n, max(n) AS most FROM mask_plat GROUP BY m),
mphone AS (
    SELECT account_id, min(m) AS mphone FROM masks JOIN mask_use USING (m)
    WHERE n <= $hub_limit AND most <= $hub_platform_limit GROUP BY account_id
),
-- surnames seen in typed names: a WeChat nickname of two or three Han characters
-- starting with one of them (常见: the nickname is the real name) stands in for a name
surnames AS (
    SELECT left(value, 1) AS s FROM identifiers
    WHERE kind = 'name' AND regexp_full_match(value, '\p{Han}{2,4}')
    GROUP BY 1 HAVING count(*) >= 2
),
nick AS (
    SELECT account_id, min(value) AS nick_name FROM identifiers
    WHERE kind = 'nickname' AND regexp_full_match(value, '\p{Han}{2,3}')
      AND left(value, 1) IN (SELECT s FROM surnames)
    GROUP BY 1
),
one AS (
    SELECT account_id,
        min(value) FILTER (WHERE kind = 'name') AS name,
        min(value) FILTER (WHERE kind = 'city') AS city,
        min(regexp_replace(value, '\s+', '', 'g')) FILTER (WHERE kind = 'address') AS address,
        min(value) FILTER (WHERE kind = 'birthday') AS birthday,
        min(lower(value)) FILTER (WHERE kind = 'email') AS email
    FROM identifiers GROUP BY account_id
)
SELECT a.account_id AS unique_id, split_part(a.account_id, ':', 1) AS platform,
    coalesce(one.name, nick.nick_name) AS name,
    (one.name IS NULL AND nick.nick_name IS NOT NULL)::INTEGER AS name_nick, mphone.mphone,
    coalesce(one.city, nullif(regexp_extract(one.address, '^(?:[^省]+省)?([^省市]+市)', 1), ''))
        AS city,
    one.address, one.birthday, one.email
FROM accounts a
LEFT JOIN one USING (account_id)
LEFT JOIN mphone USING (account_id)
LEFT JOIN nick USING (account_id)
WHERE one.name IS NOT NULL OR mphone.mphone IS NOT NULL OR nick.nick_name IS NOT NULL
ORDER BY a.account_id
"""


#: One record per component: each field's value on its smallest account that has one;
#: ``platform`` lists the platforms of all its accounts (SMS contact points are not accounts).
_POOLED_SQL = """
WITH r AS ($records),
keyed AS (
    SELECT coalesce(c.component, r.unique_id) AS pid, r.* FROM r
    LEFT JOIN _identity_components c ON c.account_id = r.unique_id
),
plats AS (
    SELECT component AS pid, string_agg(DISTINCT p, ',' ORDER BY p) AS plats
    FROM (SELECT component, split_part(account_id, ':', 1) AS p FROM _identity_components)
    WHERE p <> 'phone' GROUP BY 1
),
pooled AS (
    SELECT pid,
        arg_min(platform, unique_id) AS platform,
        -- a typed name wins over a name-like nickname of the same person
        arg_min(name, name_nick::VARCHAR || unique_id) FILTER (WHERE name IS NOT NULL) AS name,
        arg_min(name_nick, name_nick::VARCHAR || unique_id) FILTER (WHERE name IS NOT NULL)
            AS name_nick,
        arg_min(mphone, unique_id) FILTER (WHERE mphone IS NOT NULL) AS mphone,
        arg_min(city, unique_id) FILTER (WHERE city IS NOT NULL) AS city,
        arg_min(address, unique_id) FILTER (WHERE address IS NOT NULL) AS address,
        arg_min(birthday, unique_id) FILTER (WHERE birthday IS NOT NULL) AS birthday,
        arg_min(email, unique_id) FILTER (WHERE email IS NOT NULL) AS email
    FROM keyed GROUP BY pid
)
SELECT pooled.pid AS unique_id, coalesce(plats.plats, pooled.platform) AS platform,
    name, name_nick, mphone, city, address, birthday, email
FROM pooled LEFT JOIN plats USING (pid)
ORDER BY unique_id
"""


def account_records(
    con: Any, cfg: IdentityConfig, component: pd.Series | None = None
) -> pd.DataFrame:
    """One Splink record per account, or per deterministic component.

    Parameters
    ----------
    con
        DuckDB connection (or ibis DuckDB backend) with ``accounts`` and ``identifiers``.
    cfg
        Hub limit for masked phones.
    component
        Deterministic component label per account id (:func:`.graph.cluster_accounts`).
        When given, the accounts of one component pool their fields into one
        record whose ``unique_id`` is the component label (its smallest account
        id): a mini-program account's city and its WeCom twin's phone then meet
        a Tmall buyer's masked phone and city together.
    """
    db = raw_duckdb(con)
    sql = _RECORDS_SQL.replace("$hub_limit", str(int(cfg.hub_limit))).replace(
        "$hub_platform_limit", str(int(cfg.hub_platform_limit))
    )
    if component is None:
        df = db.execute(sql).df()
    else:
        # pooled in the engine (pandas' groupby over a million string rows took minutes)
        comp = pd.DataFrame({"account_id": component.index, "component": component.to_numpy()})
        db.register("_identity_components", comp)
        try:
            df = db.execute(
                _POOLED_SQL.replace("$records", sql.replace("ORDER BY a.account_id", ""))
            )
            df = df.df()
        finally:
            db.unregister("_identity_components")
    df["name_py"] = to_pinyin(df["name"])
    return df


def name_blocks(records: pd.DataFrame, max_block: int) -> pd.Series:
    """The name blocking key of each record: its pinyin, split further in big blocks.

    A pinyin shared by at most ``max_block`` records is the key itself; a more
    common one (张伟 at a million persons) becomes ``pinyin|city``, and one
    still bigger ``pinyin|city|birthday``. A record whose block is bigger than
    ``max_block`` even then (or that lacks the field to split on) gets no key:
    it is compared only through its masked phone or address. Within such a
    block a name-and-city agreement alone could never be a unique best match
    (:func:`exclusive`), so little is lost; how many records is logged.

    Parameters
    ----------
    records
        ``name_py``, ``city`` and ``birthday`` per record (missing columns: null).
    max_block
        Largest block compared whole.

    Returns
    -------
    pandas.Series
        The key (null: no name block), aligned with ``records``.

    Examples
    --------
    >>> r = pd.DataFrame({"name_py": ["li na", "li na", "li na", "wang fang"],
    ...                   "city": ["上海市", "上海市", None, None]})
    >>> name_blocks(r, 2).tolist()
    ['li na|上海市', 'li na|上海市', None, 'wang fang']
    """
    r = records.reindex(columns=["name_py", "city", "birthday"])
    key = r["name_py"].astype("string")
    big = pd.Series(False, index=r.index)
    for col in ("city", "birthday"):
        size = key.map(key.value_counts())
        over = size.gt(max_block).fillna(False).astype(bool)
        if not over.any():
            break
        big |= over
        key = key.where(~over, key + "|" + r[col].astype("string"))
    key = key.where(key.map(key.value_counts()).le(max_block).fillna(False).astype(bool))
    left_out = big & key.isna()
    if left_out.any():
        top = r["name_py"][left_out].value_counts().head(5)
        logger.warning(
            "identity: %d records with a common name are left out of name blocking "
            "(block > max_block=%d even by city and birthday; most common: %s)",
            int(left_out.sum()),
            max_block,
            ", ".join(f"{k} ({v})" for k, v in top.items()),
        )
    return key.astype(object).where(key.notna(), None)


#: Blocking keys besides the name blocks (:func:`name_blocks`): key column → the fields a
#: pair must share to be compared. No single rule decides recall: a Tmall buyer and a
#: WeCom contact meet on the masked phone, two marketplace buyers on the address, a record
#: with a typo in the name on surname + birthday or on the address numbers + city.
#: Every key is bounded by construction (:func:`bounded_key`): its blocks above
#: ``max_block`` records are dropped, so a common name (张伟 at a million persons) stays
#: comparable through the keys that pair it with something rarer, never through a block
#: of thousands.
BLOCK_KEYS: dict[str, tuple[str, ...]] = {
    "blk_mphone": ("mphone",),
    "blk_address": ("address",),
    "blk_name_bday": ("name_py", "birthday"),
    "blk_name_addr": ("name_py", "addr_key"),
    "blk_name_city": ("name_py", "city"),
    "blk_addr_city": ("addr_key", "city"),
    "blk_bday_city": ("birthday", "city"),
    "blk_first_bday": ("name_first", "birthday"),
    "blk_last_bday": ("name_last", "birthday"),
    "blk_first_addr": ("name_first", "addr_key"),
    "blk_last_addr": ("name_last", "addr_key"),
    "blk_first_city": ("name_first", "city"),
    "blk_last_city": ("name_last", "city"),
}


def address_key(address: pd.Series) -> pd.Series:
    """The numbers of each address (road number, building, flat), joined by ``|``.

    Two spellings of one address (名都 / 名都小区, ``pl`` / ``place``) keep their
    numbers; two flats of one compound do not share them.

    Examples
    --------
    >>> address_key(pd.Series(["人民路237号名都38幢3001室", "7 wallaby pl", "无", None])).tolist()
    ['237|38|3001', '7', None, None]
    """
    s = address.astype("string").str.normalize("NFKC")
    key = s.str.findall(r"\d+").str.join("|")
    return key.astype(object).where(key.notna() & key.ne(""), None)


def name_tokens(name_py: pd.Series) -> tuple[pd.Series, pd.Series]:
    """First and last syllable (or word) of each name: surname and given name, either order.

    Examples
    --------
    >>> first, last = name_tokens(pd.Series(["zhang xiu mei", "mitchell green", None]))
    >>> first.tolist(), last.tolist()
    (['zhang', 'mitchell', None], ['mei', 'green', None])
    """
    parts = name_py.astype("string").str.split(" ")
    first, last = parts.str[0], parts.str[-1]
    return (
        first.astype(object).where(first.notna() & first.ne(""), None),
        last.astype(object).where(last.notna() & last.ne(""), None),
    )


def bounded_key(parts: list[pd.Series], max_block: int) -> pd.Series:
    """The values of ``parts`` joined, where every part is present and the block is small.

    A key held by one record compares nothing and one held by more than
    ``max_block`` records would compare too many: both become null.

    Examples
    --------
    >>> a = pd.Series(["x", "x", "x", "y", None])
    >>> bounded_key([a], 2).tolist()
    [None, None, None, None, None]
    >>> bounded_key([a, pd.Series(["1", "1", "2", "3", "4"])], 2).tolist()
    ['x|1', 'x|1', None, None, None]
    """
    key = parts[0].astype("string")
    for p in parts[1:]:
        key = key + "|" + p.astype("string")
    size = key.map(key.value_counts())
    keep = size.between(2, max_block).fillna(False).astype(bool)
    return key.astype(object).where(keep, None)


#: Weight of the term-frequency adjustment on names and cities. Half: the frequencies
#: are counted over records that still hold one person's unmerged accounts, so a name
#: typed on a buyer's three accounts looks three times as common as it is; the full
#: adjustment cost 0.6 points of recall at 5,000 persons (name-and-city pairs fell
#: below the threshold), half keeps it and still ranks 张伟 below 欧阳瑾.
CITY_TF_WEIGHT = 0.5
NAME_TF_WEIGHT = 0.5


def _settings(columns: list[str], link_type: str = "dedupe_only") -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons = []
    if "name" in columns:
        comparisons.append(
            cl.CustomComparison(
                comparison_levels=[
                    cll.NullLevel("name_py"),
                    # term frequencies: 张伟 agreeing says less than 欧阳瑾 agreeing
                    cll.ExactMatchLevel("name", term_frequency_adjustments=True).configure(
                        tf_adjustment_weight=NAME_TF_WEIGHT
                    ),
                    cll.ExactMatchLevel("name_py", term_frequency_adjustments=True).configure(
                        tf_adjustment_weight=NAME_TF_WEIGHT
                    ),
                    cll.JaroWinklerLevel("name_py", 0.9),
                    # given name and surname swapped (kranz alex / alex kranz), or one of
                    # them mistyped: the sorted words agree closely
                    cll.JaroWinklerLevel("name_sorted", 0.9),
                    # a nickname that merely looks like a name (向日葵) says little when it
                    # differs: its own level, so EM does not learn it as a contradiction
                    cll.CustomLevel(
                        "name_nick_l = 1 OR name_nick_r = 1",
                        label_for_charts="differs, one is a nickname",
                    ).configure(
                        # neutral and fixed: the training blocks hold too few such pairs
                        # for EM, which drove its m to ~0 (a contradiction) at every size
                        m_probability=0.05,
                        u_probability=0.05,
                        fix_m_probability=True,
                        fix_u_probability=True,
                    ),
                    cll.ElseLevel(),
                ],
                output_column_name="name",
            )
        )
    if "mphone" in columns:
        comparisons.append(cl.ExactMatch("mphone"))
    if "city" in columns:
        comparisons.append(
            cl.CustomComparison(
                comparison_levels=[
                    cll.NullLevel("city"),
                    # term frequencies: 上海市 agreeing says less than 丽水市 agreeing
                    cll.ExactMatchLevel("city", term_frequency_adjustments=True).configure(
                        tf_adjustment_weight=CITY_TF_WEIGHT
                    ),
                    # a typo (ringwood / ringqood); two Chinese cities of three characters
                    # sharing 州市 score 0.78, below it
                    cll.JaroWinklerLevel("city", 0.9),
                    cll.ElseLevel(),
                ],
                output_column_name="city",
            )
        )
    if "address" in columns:
        comparisons.append(
            cl.CustomComparison(
                comparison_levels=[
                    # a missing address is neutral: most WeCom contacts carry none
                    cll.NullLevel("address"),
                    cll.ExactMatchLevel("address"),
                    # the same numbers (road number, building, flat) in a similar text: one
                    # address typed twice. Jaro-Winkler alone rates two flats of one
                    # district (a long shared 省市区 prefix) as similar, which at a
                    # million persons linked neighbours: the numbers must agree too
                    cll.CustomLevel(
                        # character-set overlap, not Jaro-Winkler: one side may omit
                        # the 省市 prefix (上城区五一北路… / 杭州市上城区五一北路…)
                        "addr_key_l = addr_key_r AND jaccard(addr_text_l, addr_text_r) >= 0.5",
                        label_for_charts="same numbers, similar text",
                    ),
                    # the same street with other numbers: a neighbour in a Chinese
                    # compound, a mistyped house number elsewhere; EM learns which
                    cll.JaroWinklerLevel("addr_text", 0.9).configure(
                        label_for_charts="similar text, other numbers"
                    ),
                    # a partial address (a district, no numbers) cannot contradict a
                    # full one: neutral, fixed like the nickname level
                    cll.CustomLevel(
                        "addr_key_l IS NULL OR addr_key_r IS NULL",
                        label_for_charts="one address has no numbers",
                    ).configure(
                        m_probability=0.05,
                        u_probability=0.05,
                        fix_m_probability=True,
                        fix_u_probability=True,
                    ),
                    # two full addresses that differ: evidence against, at least
                    # ADDRESS_MISMATCH_BITS (see address_mismatch_floor)
                    cll.ElseLevel(),
                ],
                output_column_name="address",
            )
        )
    if "birthday" in columns:
        # one digit mistyped or two swapped (19951022 / 19951202 is two edits)
        comparisons.append(cl.DamerauLevenshteinAtThresholds("birthday", [1]))
    if "email" in columns:
        comparisons.append(cl.ExactMatch("email"))
    if "platform" in columns:
        # one person rarely holds two accounts on one platform: a shared platform is
        # evidence against (EM learns how much); "platform" lists a component's platforms
        comparisons.append(
            cl.CustomComparison(
                comparison_levels=[
                    cll.NullLevel("platform"),
                    cll.CustomLevel(
                        "len(list_intersect(string_split(platform_l, ','), "
                        "string_split(platform_r, ','))) > 0",
                        label_for_charts="share a platform",
                    ),
                    cll.ElseLevel(),
                ],
                output_column_name="platform",
            )
        )
    rules = [block_on(k) for k in _block_columns(columns)]
    return SettingsCreator(
        link_type=link_type,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=True,
    )


def _block_columns(columns: list[str]) -> list[str]:
    """The blocking key columns the features in ``columns`` allow, in rule order."""
    have = set(columns)
    if "name" in have:
        have |= {"name_py", "name_first", "name_last"}
    if "address" in have:
        have.add("addr_key")
    out = [k for k, parts in BLOCK_KEYS.items() if set(parts) <= have]
    if "name" in columns:
        out[1:1] = ["name_block", "name_prefix_block"]
    return out


#: Fewest labelled pairs (accounts joined by the deterministic stage) that estimate m
#: from labels; below it EM estimates them.
MIN_LABELLED_PAIRS = 200


def train_model(
    records: pd.DataFrame, cfg: IdentityConfig, labels: pd.Series | None = None
) -> dict[str, Any] | None:
    """Estimate the Fellegi–Sunter model on the records (λ, u by sampling, m by labels or EM).

    With ``labels`` (the deterministic component of each account), the m
    probabilities of names, masked phones and platforms come from the pairs
    of accounts the deterministic stage joined (they share a phone or a
    unionid, so they are matches) and stay fixed (:func:`_fix_labelled_m`);
    EM then estimates the fields those pairs rarely carry (city, address,
    birthday) on whole name groups (:func:`_em_sample`). Without labels (or
    with fewer than :data:`MIN_LABELLED_PAIRS` pairs, as on Febrl) EM
    estimates every m.

    Parameters
    ----------
    records
        One row per account or component: ``unique_id`` plus any of :data:`FEATURES`.
    cfg
        u-sampling size and seed.
    labels
        Component label per ``unique_id`` (accounts sharing a label are matches).

    Returns
    -------
    dict or None
        ``{"columns": [...], "splink": <Splink model JSON>}``; None with fewer
        than three records (nothing to estimate).
    """
    from splink import block_on

    if len(records) < 3:
        return None
    # a column that is null everywhere has no parameters to estimate: leave it out
    cols = [c for c in FEATURES if c in records.columns and records[c].notna().any()]
    df = _with_blocks(records, cols, cfg)
    labelled = 0
    if labels is not None:
        lab = records["unique_id"].map(labels)
        size = lab.map(lab.value_counts())
        df["identity_label"] = lab.where(size > 1)
        k = size[size > 1].groupby(lab[size > 1]).first()
        labelled = int((k * (k - 1) // 2).sum())
    with _splink(df, _settings(cols), cfg.splink_memory_limit) as linker:
        lam = _lambda_rules(cols)
        if lam:
            linker.training.estimate_probability_two_random_records_match(
                [block_on(*r) for r in lam], recall=0.6
            )
        linker.training.estimate_u_using_random_sampling(max_pairs=cfg.max_pairs, seed=cfg.seed)
        if labelled >= MIN_LABELLED_PAIRS:
            linker.training.estimate_m_from_label_column("identity_label")
        model = linker.misc.save_model_to_json()
    if labelled >= MIN_LABELLED_PAIRS:
        model = _fix_labelled_m(model)
    # EM on a sample of whole name groups: a person's accounts mostly share the pinyin
    # of their name, so the sample keeps its matches together (a sample of records
    # would keep a pair only with the square of the rate, and EM then lost the matches)
    sample = df[_em_sample(records, cfg.train_max_records)]
    ctx = _splink(sample.reset_index(drop=True), model, cfg.splink_memory_limit)
    with ctx as linker:
        for rule in ("city", "name_py"):
            if rule not in cols:
                continue
            # a pass that fails midway leaves the linker without the comparisons it set
            # aside (the blocked-on name): start again from the model before the pass
            before = linker.misc.save_model_to_json()
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(rule),
                    estimate_without_term_frequencies=True,
                    max_pairs=cfg.em_max_pairs,
                )
            except (ValueError, ZeroDivisionError) as exc:
                # EM can collapse (λ → 0 or 1) on a block with no matches left: keep the
                # other pass's estimates rather than fail the build
                logger.warning("EM on block %s skipped: %s", rule, exc)
                linker = ctx.relink(before)
        return {"columns": cols, "splink": linker.misc.save_model_to_json()}


def _lambda_rules(cols: list[str]) -> list[tuple[str, ...]]:
    """Deterministic rules whose pairs are near-certain matches, for λ (the prior).

    The masked phone with the name where there is one; without it (a CRM list, Febrl)
    the name with the birthday or the address.
    """
    if {"mphone", "name"} <= set(cols):
        return [("mphone", "name")]
    return [r for r in (("name", "birthday"), ("name", "address")) if set(r) <= set(cols)]


#: m of a level no labelled pair reached (a name that differs entirely): rare, not impossible.
LABEL_M_FLOOR = 1e-6


def _fix_labelled_m(model: dict[str, Any]) -> dict[str, Any]:
    """Keep the m the labels measured fixed through EM; EM estimates only the rest.

    Labelled pairs (accounts sharing a phone or unionid) show how a match's names,
    masked phones and platforms agree; they rarely both carry a city or an address
    (a WeCom contact has neither), so those comparisons are left to EM, which the
    fixed ones keep from drifting to another latent class (same name and city, at a
    million persons). A level no labelled pair reached gets :data:`LABEL_M_FLOOR`.
    """
    for comp in model["comparisons"]:
        # a level fixed in the settings (nickname, partial address) is no label's work
        levels = [
            lv
            for lv in comp["comparison_levels"]
            if not lv.get("is_null_level") and not lv.get("fix_m_probability")
        ]
        if not levels:
            continue
        if not any(lv.get("m_probability") is not None for lv in levels):
            continue  # no labelled pair compared this field: EM's job
        for lv in levels:
            if lv.get("m_probability") is None:
                lv["m_probability"] = LABEL_M_FLOOR
            lv["fix_m_probability"] = True
    return model


def _em_sample(records: pd.DataFrame, most: int) -> pd.Series:
    """Which records EM trains on: all of them, or whole name groups up to about ``most``.

    A record's group is its name pinyin (its id when it has no name); groups are
    kept by a hash of the key, so the sample is the same on every build.

    Examples
    --------
    >>> r = pd.DataFrame({"unique_id": list("abcd"), "name_py": ["li na"] * 2 + [None] * 2})
    >>> _em_sample(r, 10).tolist()
    [True, True, True, True]
    """
    n = len(records)
    if n <= most:
        return pd.Series(True, index=records.index)
    key = records.get("name_py", pd.Series(None, index=records.index))
    key = key.astype(object).where(key.notna(), records["unique_id"].astype(str))
    bucket = pd.util.hash_pandas_object(key, index=False).to_numpy() % 1_000_000
    return pd.Series(bucket < 1_000_000 * most / n, index=records.index)


def _with_blocks(records: pd.DataFrame, cols: list[str], cfg: IdentityConfig) -> pd.DataFrame:
    """The columns Splink gets: the model's features plus the blocking keys."""
    df = records.reindex(columns=["unique_id", *cols])
    if "source_dataset" in records.columns:
        df["source_dataset"] = records["source_dataset"]
    parts: dict[str, pd.Series] = {c: records[c] for c in cols if c in records.columns}
    if "name" in cols:
        nick = records["name_nick"] if "name_nick" in records.columns else 0
        df["name_nick"] = pd.Series(nick, index=records.index).fillna(0).astype(int)
        df["name_block"] = name_blocks(records, cfg.max_block)
        # a dropped last character (陈伟宇 / 陈伟) keeps the first two syllables
        prefix = records.assign(name_py=name_prefix(records["name_py"]))
        df["name_prefix_block"] = name_blocks(prefix, cfg.max_block)
        parts["name_first"], parts["name_last"] = name_tokens(records["name_py"])
        words = records["name_py"].astype("string").str.split(" ")
        df["name_sorted"] = words.map(sorted, na_action="ignore").str.join(" ").astype(object)
    if "address" in cols:
        df["addr_key"] = parts["addr_key"] = address_key(records["address"])
        text = records["address"].astype("string").str.replace(r"[\d\s]+", "", regex=True)
        df["addr_text"] = text.astype(object).where(text.notna() & text.ne(""), None)
    for key in _block_columns(cols):
        if key in BLOCK_KEYS:
            df[key] = bounded_key([parts[p] for p in BLOCK_KEYS[key]], cfg.max_block)
    return df


def name_prefix(name_py: pd.Series) -> pd.Series:
    """The first two syllables of each pinyin name (nulls stay null).

    Examples
    --------
    >>> name_prefix(pd.Series(["chen wei yu", "chen wei", None])).tolist()
    ['chen wei', 'chen wei', None]
    """
    s = name_py.astype("string")
    out = s.str.split(" ").str.slice(0, 2).str.join(" ")
    return out.astype(object).where(s.notna(), None)


class _splink:
    """A Splink DuckDB linker over a private database, memory-capped, Splink's chatter muted."""

    def __init__(self, df: pd.DataFrame, settings: Any, memory_limit: str = "2GB") -> None:
        self.df, self.settings, self.memory_limit = df, settings, memory_limit

    def __enter__(self) -> Any:
        import tempfile

        import duckdb
        from splink import DuckDBAPI

        # DuckDB's default cap is 80% of RAM, on top of the warehouse connection's own:
        # cap it and let it spill to a private directory
        self.spill = tempfile.TemporaryDirectory(prefix="scrm-splink-")
        self.db = duckdb.connect(
            config={
                "memory_limit": self.memory_limit,
                "temp_directory": self.spill.name,
                "preserve_insertion_order": False,
            }
        )
        self.log = logging.getLogger("splink")
        self.level = self.log.level
        # Splink warns about untrainable levels (a field seen on one platform only): expected
        self.log.setLevel(logging.ERROR)
        self.sdf = DuckDBAPI(connection=self.db).register(self.df, table_name="identity_records")
        return self.relink(self.settings)

    def relink(self, settings: Any) -> Any:
        """A fresh linker over the same registered records, from ``settings`` (or a model)."""
        from splink import Linker

        return Linker(self.sdf, settings, log_level=None)

    def __exit__(self, *exc: object) -> None:
        self.log.setLevel(self.level)
        self.db.close()
        self.spill.cleanup()


def probabilistic_edges(
    records: pd.DataFrame, cfg: IdentityConfig, model: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Pairs whose Splink match probability is at or above ``cfg.threshold``.

    Parameters
    ----------
    records
        One row per account: ``unique_id`` plus any of :data:`FEATURES`.
    cfg
        Threshold, u-sampling size and seed.
    model
        A model from :func:`train_model` (default: trained on ``records``).

    Returns
    -------
    pandas.DataFrame
        ``a, b, match_probability, match_weight, compared, ambiguous`` where
        ``compared`` names the fields that agreed (JSON object of field →
        comparison level) and ``ambiguous`` marks matches that are not each
        side's unique best on a platform (:func:`exclusive`): not used to link.
    """
    out_cols = ["a", "b", "match_probability", "match_weight", "compared", "ambiguous"]
    if model is None:
        model = train_model(records, cfg)
    if model is None or len(records) < 2:
        return pd.DataFrame(columns=out_cols)
    df = _with_blocks(records, model["columns"], cfg)
    settings = address_mismatch_floor(model["splink"])
    with _splink(df, settings, cfg.splink_memory_limit) as linker:
        pred = linker.inference.predict(
            threshold_match_probability=cfg.threshold
        ).as_pandas_dataframe()
    if pred.empty:
        return pd.DataFrame(columns=out_cols)
    # the engine returns pairs in no set order: fix one, so the ledger is reproducible
    pred = pred.sort_values(["unique_id_l", "unique_id_r"], ignore_index=True)
    gamma = [c for c in pred.columns if c.startswith("gamma_")]
    shown = pred[gamma].rename(columns=lambda c: c.removeprefix("gamma_"))
    compared = shown.to_dict(orient="records")

    out = pd.DataFrame(
        {
            "a": pred["unique_id_l"].astype(str),
            "b": pred["unique_id_r"].astype(str),
            "match_probability": pred["match_probability"].astype(float),
            "match_weight": pred["match_weight"].astype(float),
            "compared": [json.dumps(c) for c in compared],
        }
    )
    if cfg.one_per_platform and "platform" in records.columns:
        out["ambiguous"] = ~exclusive(out, records.set_index("unique_id")["platform"])
    else:
        out["ambiguous"] = False
    return out


#: Least evidence against a match when two full addresses differ (bits, a factor of 4096).
#: Precision first: a shared name, district and masked phone add up to more than 20
#: bits, and two people behind such a pair were merged at probability 1.000 while
#: their delivery addresses had nothing in common (issue 13, finding 8). Accounts of
#: one person with two homes still join through a phone or a unionid; a learned weight
#: that is already stronger (−49 bits on the 5,000-person sample) is kept.
ADDRESS_MISMATCH_BITS = 12.0


def address_mismatch_floor(model: dict[str, Any]) -> dict[str, Any]:
    """The model with its "addresses differ" weight at most ``-ADDRESS_MISMATCH_BITS``.

    Applies to trained models and fixed priors alike; a copy is returned.

    Examples
    --------
    >>> m = {"comparisons": [{"output_column_name": "address", "comparison_levels": [
    ...     {"sql_condition": "ELSE", "m_probability": 0.4, "u_probability": 0.99}]}]}
    >>> lv = address_mismatch_floor(m)["comparisons"][0]["comparison_levels"][0]
    >>> round(math.log2(lv["m_probability"] / lv["u_probability"]), 1)
    -12.0
    """
    import copy

    out = copy.deepcopy(model)
    for comp in out.get("comparisons", []):
        if comp.get("output_column_name") != "address":
            continue
        for lv in comp["comparison_levels"]:
            m, u = lv.get("m_probability"), lv.get("u_probability")
            if str(lv.get("sql_condition", "")).strip().upper() != "ELSE" or not m or not u:
                continue
            if math.log2(m / u) > -ADDRESS_MISMATCH_BITS:
                lv["m_probability"] = u * 2.0**-ADDRESS_MISMATCH_BITS
    return out


def exclusive(pairs: pd.DataFrame, platforms: pd.Series) -> pd.Series:
    """Which matches are each side's unique best partner on every platform of the other side.

    A person holds at most one account per platform (as a rule), so a
    WeCom contact matching two Tmall buyers named 王芳 is ambiguous: it is
    joined to neither unless one scores strictly higher. A pair is kept when
    ``b`` is ``a``'s strictly best match among candidates holding each of
    ``b``'s platforms, and the same for ``a`` seen from ``b``.

    Parameters
    ----------
    pairs
        ``a, b, match_probability``.
    platforms
        Comma-separated platforms of each record, indexed by record id.

    Returns
    -------
    pandas.Series
        Boolean, aligned with ``pairs``.

    Examples
    --------
    >>> pairs = pd.DataFrame({"a": ["w1", "w1", "w2"], "b": ["t1", "t2", "d1"],
    ...                       "match_probability": [0.8, 0.8, 0.9]})
    >>> plats = pd.Series({"w1": "wecom", "w2": "wecom", "t1": "tmall", "t2": "tmall",
    ...                    "d1": "douyin"})
    >>> exclusive(pairs, plats).tolist()
    [False, False, True]
    """
    if pairs.empty:
        return pd.Series(dtype=bool, index=pairs.index)
    p = pairs[["a", "b", "match_probability"]].reset_index(drop=True)
    p["pair"] = p.index
    both = pd.concat([p, p.rename(columns={"a": "b", "b": "a"})], ignore_index=True)
    both["platform"] = both["b"].map(platforms).fillna("").str.split(",")
    ex = both.explode("platform")
    grp = ex.groupby(["a", "platform"])["match_probability"]
    top = ex["match_probability"] == grp.transform("max")
    n_top = top.groupby([ex["a"], ex["platform"]]).transform("sum")
    ex["best"] = top & (n_top == 1)
    ok = ex.groupby("pair")["best"].all()
    return pd.Series(ok.reindex(p["pair"], fill_value=False).to_numpy(), index=pairs.index)
