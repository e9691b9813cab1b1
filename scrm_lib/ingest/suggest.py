"""Draft a preset for an export no preset reads: ``scrm ingest --suggest-preset FILE``.

A shop's export often differs from every built-in preset by a few renamed
columns, another unit or another status vocabulary. :func:`suggest_preset`
reads the header and the first rows of the file and

1. picks the built-in preset it resembles most: among the presets that read
   the file's kind (csv / xlsx / jsonl), the one whose required fields can
   all be found, then the one sharing the most header names with the file
   (compared after :func:`~scrm_lib.ingest.presets.header_key`), then the
   one mapping the most columns;
2. maps each of that preset's fields to a column: by alias (the preset's own
   header names, exactly or contained one in the other), else by name tokens
   and the shape of the values (ids, phones, unix seconds / milliseconds or
   date strings, money, counts, status labels);
3. detects the units of money columns (fen / yuan, with
   :mod:`scrm_lib.ingest.units`) and unix time columns (s / ms);
4. maps the status labels it sees with the preset's table, or guesses them
   from common words (已完成, 退款成功, CLOSED, NOTPAY ...);

and writes all of it as a preset TOML in which every guess carries a
``CONFIRM`` comment, with the file's columns that no field reads listed at
the end (the adapter keeps them in the ``extras`` JSON column).

Why hand-written: the mapping is a scored choice over a dozen fields and
value shapes, which no schema-inference library offers for these exports;
the TOML is written by hand because the draft needs comments next to the
values and the project has no TOML writer dependency.

Example
-------
>>> s = suggest_preset("shop_orders.csv")  # doctest: +SKIP
>>> s.base, s.mapping["order_id"]  # doctest: +SKIP
('youzan_orders', '单据编号')
>>> Path("my_shop.toml").write_text(s.toml, encoding="utf-8")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.errors import InputFileError
from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest import units as un
from scrm_lib.ingest.presets import (
    STATUSES,
    Preset,
    available_presets,
    header_key,
)
from scrm_lib.ingest.read import head_rows, read_table

SAMPLE_ROWS = 500

# Shapes of values a column can have, and of what a preset field holds.
ID, PHONE, TIME, MONEY = "id", "phone", "time", "money"
COUNT, LABEL, TEXT = "count", "label", "text"

_MONEY_FIELDS = {"amount", "paid_amount", "refund_amount", "shipping", "unit_price", "goods_total"}
_COUNT_FIELDS = {"quantity", "qty", "count"}
# Words that point a header at a field when the preset's aliases do not match.
_TOKENS: dict[str, tuple[str, ...]] = {
    "order_id": ("order", "订单", "单号", "单据", "trade", "tid", "sn", "bill"),
    "line_id": ("sub", "line", "子订单", "明细"),
    "created_at": ("create", "下单", "创建", "成交", "ctime", "order_time", "placed"),
    "paid_at": ("pay", "paid", "付款", "支付"),
    "finished_at": ("finish", "complete", "完成", "收货"),
    "amount": ("amount", "total", "fee", "实付", "金额", "pay", "money", "payment", "gmv"),
    "paid_amount": ("amount", "total", "实付", "金额", "pay"),
    "refund_amount": ("refund", "退款"),
    "shipping": ("ship", "freight", "post", "运费", "邮费"),
    "status": ("status", "state", "状态"),
    "buyer_phone": ("buyer", "member", "买家", "会员", "mobile", "手机"),
    "recipient_phone": ("receiver", "recipient", "consignee", "收货", "收件", "tel"),
    "phone": ("phone", "mobile", "tel", "手机", "电话"),
    "recipient": ("receiver", "recipient", "consignee", "收货", "收件", "name", "姓名"),
    "openid": ("openid", "open_id", "user", "uid"),
    "buyer": ("buyer", "nick", "会员", "买家"),
    "user_id": ("user", "uid", "buyer", "用户", "买家"),
    "nickname": ("nick", "昵称"),
    "items": ("item", "goods", "product", "title", "商品", "宝贝", "货品", "品名"),
    "quantity": ("qty", "quantity", "num", "count", "数量", "件数"),
    "address": ("address", "addr", "地址"),
    "event": ("event", "action", "type", "事件"),
    "ts": ("time", "ts", "timestamp", "时间"),
}

# Status words across platforms, checked in this order (退款成功 is a refund, not a success).
_STATUS_WORDS = (
    ("refunded", r"退款|退货|refund"),
    ("cancelled", r"关闭|取消|失效|close|cancel|void"),
    ("pending", r"待付|待支付|未付|未支付|等待.*付款|unpaid|notpay|not_pay|wait.*pay|pending"),
    (
        "paid",
        r"成功|完成|已付|已支付|已发货|待发货|待收货|已签收|已收货|paid|success|complete|"
        r"done|finish|ship|deliver|payed",
    ),
)

_MOBILE = re.compile(r"^(?:\+?86|0086)?1\d{2}(?:\d{4}|\*{4})\d{4}$")
_IDLIKE = re.compile(r"^(?=.*\d)[0-9A-Za-z_\-:]{4,}$")
_DATEISH = re.compile(r"\d{4}\s*[-/年.]\s*\d{1,2}")


@dataclass
class ColumnGuess:
    """What the draft says about one column of the file."""

    header: str
    field: str | None = None
    how: str = ""  # alias | near alias | shape | "" (unmapped)
    shape: str = TEXT
    unit: str | None = None  # fen | yuan | s | ms | us | local
    note: str = ""
    samples: list[str] = dc_field(default_factory=list)


@dataclass
class PresetSuggestion:
    """A draft preset for one file, and how it was reached."""

    path: Path
    kind: str
    header_row: int
    base: str
    overlap: int
    columns: list[ColumnGuess]
    status: dict[str, str | None]
    toml: str
    candidates: list[tuple[str, int, int]] = dc_field(default_factory=list)

    @property
    def mapping(self) -> dict[str, str]:
        """Field → header of the file."""
        return {c.field: c.header for c in self.columns if c.field}

    @property
    def unmapped(self) -> list[str]:
        """Headers of the file that no field reads."""
        return [c.header for c in self.columns if not c.field]

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "kind": self.kind,
            "header_row": self.header_row,
            "base": self.base,
            "overlap": self.overlap,
            "columns": [asdict(c) for c in self.columns],
            "unmapped": self.unmapped,
            "status": self.status,
            "candidates": [{"preset": n, "overlap": o, "mapped": m} for n, o, m in self.candidates],
            "toml": self.toml,
        }


# ---------------------------------------------------------------- value shapes


def _values(s: pd.Series) -> pd.Series:
    """Non-empty cells as text (numbers in their plain form)."""
    if pd.api.types.is_float_dtype(s.dtype):
        num = s.dropna()
        whole = (num.round(0) == num).all()
        return num.map(lambda v: str(int(v)) if whole else repr(float(v))).astype(str)
    if s.dtype == object and s.map(lambda v: isinstance(v, (list, dict, np.ndarray))).any():
        return pd.Series([], dtype=str)
    return nz.text(s).dropna()


def column_shape(s: pd.Series) -> tuple[str, str | None, str]:
    """The shape of a column's values, its unit where one applies, and why.

    Example
    -------
    >>> column_shape(pd.Series(["1740830400000", "1740830460000"]))
    ('time', 'ms', 'unix milliseconds')
    >>> column_shape(pd.Series(["12990", "8900", "39900"]))[:2]
    ('money', 'fen')
    """
    if s.dtype == object and s.map(lambda v: isinstance(v, (list, dict, np.ndarray))).any():
        return TEXT, None, "nested values"
    v = _values(s)
    if v.empty:
        return TEXT, None, "empty"
    n = len(v)
    half = nz.halfwidth(v)
    compact = half.str.replace(r"[\s\-()]", "", regex=True)
    if compact.str.fullmatch(_MOBILE).mean() >= 0.8:
        masked = compact.str.contains("*", regex=False).mean() >= 0.5
        return PHONE, None, "masked phones" if masked else "phones"
    num = pd.to_numeric(half.str.replace(r"[,¥￥\s]|元", "", regex=True), errors="coerce")
    numeric = num.notna().mean() >= 0.95
    digits = half.str.fullmatch(r"\d+").mean() >= 0.95
    if numeric and digits:
        ints = num.dropna()
        secs = ints.between(9.4e8, 4.2e9).mean()
        millis = ints.between(9.4e11, 4.2e12).mean()
        if secs >= 0.95:
            return TIME, "s", "unix seconds"
        if millis >= 0.95:
            return TIME, "ms", "unix milliseconds"
        long_ids = half.str.len().median() >= 12
        if long_ids or (ints.nunique() == n and n >= 5 and ints.median() >= 1e5):
            return ID, None, "numeric ids"
    if numeric:
        ints = num.dropna()
        whole = bool((ints.round(0) == ints).all())
        if whole and ints.abs().max() <= 1000 and ints.median() <= 20:
            return COUNT, None, "small whole numbers"
        unit = un.guess_money_unit(v)
        why = "decimals or a currency sign" if unit == "yuan" else "whole numbers, large median"
        return MONEY, unit, f"{unit}: {why}"
    if half.str.contains(_DATEISH).mean() >= 0.8:
        _, bad = nz.parse_timestamps(v)
        if bad.mean() <= 0.1:
            return TIME, "local", "date strings"
    distinct = v.nunique()
    short = v.str.len().median() <= 12
    if short and distinct <= 30 and _status_vocab_share(v) >= 0.6:
        return LABEL, None, f"status-like labels ({distinct} distinct)"
    if short and distinct <= max(12, n // 5) and distinct < n:
        return LABEL, None, f"{distinct} distinct labels"
    if half.str.fullmatch(_IDLIKE).mean() >= 0.95 and not half.str.contains(r"\s").any():
        return ID, None, "ids"
    return TEXT, None, "text"


def field_shape(fld: str) -> str:
    """The shape a preset field holds, from its name.

    Example
    -------
    >>> field_shape("created_at"), field_shape("buyer_phone"), field_shape("amount")
    ('time', 'phone', 'money')
    """
    f = fld.lower()
    if f in _MONEY_FIELDS or f.endswith(("_amount", "_fee", "_price", "cost")):
        return MONEY
    if f in _COUNT_FIELDS:
        return COUNT
    if "phone" in f or "mobile" in f:
        return PHONE
    if f.endswith("_at") or f in ("ts", "time", "msgtime", "create_time") or f.endswith("time"):
        return TIME
    if f == "status" or f.endswith("_status") or f in ("after_sale", "event", "change_type"):
        return LABEL
    if (
        f.endswith(("_id", "id"))
        or f in ("openid", "unionid", "buyer", "msgid", "userid", "from")
        or f.endswith("_no")
    ):
        return ID
    return TEXT


def _compatible(col: str, fld: str) -> bool:
    if col == fld:
        return True
    # a label column can hold ids of a few buyers; an id field can be read from it
    return (fld, col) in {(ID, LABEL), (TEXT, LABEL), (TEXT, ID), (ID, TEXT)}


def _tokens(fld: str) -> tuple[str, ...]:
    own = tuple(t for t in fld.lower().split("_") if len(t) > 1 and t not in ("at", "id"))
    return _TOKENS.get(fld, ()) + own


def _token_hit(header: str, fld: str) -> bool:
    h = header_key(header)
    raw = str(header).lower()
    return any(t in h or t in raw for t in _tokens(fld))


# ---------------------------------------------------------------- mapping


@dataclass
class _Mapping:
    preset: Preset
    fields: dict[str, tuple[str, str]]  # field -> (header, how)
    overlap: int

    @property
    def required_ok(self) -> bool:
        if any(f not in self.fields for f in self.preset.required):
            return False
        groups = getattr(self.preset, "required_any", ())
        return all(any(f in self.fields for f in g) for g in groups)

    @property
    def coverage(self) -> float:
        """Share of the preset's fields that found a column: a small preset that fits
        beats a large one that happens to find as many columns."""
        return len(self.fields) / max(len(self.preset.columns), 1)

    def score(self, path: Path) -> tuple:
        # the file name (the preset's ``files`` patterns) breaks ties of the header first
        named = self.preset.matches_filename(path)
        return (self.required_ok, self.overlap, named, round(self.coverage, 6), len(self.fields))


def _near(header: str, alias: str) -> bool:
    h, a = header_key(header), header_key(alias)
    if not h or not a or h == a:
        return False
    inner = h if len(h) <= len(a) else a
    # "id" inside "用户openid" says nothing; a Chinese word of two characters does
    if len(inner) < (4 if inner.isascii() else 2):
        return False
    return a in h or h in a


def map_columns(header: list[str], shapes: dict[str, tuple], preset: Preset) -> _Mapping:
    """Fields of ``preset`` matched to ``header``: exact alias, near alias, then value shape."""
    by_key: dict[str, str] = {}
    for h in header:
        by_key.setdefault(header_key(h), h)
    taken: set[str] = set()
    out: dict[str, tuple[str, str]] = {}
    for fld, aliases in preset.columns.items():
        for alias in aliases:
            hit = by_key.get(header_key(alias))
            if hit is not None and hit not in taken:
                out[fld] = (hit, "alias")
                taken.add(hit)
                break
    overlap = len(out)
    order = list(preset.required)
    for g in getattr(preset, "required_any", ()):
        order += list(g)
    order += [f for f in preset.columns if f not in order]
    # dotted JSON paths belong to their parent record: matched by alias only
    free = [h for h in header if "." not in h]
    for fld in order:
        if fld in out:
            continue
        want = field_shape(fld)
        for alias in preset.columns.get(fld, ()):
            hit = next((h for h in free if h not in taken and _near(h, alias)), None)
            if hit is not None and _compatible(shapes[hit][0], want):
                out[fld] = (hit, "near alias")
                taken.add(hit)
                break
    for fld in order:
        if fld in out:
            continue
        want = field_shape(fld)
        if want == TEXT:
            cands = [h for h in free if h not in taken and _token_hit(h, fld)]
            cands = [h for h in cands if shapes[h][0] in (TEXT, LABEL)]
        else:
            cands = [h for h in free if h not in taken and shapes[h][0] == want]
            hinted = [h for h in cands if _token_hit(h, fld)]
            # Without a name hint only the fields a row cannot do without take a column
            # by shape alone (an order id, its time, its amount); others need a hint.
            essential = fld in preset.required or any(
                fld in g for g in getattr(preset, "required_any", ())
            )
            cands = hinted or (cands if essential else [])
            if want == LABEL and fld == "status":
                cands = sorted(cands, key=lambda h: -shapes[h][3])
        if cands:
            out[fld] = (cands[0], "shape")
            taken.add(cands[0])
    return _Mapping(preset, out, overlap)


# ---------------------------------------------------------------- status labels


def guess_status(label: str) -> str | None:
    """paid / refunded / cancelled / pending for a status label, from common words.

    Example
    -------
    >>> [guess_status(s) for s in ["退款成功", "交易成功", "待付款", "CLOSED", "神秘"]]
    ['refunded', 'paid', 'pending', 'cancelled', None]
    """
    s = str(label).strip().lower()
    for status, pattern in _STATUS_WORDS:
        if re.search(pattern, s):
            return status
    return None


def _status_vocab_share(v: pd.Series) -> float:
    vals = _values(v).unique()
    if len(vals) == 0:
        return 0.0
    return sum(guess_status(x) is not None for x in vals) / len(vals)


# ---------------------------------------------------------------- reading


def _header_row(rows: list[list[str]]) -> int:
    for i, row in enumerate(rows[:10]):
        if sum(1 for c in row if str(c).strip()) >= 2:
            return i
    return 0


def _samples(s: pd.Series, k: int = 3) -> list[str]:
    vals = _values(s).drop_duplicates().head(k)
    return [x if len(x) <= 24 else x[:23] + "…" for x in vals]


# ---------------------------------------------------------------- TOML


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False)


def _val(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(str(k))} = {_val(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v), ensure_ascii=False)


_TOP = (
    "name",
    "description",
    "adapter",
    "kind",
    "platform",
    "readers",
    "files",
    "encoding",
    "required",
    "required_any",
)
_REWRITTEN = {*_TOP, "columns", "units", "status", "amount_scale"}


def _draft(
    path: Path,
    kind: str,
    name: str,
    m: _Mapping,
    cols: list[ColumnGuess],
    units: dict[str, str],
    unit_notes: dict[str, str],
    status: dict[str, str | None],
    n_rows: int,
) -> str:
    p = m.preset
    opts = p.options
    by_field = {c.field: c for c in cols if c.field}
    lines = [
        f"# Draft preset written by `scrm ingest --suggest-preset` from {path.name}",
        f"# ({n_rows} sample rows). Closest built-in preset: {p.name}, sharing "
        f"{m.overlap} of {len(cols)} header names.",
        "# Lines marked CONFIRM are guesses: check them, then put this file in",
        "# <SCRM_HOME>/presets/ or pass it with `scrm ingest --preset FILE`.",
        "",
    ]
    top: dict[str, Any] = {
        "name": name,
        "description": f"{p.description or p.name}, as exported in {path.name} (draft)",
        "adapter": p.adapter,
        "kind": p.kind,
        "platform": p.platform,
        "readers": [kind],
        "files": [re.sub(r"\d+", "*", path.name)],
    }
    if p.encoding:
        top["encoding"] = p.encoding
    top["required"] = list(p.required)
    if getattr(p, "required_any", ()):
        top["required_any"] = [list(g) for g in p.required_any]
    for k, v in top.items():
        lines.append(f"{_key(k)} = {_val(v)}")
    for k, v in opts.items():
        if k not in _REWRITTEN and not isinstance(v, dict):
            lines.append(f"{_key(k)} = {_val(v)}")

    lines += ["", "[columns]"]
    missing = []
    for fld, aliases in p.columns.items():
        c = by_field.get(fld)
        if c is None:
            # kept with the built-in aliases: another export of this shop may have it
            note = "  # CONFIRM: required, no column found" if fld in p.required else ""
            lines.append(f"{_key(fld)} = {_val(list(aliases))}{note}")
            missing.append(fld)
            continue
        names = [c.header] + [a for a in aliases if header_key(a) != header_key(c.header)]
        note = ""
        if c.how != "alias":
            # examples only of values that say nothing about a person (no names, phones)
            plain = c.shape in (ID, TIME, MONEY, COUNT) or fld == "status"
            ex = f"; e.g. {', '.join(c.samples)}" if c.samples and plain else ""
            note = f"  # CONFIRM: by {c.how} ({c.note}){ex}"
        lines.append(f"{_key(fld)} = {_val(names)}{note}")
    if missing:
        lines.append(f"# fields with no column in this file: {', '.join(missing)}")
    unmapped = [c for c in cols if not c.field]
    if unmapped:
        lines.append("# columns no field reads (kept in the extras JSON column):")
        for c in unmapped:
            lines.append(f"#   {c.header}  ({c.note})")

    units_out = {k: v for k, v in p.units.items() if k in p.columns}
    units_out.update(units)
    if units_out:
        lines += ["", "[units]"]
        for k, v in units_out.items():
            note = f"  # CONFIRM: detected, {unit_notes[k]}" if k in unit_notes else ""
            lines.append(f"{_key(k)} = {_val(v)}{note}")

    table = dict(p.status)
    if table or status:
        lines += ["", "[status]"]
        for label, value in table.items():
            lines.append(f"{_key(label)} = {_val(value)}")
        known = {nz_key(k) for k in table}
        for label, value in status.items():
            if nz_key(label) in known:
                continue
            if value is None:
                choices = " | ".join(STATUSES)
                lines.append(f'# {_key(label)} = ""  # CONFIRM: seen in the file; one of {choices}')
            else:
                lines.append(f"{_key(label)} = {_val(value)}  # CONFIRM: guessed from the label")

    for k, v in opts.items():
        if k in _REWRITTEN or not isinstance(v, dict):
            continue
        lines += ["", f"[{_key(k)}]"]
        for kk, vv in v.items():
            lines.append(f"{_key(str(kk))} = {_val(vv)}")
    return "\n".join(lines) + "\n"


def nz_key(label: str) -> str:
    """Status labels compared the way ``[status]`` lookups compare them (NFKC, stripped)."""
    return nz.halfwidth(pd.Series([str(label)])).iloc[0].strip()


# ---------------------------------------------------------------- entry point


def suggest_preset(
    path: str | Path,
    *,
    settings: Any = None,
    name: str | None = None,
    sample_rows: int = SAMPLE_ROWS,
) -> PresetSuggestion:
    """Draft a preset TOML for ``path`` from its header and first rows.

    Parameters
    ----------
    path
        A CSV, xlsx or JSON lines export.
    settings
        ``scrm_lib.config.Settings`` (user presets in ``<home>/presets`` are
        candidates too).
    name
        The draft preset's name (default: the file stem plus ``_draft``).
    sample_rows
        Data rows whose values decide shapes, units and status labels.

    Returns
    -------
    PresetSuggestion
        ``toml`` is the draft; ``columns`` say how each column was mapped.

    Raises
    ------
    InputFileError
        The file is missing, empty or has no data rows.

    Example
    -------
    >>> s = suggest_preset("orders_from_erp.csv")  # doctest: +SKIP
    >>> print(s.toml)  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "file not found")
    if p.stat().st_size == 0:
        raise InputFileError(p, "empty file")
    kind, rows, enc = head_rows(p)
    if not rows or not any(any(str(c).strip() for c in r) for r in rows):
        raise InputFileError(p, "empty file")
    hrow = 0 if kind == "jsonl" else _header_row(rows)
    raw = read_table(p, header_row=hrow, encoding=enc)
    if len(raw.df) == 0:
        raise InputFileError(p, "no data rows (header only): nothing to guess from")
    df = raw.df.head(sample_rows)
    header = [h for h in raw.header if h in df.columns and str(h).strip()]
    shapes: dict[str, tuple] = {}
    for h in header:
        shape, unit, note = column_shape(df[h])
        vocab = _status_vocab_share(df[h]) if shape == LABEL else 0.0
        shapes[h] = (shape, unit, note, vocab)

    presets = [q for q in available_presets(settings).values() if kind in q.readers]
    if not presets:
        raise InputFileError(p, f"no preset reads {kind} files")
    mappings = [map_columns(header, shapes, q) for q in presets]
    mappings.sort(key=lambda mm: mm.score(p), reverse=True)
    best = mappings[0]

    cols: list[ColumnGuess] = []
    field_of = {h: (f, how) for f, (h, how) in best.fields.items()}
    units: dict[str, str] = {}
    unit_notes: dict[str, str] = {}
    for h in header:
        shape, unit, note, _ = shapes[h]
        fld, how = field_of.get(h, (None, ""))
        named = un.header_money_unit(h) if shape == MONEY else None
        if named is not None:
            unit, note = named, f"{named}: named in the header"
        c = ColumnGuess(h, fld, how, shape, unit, note, _samples(df[h]))
        cols.append(c)
        if fld is None:
            continue
        want = field_shape(fld)
        declared = best.preset.units.get(fld)
        # a money field declared as "same unit as field X" keeps that declaration
        money = want == MONEY and shape == MONEY and bool(unit)
        if (money and declared not in best.preset.columns) or (
            want == TIME and unit in ("s", "ms")
        ):
            units[fld], unit_notes[fld] = unit, note

    status: dict[str, str | None] = {}
    if "status" in best.fields:
        col = df[best.fields["status"][0]]
        table = {nz_key(k): v for k, v in best.preset.status.items()}
        for label in _values(col).value_counts().index[:30]:
            status[label] = table.get(nz_key(label)) or guess_status(label)

    stem = re.sub(r"[^0-9A-Za-z_]+", "_", p.stem).strip("_").lower() or "export"
    draft_name = name or f"{stem}_draft"
    toml = _draft(p, kind, draft_name, best, cols, units, unit_notes, status, len(df))
    cands = [(mm.preset.name, mm.overlap, len(mm.fields)) for mm in mappings[:5]]
    return PresetSuggestion(
        p, kind, hrow, best.preset.name, best.overlap, cols, status, toml, cands
    )


__all__ = [
    "ColumnGuess",
    "PresetSuggestion",
    "column_shape",
    "field_shape",
    "guess_status",
    "suggest_preset",
]
