"""A person's name out of what sales reps and customers type: remarks, nicknames.

A WeCom remark is the customer's name as a rep typed it, usually with
something beside it: a city (``孙梅 杭州``, ``孙梅杭州``), a product
(``孙梅-护肤``, ``孙梅(面霜)``, ``孙梅/精华``), phone digits (``孙梅 5678``),
a sorting prefix (``A孙梅``), emoji (``🌸孙梅🌸``) or a form of address
(``王女士``, ``张姐``, ``刘总``, ``小王``). :func:`clean_person_name` keeps
the name and drops the rest; :func:`person_name_parts` also says which
surname a form of address carried.

A form of address that holds only a surname (``王女士``, ``张姐``, ``小王``)
gives no name: a surname alone is shared by millions (王 by about 7% of
people), so as a ``name`` it would join strangers. Its surname is reported
apart, for display or a later, weaker use. Rules err toward leaving a name
alone: a single-character kinship word is dropped only from a two-character
remark (``张姐``), never from a longer one, because names end in those
characters too (``李招弟``, ``王小妹``).

Place names come from :mod:`scrm_lib.ingest.cn_places`, frozen from
phonenumbers' geocoding data by ``scripts/make_cn_places.py`` (jieba's
``ns`` words were tried: they include 建国, 江山, 赞美, common given names).

Example
-------
>>> import pandas as pd
>>> clean_person_name(pd.Series(["孙梅 杭州", "🌸孙梅🌸", "王女士", "欧阳娜娜"])).tolist()
['孙梅', '孙梅', nan, '欧阳娜娜']
"""

from __future__ import annotations

import re

import pandas as pd

from scrm_lib.ingest.cn_places import CITIES, PROVINCES

# CJK unified ideographs and extension A: what Chinese names are written in.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_DOT = "·"  # the separator of transcribed names: 阿卜杜·热合曼

_COMPOUND = "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 端木 南宫 "
_COMPOUND += "呼延 独孤 西门 申屠 太史 闻人 澹台 公羊 赫连 万俟 钟离 宗政 濮阳 淳于 单于 仲孙"
COMPOUND_SURNAMES = frozenset(_COMPOUND.split())
# Words of address that follow a name or surname; longest first so 小姐 wins over 姐.
_TITLES = "女士 先生 小姐 太太 夫人 老师 总监 经理 老板 老板娘 医生 律师 主任 院长 校长 同学 "
_TITLES += "姐姐 哥哥 阿姨 叔叔 大姐 大哥 宝妈 妈妈 奶奶 爷爷 美女 帅哥"
TITLES = sorted(_TITLES.split(), key=len, reverse=True)
# One-character words of address: only ever stripped from a two-character remark.
SHORT_TITLES = "姐哥妹弟姨叔总妈爸婶嫂"
# Remarks that name nobody.
_NOT_NAMES = "客户 顾客 买家 用户 会员 未知 未命名 无名 无 测试 微信用户 新客户 老客户"
NOT_NAMES = frozenset(_NOT_NAMES.split())

_PLACES = list(CITIES | PROVINCES)
_BRACKETS = re.compile(
    r"\([^)]*\)?|\[[^\]]*\]?|【[^】]*】?|《[^》]*》?|<[^>]*>?|「[^」]*」?|〔[^〕]*〕?"
)
_SEPARATORS = re.compile(r"[-—–~_/\\|,;:+#&@、。!?\"]")
# Anything that is not a letter of a name: emoji, symbols, digits, masks, dots.
_NOT_NAME = re.compile(rf"[^{_HAN}A-Za-z{_DOT}' ]+")
_HAS_HAN = re.compile(rf"[{_HAN}]")


def clean_person_name(values: pd.Series) -> pd.Series:
    """The person's name in each remark or nickname; NA where none is left.

    Parameters
    ----------
    values
        Free text as typed (remarks, nicknames, receiver names).

    Returns
    -------
    pandas.Series
        String dtype, same index: a Chinese name of 2–4 characters (longer
        with ``·``), or a Latin name; NA for empty text, a surname with a
        form of address (``王女士``) or text that holds no name.

    Examples
    --------
    >>> s = pd.Series(["孙梅-护肤", "孙梅(面霜)", "孙梅1381234", "张姐", "Amy Wang", None])
    >>> clean_person_name(s).tolist()
    ['孙梅', '孙梅', '孙梅', nan, 'Amy Wang', nan]
    """
    return person_name_parts(values)["name"]


