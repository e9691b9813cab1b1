"""Masking of personal data and safe exports.

Roles decide what a user may see and do; masking happens on the way out
(dashboard tables, exports), never in the warehouse. Which columns are
personal, and how each is masked, is declared once with the table schemas
(:data:`scrm_lib.schema.PERSONAL_COLUMNS`); :func:`mask_frame` applies it to
every table a page shows, and :func:`export_frame` / :func:`export_bytes` /
:func:`write_export` to every export, whoever calls them.

Account ids are masked, not replaced by a keyed hash: every export row
already carries the warehouse's pseudonymous ``person_id`` (and the opaque
platform keys, openid or external_userid, pass unmasked), which is what an
export is joined back on; a second key would be one more secret to keep
and rotate for no row that cannot already be found.

Example
-------
>>> mask_phone("+8613812345678")
'138****5678'
>>> mask_frame(pd.DataFrame({"account_id": ["phone:+8615871261351", "tmall:夏国华632341418"]}))[
...     "account_id"
... ].tolist()
['phone:158****1351', 'tmall:夏**…']
>>> escape_formulas(pd.DataFrame({"x": ["=1+1", "ok"]}))["x"].tolist()
["'=1+1", 'ok']
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from scrm_lib.errors import ConfigError
from scrm_lib.schema import (
    IDENTIFIER_KINDS,
    NICKNAME_PLATFORMS,
    NOT_PERSONAL_COLUMN_NAMES,
    PERSONAL_COLUMN_NAMES,
    PERSONAL_COLUMNS,
)

ROLES = ("viewer", "marketer", "admin")

#: What each role may do; every check in the UI and CLI goes through :func:`can`.
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"view"}),
    # run_automation: run the automation rules for a date (keeps that date's outbox)
    "marketer": frozenset({"view", "export", "save_segment", "run_automation"}),
    # review_abuse: referral abuse flags (who gamed invites, with their shared phones and devices)
    "admin": frozenset(
        {"view", "export", "save_segment", "run_automation"}
        | {"unmask", "edit_identity", "audit", "review_abuse"}
    ),
}

# Patterns are plain strings in RE2's subset (no \s, \d or \b, which pandas runs in
# Python's re for non-ASCII text; named groups for extract), so pyarrow runs them
# vectorized: a million cells in about a second instead of ten.
_SEP = "[ \t\u3000-]?"  # a space, a tab, an ideographic space or a dash
_MOBILE = rf"(?:\+?86{_SEP})?(1[3-9][0-9]){_SEP}[0-9]{{4}}{_SEP}([0-9]{{4}})"
_HAS_MOBILE = rf"1[3-9][0-9]{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}}"
_EMAIL = r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+)"
_ID_CARD = r"(^|[^0-9])([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])([^0-9Xx]|$)"
_NON_ASCII = r"[^\x00-\x7F]"
_JSON_KEY = r'"((?:[^"\\]|\\.)*)"([ \t]*:)'
_JSON_STRING = r'"([^"\\]|\\.)(?:[^"\\]|\\.)*"'
_ACCOUNT_PREFIX = r"^[A-Za-z][A-Za-z0-9_.-]*:"
_KEY_MARK = "\x01"  # no JSON text holds a raw control character

#: Computed frames' columns that match no declared name, by the words in their names.
_NAME_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"account_id$|account_[ab]$", re.I), "account"),
    (re.compile(r"phone|mobile|手机|电话", re.I), "phone"),
    (re.compile(r"e-?mail|邮箱", re.I), "email"),
    (re.compile(r"address|地址", re.I), "address"),
    (re.compile(r"(^|_)(nick)?name(_|$)|姓名|收货人|昵称", re.I), "name"),
    (re.compile(r"extras|attributes", re.I), "json"),
    (re.compile(r"raw_value|(^|_)text$|detail", re.I), "text"),
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Kind = Literal[
    "phone", "name", "address", "email", "birthday", "text", "account", "identifier", "json"
]


def check_role(role: str) -> str:
    """Return ``role`` if it is known, else raise a one-line ConfigError."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def can(role: str | None, action: str) -> bool:
    """Whether ``role`` may do ``action`` (one of the names in :data:`PERMISSIONS`)."""
    return action in PERMISSIONS.get(role or "", frozenset())


