"""Masking of personal data and safe exports.

Roles decide what a user may see and do; masking happens on the way out
(dashboard tables, exports), never in the warehouse.

Example
-------
>>> mask_phone("+8613812345678")
'138****5678'
>>> escape_formulas(pd.DataFrame({"x": ["=1+1", "ok"]}))["x"].tolist()
["'=1+1", 'ok']
"""

from __future__ import annotations

import re

import pandas as pd

from scrm_lib.errors import ConfigError

ROLES = ("viewer", "marketer", "admin")

#: What each role may do; every check in the UI and CLI goes through :func:`can`.
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"view"}),
    "marketer": frozenset({"view", "export", "save_segment"}),
    "admin": frozenset({"view", "export", "save_segment", "unmask", "edit_identity", "audit"}),
}

_MOBILE = re.compile(r"(?:\+?86[\s-]?)?(1[3-9]\d)[\s-]?\d{4}[\s-]?(\d{4})")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+)")
#: Columns whose whole value is personal: shown masked to roles without "unmask".
PII_COLUMNS = re.compile(
    r"(phone|mobile|email|name|address|手机|电话|姓名|收货人|地址|raw_value|value|text|extras)",
    re.I,
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_role(role: str) -> str:
    """Return ``role`` if it is known, else raise a one-line ConfigError."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def can(role: str | None, action: str) -> bool:
    """Whether ``role`` may do ``action`` (one of the names in :data:`PERMISSIONS`)."""
    return action in PERMISSIONS.get(role or "", frozenset())


def mask_phone(value: str) -> str:
    """Keep the first three and last four digits of a mainland mobile number."""
    return _MOBILE.sub(r"\1****\2", value)


def mask_text(s: pd.Series) -> pd.Series:
    """Mask phone numbers and e-mail addresses inside free text (vectorized)."""
    s = s.astype("string")
    s = s.str.replace(_MOBILE, r"\1****\2", regex=True)
    return s.str.replace(_EMAIL, r"\1***\2", regex=True)


def mask_name(s: pd.Series) -> pd.Series:
    """Keep the first character of a name: 张三丰 → 张**."""
    s = s.astype("string")
    return s.str.slice(0, 1) + s.str.slice(1).str.replace(r".", "*", regex=True)


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Mask every column that looks personal (by name); other columns pass through."""
    out = df.copy()
    for col in out.columns:
        if not PII_COLUMNS.search(str(col)) or not (
            pd.api.types.is_string_dtype(out[col]) or out[col].dtype == object
        ):
            continue
        if re.search(r"(^|_)name$|姓名|收货人", str(col), re.I):
            out[col] = mask_name(out[col])
        else:
            out[col] = mask_text(out[col])
    return out


def escape_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Quote text cells a spreadsheet would run as a formula (CSV injection, OWASP)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]) or out[col].dtype == object:
            s = out[col].astype("string")
            risky = s.str.startswith(_FORMULA_START).fillna(False)
            out[col] = s.mask(risky, "'" + s)
    return out