def person_name_parts(values: pd.Series) -> pd.DataFrame:
    """``name`` (as :func:`clean_person_name`) and the ``surname`` a form of address held.

    Parameters
    ----------
    values
        Free text as typed.

    Returns
    -------
    pandas.DataFrame
        ``name`` and ``surname`` (string dtype, NA when absent), same index.
        ``surname`` is filled only where the text was a surname with a word
        of address (``王女士``, ``张姐``, ``刘总``, ``老王``, ``小王``,
        ``欧阳先生``), and then ``name`` is NA.

    Examples
    --------
    >>> person_name_parts(pd.Series(["王女士", "王丽女士", "小王"])).values.tolist()
    [[nan, '王'], ['王丽', nan], [nan, '王']]
    """
    if not isinstance(values, pd.Series):
        raise TypeError(f"person_name_parts: expected a pandas Series, not {type(values).__name__}")
    # Names repeat: the work is done once per distinct text.
    text = values.astype("str")
    uniq = pd.Series(text.dropna().unique(), dtype="str")
    # NFKC: full-width letters, digits and brackets become ASCII ones.
    s = uniq.str.normalize("NFKC").str.replace("[・•]", _DOT, regex=True)
    s = _drop_notes(s)
    s = s.str.replace(_NOT_NAME, " ", regex=True)
    s = _pick_token(s)
    # letters beside a Chinese name are a rep's sorting prefix or a tag (A孙梅, 孙梅VIP)
    han = s.str.contains(_HAS_HAN, na=False)
    s = s.mask(han, s.str.replace(r"[A-Za-z' ]+", "", regex=True))
    s = s.str.strip(f"{_DOT} '").str.replace(r"\s+", " ", regex=True)
    s = _strip_places(s)
    name, surname = _strip_titles(s)
    parts = pd.DataFrame({"name": _plausible(name), "surname": surname})
    parts.index = pd.Index(uniq.to_numpy(), dtype="str")
    out = parts.reindex(text.to_numpy())
    out.index = values.index
    return out.astype("str")


def _drop_notes(s: pd.Series) -> pd.Series:
    """Bracketed notes out; of the parts between separators, the first that has letters."""
    no_brackets = s.str.replace(_BRACKETS, " ", regex=True)
    # a remark that is all brackets keeps its contents: (孙梅)
    empty = ~no_brackets.str.contains(rf"[{_HAN}A-Za-z]", regex=True, na=False)
    s = no_brackets.mask(
        empty & s.notna(), s.str.replace(r"[()\[\]【】《》<>「」〔〕]", " ", regex=True)
    )
    parts = s.str.split(_SEPARATORS, regex=True)
    # the first part that holds letters (not the digits of "138-1234-孙梅")
    exploded = parts.explode()
    useful = exploded[exploded.str.contains(rf"[{_HAN}A-Za-z]", regex=True, na=False)]
    first = useful.groupby(level=0, sort=False).first()
    return first.reindex(s.index).astype("str")


def _pick_token(s: pd.Series) -> pd.Series:
    """Of space-separated words, the name: the Chinese words that are not places, else all."""
    s = s.str.strip().mask(lambda x: x == "")
    multi = s.str.contains(" ", regex=False, na=False)
    out = s.mask(_is_place(s))
    if not multi.any():
        return out
    tok = s[multi].str.split(" +", regex=True, expand=True)
    tok = tok.where(tok != "")
    han = tok.apply(lambda c: c.str.contains(_HAS_HAN, na=False))
    place = tok.apply(_is_place)
    kept_han = tok.where(han & ~place)
    latin = tok.where(~han & tok.notna())
    cols = list(tok.columns)
    first = kept_han[cols[-1]]
    for c in reversed(cols[:-1]):
        first = kept_han[c].fillna(first)
    glued = kept_han[cols[0]].fillna("")
    spaced = latin[cols[0]].fillna("")
    for c in cols[1:]:
        glued = glued + kept_han[c].fillna("")
        spaced = spaced + " " + latin[c].fillna("")
    # "孙 梅" or "王 女士": a single character belongs with the words after it
    han_name = first.mask(first.str.len() == 1, glued)
    any_han = (han & ~place).any(axis=1)
    latin_name = spaced.str.strip().mask(lambda x: x == "")
    out[multi] = han_name.where(any_han, latin_name)
    return out


