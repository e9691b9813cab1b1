"""Presets: TOML files that tell ingest how to read one kind of export.

A preset names the adapter that turns the file into canonical tables and
maps the adapter's *fields* to the header names a file may use. Built-in
presets live in ``scrm_lib/presets/*.toml``; a user preset is any TOML file
passed by path (``parse_file(path, preset="my_shop.toml")``) or dropped in
``<SCRM_HOME>/presets/`` where detection also looks.

Format (all keys but ``name``, ``adapter`` and ``columns`` are optional)::

    name = "tmall_orders"          # unique; defaults to the file stem
    description = "Tmall 订单报表"
    adapter = "tmall"              # tmall | douyin | youzan | xiaohongshu | wechat |
                                   # wecom | marketing | comments | miniapp_service |
                                   # surveys | generic
    kind = "orders"                # adapter sub-kind (wechat: users, orders, ...)
    platform = "tmall"             # account id prefix: <platform>:<native id>
    readers = ["csv"]              # csv | xlsx | jsonl (by file extension)
    files = ["tmall_orders_*.csv"] # glob patterns; break ties in detection
    encoding = "gbk"               # tried first; UTF-8/GBK/GB18030 are tried anyway
    required = ["order_id", "buyer", "created_at"]
    required_any = [["recipient", "phone"]]   # at least one of each group

    [columns]                      # field = header name or list of aliases
    order_id = ["订单编号", "订单号"]
    buyer = "买家会员名"

    [fallbacks]                    # field = field read in its place when the
    created_at = "paid_at"         #   file lacks it (a required field is met too)

    [units]                        # money: fen | yuan | auto; times: s | ms | us |
    amount = "auto"                #   utc | local; a key is a field or a header
    total_fee = "fen"              #   alias (the alias wins); see units.py
    refund_amount = "amount"       # another field: same unit as that field

    [status]                       # raw status label -> paid | refunded |
    "交易成功" = "paid"            #   cancelled | pending

Header names are compared after NFKC, trimming, removing inner spaces,
underscores and hyphens, and lower-casing, so ``订单编号 ``, ``订单编号``,
full-width variants, ``order_id``, ``orderId`` and ``Order-ID`` match.
JSON lines fields are dotted paths into the record (``text.content``).
The ``generic`` adapter reads more keys; see :mod:`scrm_lib.ingest.generic`.

Example
-------
>>> p = load_preset("tmall_orders")
>>> p.adapter, resolve_columns(["订单编号", "买家会员名"], p)["order_id"]
('tmall', '订单编号')
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from scrm_lib.errors import ConfigError, InputFileError
from scrm_lib.ingest.units import UNITS

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "presets"
ADAPTERS = (
    "tmall",
    "douyin",
    "youzan",
    "wechat",
    "wecom",
    "marketing",
    "generic",
    "xiaohongshu",
    "comments",
    "miniapp_service",
    "surveys",
)
STATUSES = ("paid", "refunded", "cancelled", "pending")
_SEPARATORS = re.compile(r"[\s_\-]+")
_UNIT_SUFFIX = re.compile(
    r"(?:[(（\[【](?:单位[:：]?)?(?:分|元|fen|yuan|rmb|cny)[)）\]】]|fen|yuan|cents?)$"
)


@dataclass(frozen=True)
class Preset:
    """One parsed preset file."""

    name: str
    adapter: str
    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...] = ()
    kind: str = ""
    platform: str = ""
    readers: tuple[str, ...] = ("csv", "xlsx")
    files: tuple[str, ...] = ()
    encoding: str | None = None
    description: str = ""
    status: dict[str, str] = field(default_factory=dict)
    required_any: tuple[tuple[str, ...], ...] = ()
    fallbacks: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # the whole TOML, for adapters
    path: Path | None = None

    def matches_filename(self, path: Path) -> bool:
        return any(fnmatch.fnmatch(path.name.lower(), pat.lower()) for pat in self.files)


@lru_cache(maxsize=8192)
def _header_key(name: str) -> str:
    s = unicodedata.normalize("NFKC", name).strip().lower().lstrip("\ufeff")
    # Separators carry no meaning in a header: order_id, orderId and Order ID are one name.
    return _SEPARATORS.sub("", s)


def header_key(name: object) -> str:
    """The comparison form of a header name.

    Example
    -------
    >>> header_key(" 订单 编号 ") == header_key("订单编号")
    True
    """
    # Detection compares every preset's aliases with every header: the same few hundred
    # names, normalized over and over (a third of a small file's parse), hence the cache.
    return _header_key(str(name))


def resolve_columns(header: list[str], preset: Preset) -> dict[str, str]:
    """Map each preset field to the header name it uses in this file (absent fields left out)."""
    by_key: dict[str, str] = {}
    for h in header:
        by_key.setdefault(header_key(h), h)
    # A header that only adds its unit to a known name (实付金额(元), amount_fen) is that
    # name; units.py reads the unit from the header itself.
    bare: dict[str, str] = {}
    for h in header:
        stripped = _UNIT_SUFFIX.sub("", header_key(h))
        if stripped:
            bare.setdefault(stripped, h)
    out = {}
    for fld, aliases in preset.columns.items():
        # aliases in preset order, each exact or unit-suffixed: 买家实际支付金额(分)
        # beats the weaker alias 总金额 listed after it
        for alias in aliases:
            k = header_key(alias)
            hit = by_key.get(k) or bare.get(k)
            if hit is not None:
                out[fld] = hit
                break
    for fld, alt in preset.fallbacks.items():
        if fld not in out and alt in out:
            out[fld] = out[alt]
    return out


def missing_required(header: list[str], preset: Preset) -> list[str]:
    """Required fields with no matching header (named by their first alias).

    A ``required_any`` group with none of its fields present is named as
    ``a | b``.
    """
    found = resolve_columns(header, preset)
    missing = [preset.columns.get(f, (f,))[0] for f in preset.required if f not in found]
    for group in preset.required_any:
        if not any(f in found for f in group):
            missing.append(" | ".join(preset.columns.get(f, (f,))[0] for f in group))
    return missing


def _as_tuple(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    return tuple(str(x) for x in v)


def preset_from_dict(data: dict[str, Any], *, path: Path | None = None) -> Preset:
    """Build a :class:`Preset` from parsed TOML, validating it."""
    where = str(path) if path else "preset"
    name = data.get("name") or (path.stem if path else "")
    if not name:
        raise ConfigError(f"{where}: a preset needs a name")
    adapter = data.get("adapter", "generic")
    if adapter not in ADAPTERS:
        raise ConfigError(f"{where}: adapter {adapter!r} is not one of {', '.join(ADAPTERS)}")
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise ConfigError(f"{where}: a preset needs a [columns] table")
    cols = {str(k): _as_tuple(v) for k, v in columns.items()}
    required = _as_tuple(data.get("required", ()))
    unknown = [f for f in required if f not in cols]
    if unknown:
        raise ConfigError(f"{where}: required fields {unknown} have no entry in [columns]")
    groups = tuple(_as_tuple(g) for g in data.get("required_any", ()))
    fallbacks = {str(k): str(v) for k, v in data.get("fallbacks", {}).items()}
    unknown = sorted({f for g in groups for f in g} | set(fallbacks) | set(fallbacks.values()))
    unknown = [f for f in unknown if f not in cols]
    if unknown:
        raise ConfigError(f"{where}: fields {unknown} in required_any/fallbacks have no [columns]")
    units = {str(k): str(v).lower() for k, v in data.get("units", {}).items()}
    bad_units = sorted({v for v in units.values() if v not in UNITS and v not in cols})
    if bad_units:
        raise ConfigError(
            f"{where}: units {bad_units} are not one of {', '.join(UNITS)} or a field name"
        )
    status = {str(k): str(v) for k, v in data.get("status", {}).items()}
    bad = sorted({v for v in status.values() if v not in STATUSES})
    if bad:
        raise ConfigError(f"{where}: status values {bad} are not one of {', '.join(STATUSES)}")
    readers = _as_tuple(data.get("readers", ("csv", "xlsx")))
    return Preset(
        name=name,
        adapter=adapter,
        columns=cols,
        required=required,
        kind=str(data.get("kind", "")),
        platform=str(data.get("platform", "")),
        readers=readers,
        files=_as_tuple(data.get("files", ())),
        encoding=data.get("encoding"),
        description=str(data.get("description", "")),
        status=status,
        required_any=groups,
        fallbacks=fallbacks,
        units=units,
        options=data,
        path=path,
    )


@lru_cache(maxsize=256)
def _load_file(path: Path, mtime: float) -> Preset:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid preset TOML ({exc})") from None
    return preset_from_dict(data, path=path)


def load_preset_file(path: str | Path) -> Preset:
    """Load one preset TOML file by path."""
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise ConfigError(f"preset file {p} not found")
    return _load_file(p, p.stat().st_mtime)


def _user_dir(settings: Any) -> Path | None:
    home = getattr(settings, "home", None)
    if home is None:
        return None
    d = Path(home) / "presets"
    return d if d.is_dir() else None


def available_presets(settings: Any = None) -> dict[str, Preset]:
    """Built-in presets, then user presets in ``<home>/presets`` (a user preset may override)."""
    out: dict[str, Preset] = {}
    dirs = [BUILTIN_DIR]
    user = _user_dir(settings)
    if user:
        dirs.append(user)
    for d in dirs:
        for f in sorted(d.glob("*.toml")):
            p = load_preset_file(f)
            out[p.name] = p
    return out


def load_preset(name_or_path: str | Path, settings: Any = None) -> Preset:
    """A preset by name (built-in or user) or by path to a TOML file.

    Example
    -------
    >>> load_preset("youzan_orders").platform
    'youzan'
    """
    s = str(name_or_path)
    if s.endswith(".toml") or Path(s).is_file():
        return load_preset_file(s)
    presets = available_presets(settings)
    if s not in presets:
        raise ConfigError(f"unknown preset {s!r}; known: {', '.join(sorted(presets))}")
    return presets[s]


def require_columns(path: Path, header: list[str], preset: Preset) -> dict[str, str]:
    """Resolve columns or raise ``InputFileError`` naming the missing ones and the preset."""
    missing = missing_required(header, preset)
    if missing:
        shown = ", ".join(h for h in header if h)[:300]
        raise InputFileError(
            path,
            f"missing required column {', '.join(missing)} for preset {preset.name} "
            f"(header: {shown})",
        )
    return resolve_columns(header, preset)