# ---------------------------------------------------------------- one kind of value


def mask_phone(value: str) -> str:
    """Keep the first three and last four digits of a mainland mobile number."""
    return re.sub(_MOBILE, r"\1****\2", value)


def mask_text(s: pd.Series) -> pd.Series:
    """Mask phone numbers, e-mail addresses and ID-card numbers inside free text."""
    s = s.astype("string")
    s = s.str.replace(_ID_CARD, r"\1\2********\3\4", regex=True)
    s = s.str.replace(_MOBILE, r"\1****\2", regex=True)
    return s.str.replace(_EMAIL, r"\1***\2", regex=True)


def mask_name(s: pd.Series) -> pd.Series:
    """Keep the first character of a name: 张三丰 → 张**."""
    s = s.astype("string")
    return s.str.slice(0, 1) + s.str.slice(1).str.replace(r".", "*", regex=True)


def mask_phone_column(s: pd.Series) -> pd.Series:
    """A phone column: mobiles 138****5678; any other number keeps its last four digits."""
    s = mask_text(s)
    other = s.str.contains(r"[0-9]{5}", regex=True).fillna(False)
    hidden = s.str.slice(0, -4).str.replace(r"[0-9]", "*", regex=True) + s.str.slice(-4)
    return s.mask(other, hidden)


def mask_address(s: pd.Series) -> pd.Series:
    """An address: its first six characters (province, city), then an ellipsis."""
    s = s.astype("string")
    return s.str.slice(0, 6) + "…"


def mask_birthday(s: pd.Series) -> pd.Series:
    """A date of birth: the year only."""
    s = s.astype("string")
    year = s.str.extract(r"^ *(?P<year>[0-9]{4})", expand=False)
    return (year + "-**-**").where(year.notna(), s.str.replace(r"[0-9]", "*", regex=True))


def mask_json(s: pd.Series) -> pd.Series:
    """A JSON object: keys kept, each string value cut to its first character."""
    s = s.astype("string")
    s = s.str.replace(_JSON_KEY, _KEY_MARK + r"\1" + _KEY_MARK + r"\2", regex=True)
    s = s.str.replace(_JSON_STRING, r'"\1***"', regex=True)
    return mask_text(s.str.replace(_KEY_MARK, '"', regex=False))


def mask_account(s: pd.Series, platform: pd.Series | None = None) -> pd.Series:
    """Account ids (``platform:native``, or a bare native id): the native part masked
    when it is a phone, an e-mail, a name or a nickname the user chose.

    Examples
    --------
    >>> mask_account(pd.Series(["youzan:+8615871261351", "tmall:dragon_liu",
    ...                         "wechat:oJm7dWDKddRzQ", "wecom:王芳"])).tolist()
    ['youzan:158****1351', 'tmall:d**…', 'wechat:oJm7dWDKddRzQ', 'wecom:王**…']
    """
    s = s.astype("string")
    # replace/contains, not extract: pandas runs extract in Python, row by row
    has_prefix = s.str.contains(_ACCOUNT_PREFIX, regex=True).fillna(False)
    native = s.str.replace(_ACCOUNT_PREFIX, "", regex=True)
    prefix = s.str.slice(0, 0).mask(
        has_prefix, s.str.replace(f"({_ACCOUNT_PREFIX}).*", r"\1", regex=True)
    )
    plat = prefix.str.slice(0, -1)
    if platform is not None:
        plat = plat.mask(plat == "", platform.astype("string"))
    contact = native.str.contains(_HAS_MOBILE, regex=True) | native.str.contains("@", regex=False)
    human = native.str.contains(_NON_ASCII, regex=True) | plat.isin(NICKNAME_PLATFORMS)
    human = human.fillna(False) & ~contact.fillna(False)
    masked = native.mask(contact.fillna(False), mask_text(native))
    masked = masked.mask(human, native.str.slice(0, 1) + "**…")
    return (prefix + masked).where(s.notna())


