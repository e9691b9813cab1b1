"""Display labels in the marketer's language, and times in the configured time zone.

One catalogue (``labels.toml``, shipped with the package) holds a label per
column, per categorical value, per reason (reject reasons, churn reasons,
build-step notes, identity evidence) and per message, in 中文 (``zh``, the
default) and English (``en``). The language comes from ``[display] language``
in ``scrm.toml`` or ``SCRM_LANGUAGE``; the time zone from the ``timezone``
setting (``Asia/Shanghai`` by default).

A name the catalogue lacks falls back to a readable form (``value_at_risk`` →
"Value at risk") and is remembered in :func:`missing`, which the tests check
after every page has run.

Example
-------
>>> label("value_at_risk", lang="zh")
'风险价值（元）'
>>> label("value_at_risk", lang="en")
'Value at risk (CNY)'
>>> reason("no order for 47 days, usually buys every 21", lang="zh")
'47天未下单（平时每21天买一次）'
>>> import pandas as pd
>>> labelled(pd.DataFrame({"risk_band": ["high"], "gmv_share": [0.5]}), lang="zh").columns.tolist()
['风险等级', 'GMV占比']
>>> fmt_time("2026-11-11T02:00:00Z", tz="Asia/Shanghai")
'2026-11-11 10:00'
>>> money(1234567.8)
'¥1,234,568'
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    import pandas as pd

from scrm_lib.errors import ConfigError

CATALOGUE = Path(__file__).with_name("labels.toml")
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

#: Columns whose cells are reasons in words (translated cell by cell, "; "-joined parts too).
REASON_COLUMNS = ("reason", "reasons", "notes", "evidence")

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
_SLOT = re.compile(r"\{(\w+)(?::(\w+))?\}")

_missing: set[tuple[str, str]] = set()


# ---------------------------------------------------------------- catalogue


@cache
def catalogue() -> dict[str, Any]:
    """The parsed catalogue: ``version``, ``columns``, ``values``, ``reasons``, patterns,
    ``messages``. Read once per process."""
    data = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    data["_patterns"] = [(re.compile(p["match"]), p["zh"]) for p in data.get("reason_patterns", [])]
    return data


def version() -> int:
    """The catalogue's version (bumped when a label changes meaning)."""
    return int(catalogue()["version"])


def language(lang: str | None = None) -> str:
    """``lang`` checked, or the configured language: ``SCRM_LANGUAGE``, else
    ``[display] language`` in ``scrm.toml``, else ``zh``."""
    if lang is None:
        lang = os.environ.get("SCRM_LANGUAGE")
    if lang is None:
        from scrm_lib.config import load_settings

        display = load_settings().extra.get("display") or {}
        lang = display.get("language", DEFAULT_LANGUAGE)
    if lang not in LANGUAGES:
        raise ConfigError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
    return lang


def timezone(tz: str | None = None) -> str:
    """``tz`` checked, or the ``timezone`` setting (default ``Asia/Shanghai``)."""
    if tz is None:
        from scrm_lib.config import load_settings

        tz = load_settings().timezone
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"timezone {tz!r} is not a known time zone (e.g. Asia/Shanghai)"
        ) from None
    return tz


def missing() -> list[tuple[str, str]]:
    """``(kind, key)`` of every column or reason shown in Chinese without a catalogue entry
    since the process started (or :func:`reset_missing`)."""
    return sorted(_missing)


def reset_missing() -> None:
    _missing.clear()


def readable(name: str) -> str:
    """The fallback for a name the catalogue lacks: ``value_at_risk`` → ``Value at risk``."""
    text = re.sub(r"[_\s]+", " ", str(name)).strip()
    return text[:1].upper() + text[1:] if text else str(name)


# ---------------------------------------------------------------- labels


def label(name: str, lang: str | None = None) -> str:
    """The display label of column ``name``.

    Examples
    --------
    >>> label("gmv_share", lang="zh"), label("gmv_share", lang="en")
    ('GMV占比', 'Share of GMV')
    >>> label("no_such_column", lang="en")
    'No such column'
    """
    lang = language(lang)
    entry = catalogue()["columns"].get(name)
    if entry and entry.get(lang):
        return entry[lang]
    if lang == "zh" and isinstance(name, str):
        _missing.add(("column", name))
    return readable(name)