def _is_place(s: pd.Series) -> pd.Series:
    """Whole text is one or more places, each perhaps with 省/市/区/县 (浙江省杭州市)."""
    rest = s.copy()
    hit = pd.Series(False, index=s.index)
    for _ in range(3):
        cut = _cut_place(rest, end=True)
        found = cut.notna()
        hit |= found & (cut == "")
        rest = cut.where(found & (cut != ""))
        if not rest.notna().any():
            break
    return hit


def _cut_place(s: pd.Series, *, end: bool) -> pd.Series:
    """``s`` without a place at its end (or start); NA where there is none.

    Slices and set look-ups per length rather than one regex with 380
    alternatives: that regex backtracked over every split of every name.
    """
    out = pd.Series(pd.NA, index=s.index, dtype="str")
    base = s
    if end:
        # an administrative suffix goes with the place before it
        base = s.str.replace(r"(?:自治区|省|市|区|县)$", "", regex=True)
    for k in (4, 3, 2):
        part = base.str[-k:] if end else base.str[:k]
        rest = base.str[:-k] if end else base.str[k:]
        hit = out.isna() & (base.str.len() >= k) & part.isin(_PLACES)
        if not end:
            rest = rest.str.replace(r"^(?:自治区|省|市|区|县)", "", regex=True)
        out = out.mask(hit, rest)
    return out


def _strip_places(s: pd.Series) -> pd.Series:
    """A place written against the name (孙梅杭州, 杭州孙梅) is cut when two characters remain."""
    out = s.copy()
    for end in (True, False):
        for _ in range(2):  # 浙江杭州: province and city
            cut = _cut_place(out, end=end)
            ok = cut.notna() & (cut.str.len() >= 2) & ~cut.isin(COMPOUND_SURNAMES)
            # 王海南 keeps its 海南: one character is not a name
            out = out.mask(ok, cut)
    return out.astype("str")


def _strip_titles(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    rest = pd.Series(pd.NA, index=s.index, dtype="str")
    for k in sorted({len(t) for t in TITLES}, reverse=True):
        hit = rest.isna() & (s.str.len() > k) & s.str[-k:].isin(TITLES)
        rest = rest.mask(hit, s.str[:-k])
    two = s.str.len() == 2
    short = s.str[-1:].isin(list(SHORT_TITLES))
    rest = rest.mask(rest.isna() & two & short, s.str[:1])
    three = (s.str.len() == 3) & s.str[:2].isin(COMPOUND_SURNAMES) & short
    rest = rest.mask(rest.isna() & three, s.str[:2])
    by_prefix = two & s.str[:1].isin(["小", "老", "阿"])
    bare = s.isin(TITLES) | s.isin(list(SHORT_TITLES))
    surname_only = rest.notna() & ((rest.str.len() == 1) | rest.isin(COMPOUND_SURNAMES))
    surname = rest.where(surname_only)
    # 小X / 老X name a surname; 阿X is usually a given name (阿梅), so it names none
    surname = surname.fillna(s.str[1:].where(by_prefix & ~s.str.startswith("阿")))
    name = s.mask(rest.notna() & ~surname_only, rest)
    name = name.mask(surname_only | by_prefix | bare)
    return name.astype("str"), surname.astype("str")


def _plausible(name: pd.Series) -> pd.Series:
    han = name.str.contains(_HAS_HAN, na=False)
    n_han = name.str.count(rf"[{_HAN}]")
    dotted = name.str.contains(_DOT, regex=False, na=False)
    ok_han = han & (n_han >= 2) & ((n_han <= 4) | dotted) & ~name.isin(NOT_NAMES)
    ok_latin = ~han & (name.str.count("[A-Za-z]") >= 2)
    return name.where(ok_han | ok_latin).astype("str")


__all__ = ["clean_person_name", "person_name_parts"]