def mask_identifier(values: pd.Series, kinds: pd.Series | None) -> pd.Series:
    """Identifier values, each masked by its kind (:data:`scrm_lib.schema.IDENTIFIER_KINDS`);
    an unknown kind, or no kind column at all, is masked as a name."""
    v = values.astype("string")
    if kinds is None:
        return mask_name(v)
    how = kinds.astype("string").map(IDENTIFIER_KINDS, na_action="ignore")
    known = kinds.astype("string").isin(list(IDENTIFIER_KINDS))
    how = how.astype("string").fillna("clear").where(known, "name")
    out = v.copy()
    for kind in how.unique():
        if kind == "clear":
            continue
        rows = (how == kind).to_numpy()
        out.loc[rows] = _MASKERS[kind](v[rows])
    return out


_MASKERS = {
    "phone": mask_phone_column,
    "name": mask_name,
    "address": mask_address,
    "email": mask_text,
    "birthday": mask_birthday,
    "text": mask_text,
    "account": mask_account,
    "json": mask_json,
}


# ---------------------------------------------------------------- frames


def personal_columns(columns: Any, *, table: str | None = None) -> dict[str, str]:
    """Which of ``columns`` hold personal data, and their kind, for a frame of ``table``.

    The table's declaration comes first (:data:`scrm_lib.schema.PERSONAL_COLUMNS`),
    then the declared column names (:data:`~scrm_lib.schema.PERSONAL_COLUMN_NAMES`),
    then words in the name (``buyer_phone``, ``收货地址``), so a frame computed by a
    join or renamed for a page is masked too.

    Examples
    --------
    >>> personal_columns(["a", "value", "amount", "buyer_phone"], table="identity_edges")
    {'a': 'account', 'value': 'identifier', 'buyer_phone': 'phone'}
    """
    declared = PERSONAL_COLUMNS.get(table or "", {})
    out: dict[str, str] = {}
    for col in columns:
        name = str(col)
        kind = declared.get(name) or PERSONAL_COLUMN_NAMES.get(name)
        if kind is None and name in NOT_PERSONAL_COLUMN_NAMES:
            continue
        if kind is None:
            kind = next((k for pat, k in _NAME_PATTERNS if pat.search(name)), None)
        if kind is not None:
            out[col] = kind
    return out


def mask_frame(df: pd.DataFrame, *, table: str | None = None) -> pd.DataFrame:
    """``df`` with every personal column masked by its declared kind; the input is unchanged.

    This is the one place masking is decided: dashboard tables
    (``dashboard.components.show_table``) and every export (:func:`export_frame`)
    go through it. Non-text columns (counts, amounts) pass.

    Parameters
    ----------
    df
        A table or a frame computed from tables.
    table
        The warehouse table or mart ``df`` holds rows of, when it is one.

    Examples
    --------
    >>> df = pd.DataFrame({"kind": ["phone", "name"], "value": ["+8613812345678", "张三丰"]})
    >>> mask_frame(df, table="identifiers")["value"].tolist()
    ['138****5678', '张**']
    """
    out = df.copy()
    kinds = next((out[c] for c in ("kind", "role") if c in out.columns), None)
    platform = out["platform"] if "platform" in out.columns else None
    for col, kind in personal_columns(out.columns, table=table).items():
        s = out[col]
        if not (pd.api.types.is_string_dtype(s) or s.dtype == object):
            continue
        first = s.dropna().head(1).tolist()
        if first and isinstance(first[0], (list, tuple, np.ndarray)):
            # a list per cell (examples of a reason): mask the items, keep the lists
            items = s.explode()
            done = _mask_column(items, kind, kinds, platform).astype(object)
            lists = done.groupby(level=0, sort=False).agg(list).reindex(s.index)
            out[col] = pd.Series(lists.tolist(), index=s.index, dtype=object)
            continue
        out[col] = _mask_column(s, kind, kinds, platform).astype(object).where(s.notna(), s)
    return out


def _mask_column(
    s: pd.Series, kind: str, kinds: pd.Series | None, platform: pd.Series | None
) -> pd.Series:
    if kind == "identifier":
        return mask_identifier(s, None if kinds is None else kinds.reindex(s.index))
    if kind == "account":
        return mask_account(s, None if platform is None else platform.reindex(s.index))
    return _MASKERS[kind](s)