def has_label(name: str, lang: str = "zh") -> bool:
    """Whether the catalogue has a ``lang`` label for column ``name``."""
    return bool((catalogue()["columns"].get(name) or {}).get(lang))


def value_label(column: str, value: Any, lang: str | None = None) -> Any:
    """The label of a categorical ``value`` of ``column``; other values unchanged.

    >>> value_label("risk_band", "high", lang="zh")
    '高'
    """
    column = catalogue().get("value_aliases", {}).get(column, column)
    table = catalogue().get("values", {}).get(column)
    if not table or not isinstance(value, str) or value not in table:
        return value
    return table[value].get(language(lang), value)


def reason(text: Any, lang: str | None = None) -> Any:
    """A reason in words in ``lang``: exact entries first, then the patterns; parts joined
    with ``"; "`` (several churn reasons, several notes) are translated one by one.

    Examples
    --------
    >>> reason("missing value; 2 refunded order(s)", lang="zh")
    '缺少值；2笔退款订单'
    >>> reason("missing value", lang="en")
    'missing value'
    """
    if not isinstance(text, str) or not text:
        return text
    lang = language(lang)
    if lang == "en":
        return text
    parts = [_reason_part(p.strip()) for p in text.split("; ")]
    return "；".join(parts)


def _reason_part(text: str) -> str:
    data = catalogue()
    exact = data.get("reasons", {}).get(text)
    if exact:
        return exact
    for pattern, template in data["_patterns"]:
        m = pattern.fullmatch(text)
        if m:
            return _fill(template, m.groupdict())
    _missing.add(("reason", text))
    return text


def _fill(template: str, groups: dict[str, str], lang: str = "zh") -> str:
    def slot(m: re.Match) -> str:
        value = groups.get(m.group(1), "")
        return str(value_label(m.group(2), value, lang)) if m.group(2) else str(value)

    return _SLOT.sub(slot, template)


def message(key: str, lang: str | None = None, **values: Any) -> str:
    """A message from the catalogue, ``{name}`` slots filled from ``values``.

    >>> message("timezone", lang="en", tz="Asia/Shanghai")
    'Times in Asia/Shanghai'
    """
    entry = catalogue()["messages"].get(key)
    if entry is None:
        raise KeyError(f"no message {key!r} in {CATALOGUE.name}")
    text = entry.get(language(lang)) or entry["en"]
    return text.format(**values) if values else text


# ---------------------------------------------------------------- frames and figures


def labelled(
    df: pd.DataFrame,
    lang: str | None = None,
    *,
    tz: str | None = None,
    values: bool = True,
    rename: bool = True,
) -> pd.DataFrame:
    """A copy of ``df`` for display: times in the configured time zone, categorical values
    and reasons in ``lang``, columns renamed to their labels (kept unique).

    Mask before labelling: masking goes by the machine column names. ``rename=False``
    keeps the machine names (for a chart that :func:`label_figure` labels afterwards).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"ts": pd.to_datetime(["2026-11-11 02:00"], utc=True),
    ...                    "reason": ["missing value"]})
    >>> out = labelled(df, lang="zh", tz="Asia/Shanghai")
    >>> out.columns.tolist(), str(out.iloc[0, 0]), out.iloc[0, 1]
    (['时间', '原因'], '2026-11-11 10:00:00', '缺少值')
    """
    import pandas as pd

    lang = language(lang)
    out = local_times(df, tz)
    if values:
        table = set(catalogue().get("values", {})) | set(catalogue().get("value_aliases", {}))
        for col in out.columns:
            if col in table and (
                out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype)
            ):
                out[col] = out[col].map(lambda v, c=col: value_label(c, v, lang))
            elif col in REASON_COLUMNS:
                out[col] = out[col].map(lambda v: _reason_cell(v, lang))
    if not rename:
        return out
    names: list[str] = []
    for col in out.columns:
        text = label(col, lang) if isinstance(col, str) else str(col)
        while text in names:
            text += " "  # two machine names with one label: Streamlit needs unique headers
        names.append(text)
    out.columns = names
    return out


def _reason_cell(value: Any, lang: str) -> Any:
    if isinstance(value, (list, tuple)) or (
        hasattr(value, "tolist") and not isinstance(value, str)
    ):
        items = [reason(v, lang) for v in list(value)]
        return "；".join(str(i) for i in items) if lang == "zh" else "; ".join(map(str, items))
    return reason(value, lang)