def escape_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Quote text cells a spreadsheet would run as a formula (CSV injection, OWASP)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]) or out[col].dtype == object:
            s = out[col].astype("string")
            risky = s.str.startswith(_FORMULA_START).fillna(False)
            out[col] = s.mask(risky, "'" + s)
    return out


# ---------------------------------------------------------------- exports


def export_frame(
    df: pd.DataFrame, *, unmask: bool = False, table: str | None = None
) -> pd.DataFrame:
    """What an export writes: masked (unless an admin's ``unmask``) and formula-escaped.

    Callers check the role and write the audit row; ``unmask`` is only ever
    the admin's explicit, audited choice.
    """
    return escape_formulas(df if unmask else mask_frame(df, table=table))


def export_bytes(
    df: pd.DataFrame,
    *,
    fmt: Literal["csv", "xlsx"] = "csv",
    unmask: bool = False,
    table: str | None = None,
) -> bytes:
    """A frame as masked, formula-escaped CSV (UTF-8 with BOM, for Excel) or XLSX bytes."""
    buf = io.BytesIO()
    _write(export_frame(df, unmask=unmask, table=table), buf, fmt)
    return buf.getvalue()


def check_format(kind: str) -> str:
    """``kind`` when an export can be written in it; else a one-line error naming it."""
    if kind not in ("csv", "xlsx", "json"):
        raise ConfigError(f"export format {kind!r}: use .csv, .xlsx or .json")
    return kind


def write_export(
    df: pd.DataFrame,
    path: str | Path,
    *,
    fmt: Literal["csv", "xlsx", "json"] | None = None,
    unmask: bool = False,
    table: str | None = None,
) -> Path:
    """Write a masked, formula-escaped CSV, XLSX or JSON file (format from the suffix)."""
    path = Path(path)
    kind = check_format(fmt or path.suffix.lstrip(".").lower())
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        _write(export_frame(df, unmask=unmask, table=table), fh, kind)
    return path


def _write(safe: pd.DataFrame, target: Any, fmt: str) -> None:
    if fmt == "csv":
        target.write(safe.to_csv(index=False).encode("utf-8-sig"))
        return
    if fmt == "json":  # records, as a sending tool's API takes them
        text = safe.to_json(orient="records", force_ascii=False, date_format="iso")
        target.write(text.encode("utf-8"))
        return
    if fmt != "xlsx":
        raise ConfigError(f"export format {fmt!r}: use csv, xlsx or json")
    # Excel has no time zones: times go in as the UTC wall clock they are stored in
    zoned = [c for c in safe.columns if isinstance(safe[c].dtype, pd.DatetimeTZDtype)]
    safe = safe.assign(**{c: safe[c].dt.tz_convert("UTC").dt.tz_localize(None) for c in zoned})
    # cells are escaped already; also tell the writer never to turn text into formulas or links
    options = {"strings_to_formulas": False, "strings_to_urls": False}
    with pd.ExcelWriter(target, engine="xlsxwriter", engine_kwargs={"options": options}) as xw:
        safe.to_excel(xw, index=False, sheet_name="export")


# ---------------------------------------------------------------- report notebooks


def mask_displayed_frames() -> bool:
    """Mask every DataFrame a notebook displays from here on (its HTML and text forms).

    Report runs call it first: a report's HTML is shown on the dashboard to every
    role, so its tables mask like the pages' do. An analyst's own JupyterLab
    session is not touched. Returns False outside IPython.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    from pandas.io.formats.style import Styler

    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, lambda df: mask_frame(df)._repr_html_())
    formatters["text/html"].for_type(Styler, lambda st: _masked_styler(st).to_html())
    formatters["text/plain"].for_type(
        pd.DataFrame, lambda df, p, cycle: p.text(repr(mask_frame(df)))
    )
    return True


def _masked_styler(styler: Any) -> Any:
    # Report tables are Stylers (scrm_lib.reports.runner.formatted): its formats are kept
    # per cell position, so a copy over the masked frame renders the same, masked.
    import copy

    out = copy.copy(styler)
    out.data = mask_frame(styler.data)
    return out