def column_config(config: dict[str, Any], lang: str | None = None) -> dict[str, Any]:
    """Streamlit ``column_config`` keyed by machine names, re-keyed by their labels
    (for a frame passed through :func:`labelled`)."""
    return {label(k, lang): v for k, v in config.items()}


def label_figure(fig: Any, lang: str | None = None) -> Any:
    """A plotly figure with column names in axis titles, legend titles, hover text and
    legend entries replaced by their labels (in place; returned for chaining)."""
    lang = language(lang)
    cols = catalogue()["columns"]

    def text_of(title: Any) -> str | None:
        return getattr(title, "text", None) if title is not None else None

    layout = fig.layout
    for name in [k for k in layout.to_plotly_json() if re.match(r"^[xy]axis\d*$", k)]:
        axis = layout[name]
        t = text_of(axis.title)
        if t in cols:
            axis.title.text = label(t, lang)
    legend_col = text_of(layout.legend.title) if layout.legend else None
    if legend_col in cols:
        layout.legend.title.text = label(legend_col, lang)
    if layout.coloraxis and layout.coloraxis.colorbar:
        t = text_of(layout.coloraxis.colorbar.title)
        if t in cols:
            layout.coloraxis.colorbar.title.text = label(t, lang)
    facet = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
    for note in layout.annotations or ():
        m = facet.match(note.text or "")
        if m and m.group(1) in cols:  # a facet's title: "table=orders"
            note.text = f"{label(m.group(1), lang)}: {value_label(m.group(1), m.group(2), lang)}"
    part = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(=|: )(.*)$", re.S)

    def hover_part(text: str) -> str:
        m = part.match(text)
        if not m or m.group(1) not in cols:
            return text
        key, sep, shown = m.groups()
        if not shown.startswith("%{"):  # a literal group value, e.g. "outcome=accepted"
            shown = str(value_label(key, shown, lang))
        return f"{label(key, lang)}{sep}{shown}"

    for trace in fig.data:
        template = getattr(trace, "hovertemplate", None)
        if template:
            trace.hovertemplate = "<br>".join(hover_part(p) for p in template.split("<br>"))
        if legend_col and isinstance(getattr(trace, "name", None), str):
            trace.name = str(value_label(legend_col, trace.name, lang))
    return fig


# ---------------------------------------------------------------- times and money


def local_times(df: pd.DataFrame, tz: str | None = None) -> pd.DataFrame:
    """A copy of ``df`` with its time columns in ``tz`` (default: the setting), shown without
    the offset. Naive times are the warehouse's UTC; ISO strings with an offset count too."""
    import pandas as pd

    zone = timezone(tz)
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.dt.tz_convert(zone).dt.tz_localize(None)
        elif pd.api.types.is_datetime64_dtype(s.dtype):
            out[col] = s.dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            present = s.dropna()
            if (
                len(present)
                and present.map(lambda v: isinstance(v, str) and bool(_ISO_TIME.match(v))).all()
            ):
                parsed = pd.to_datetime(s, utc=True, format="ISO8601")
                out[col] = parsed.dt.tz_convert(zone).dt.tz_localize(None)
    return out


def to_local(value: Any, tz: str | None = None) -> pd.Timestamp | None:
    """One time (Timestamp, datetime or ISO text; naive = UTC) in ``tz``; None if empty."""
    import pandas as pd

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if pd.isna(ts):
        return None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert(timezone(tz))


def fmt_time(value: Any, tz: str | None = None, *, seconds: bool = False) -> str:
    """A time as ``YYYY-MM-DD HH:MM`` in the configured time zone ("-" when empty)."""
    ts = to_local(value, tz)
    if ts is None:
        return "-"
    return ts.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def money(value: Any, decimals: int = 0) -> str:
    """An amount in yuan: ``¥1,234`` ("-" when missing).

    >>> money(-35.5, 2)
    '-¥35.50'
    """
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "-"
    x = float(value)
    return f"{'-' if x < 0 else ''}¥{abs(x):,.{decimals}f}"


#: What pages, notebooks and reports use to speak the marketers' language.
__all__ = [
    "column_config",
    "fmt_time",
    "label",
    "label_figure",
    "labelled",
    "message",
    "money",
    "reason",
    "timezone",
    "value_label",
]
