"""What adapters share: typed access to mapped columns, reject bookkeeping, output frames.

An adapter receives a :class:`Context`: the raw cells of one file, the
preset, and the mapping from the preset's fields to this file's headers.
It asks the context for normalized columns (``ctx.timestamps("created_at")``)
which records a reject line for every cell that fails, and returns frames
that carry ``_row``, the position of the input row they came from. The
context then drops every output row whose input row was rejected, so a row
is either accepted (it reaches some table) or rejected, never both.

The context also applies what every adapter shares: the units of money and
time columns (:mod:`scrm_lib.ingest.units`), the plausibility rules
(:mod:`scrm_lib.ingest.plausibility`: implausible times in every timestamp
read, amounts and quantities on ``orders``), the order status when a file
has none, and ``extras``: the columns of the file no preset field maps,
kept as one JSON object per row on the file's main table (orders, events
or accounts) instead of being dropped.

Example
-------
>>> ctx.timestamps("created_at", required=True)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest import units as un
from scrm_lib.ingest.names import clean_person_name
from scrm_lib.ingest.plausibility import (
    PlausibilityRules,
    implausible_orders,
    implausible_times,
)
from scrm_lib.ingest.presets import Preset, header_key
from scrm_lib.ingest.read import RawTable
from scrm_lib.schema import TABLES, conform

ROW = "_row"
EXTRAS = "extras"
#: The table a preset kind's rows feed first: it carries the file's ``extras``.
MAIN_TABLE = {"orders": "orders", "events": "events", "users": "accounts", "contacts": "accounts"}
#: Fields that may hold an order's amount / quantity, for naming them in rejects.
_ORDER_FIELDS = {"amount": ("amount", "paid_amount", "total"), "quantity": ("quantity", "items")}


@dataclass
class Context:
    """One file being parsed."""

    path: Path
    raw: RawTable
    preset: Preset
    cols: dict[str, str]
    tz: str = "Asia/Shanghai"
    region: str = "CN"
    rules: PlausibilityRules = field(default_factory=PlausibilityRules)
    now: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))
    _rejects: list[pd.DataFrame] = field(default_factory=list)
    _bad: pd.Series | None = None
    _units: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._bad = pd.Series(False, index=self.raw.df.index)

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def index(self) -> pd.Index:
        return self.raw.df.index

    @property
    def rows(self) -> pd.Series:
        """The input row position of every row (for ``_row``)."""
        return pd.Series(self.raw.df.index, index=self.raw.df.index)

    def has(self, fld: str) -> bool:
        return fld in self.cols

    def label(self, fld: str) -> str:
        """The header name a field has in this file (for reject lines)."""
        return self.cols.get(fld) or self.preset.columns.get(fld, (fld,))[0]

    def get(self, fld: str) -> pd.Series:
        """The raw column of a field, or an all-NA column when the file lacks it."""
        if fld in self.cols and self.cols[fld] in self.raw.df.columns:
            return self.raw.df[self.cols[fld]]
        return pd.Series(pd.NA, index=self.index, dtype="str")

    def option(self, key: str, default: Any = None) -> Any:
        return self.preset.options.get(key, default)

    # ------------------------------------------------------------ rejects

    def reject(
        self, mask: pd.Series, column: str, reason: str, raw: pd.Series | None = None
    ) -> None:
        """Reject the rows in ``mask``; ``column`` is a field name or a header name."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        known = column in self.cols or column in self.preset.columns
        col = self.label(column) if known else column
        if raw is None:
            raw = self.get(column) if column in self.cols else pd.Series(pd.NA, index=self.index)
        vals = raw[mask]
        self._rejects.append(
            pd.DataFrame(
                {
                    "file": self.file,
                    "line": self.raw.lines[np.flatnonzero(mask.to_numpy())],
                    "column": col,
                    "reason": reason,
                    "raw_value": nz.text(vals).astype("str").to_numpy(),
                }
            )
        )
        self._bad |= mask

    def require(self, fld: str, values: pd.Series | None = None) -> pd.Series:
        """Reject rows whose ``fld`` is empty; returns the text values."""
        v = nz.text(self.get(fld)) if values is None else values
        self.reject(v.isna(), fld, "missing value")
        return v

    @property
    def ok(self) -> pd.Series:
        return ~self._bad

    # ------------------------------------------------------------ typed columns

    def texts(self, fld: str, *, required: bool = False) -> pd.Series:
        """Free text in NFC (names, titles, messages); formula-like text is kept as is."""
        v = nz.nfc(self.get(fld))
        return self.require(fld, v) if required else v

    def ids(self, fld: str, *, required: bool = False) -> pd.Series:
        """Identifiers (order numbers, openids): NFKC so full-width digits match ASCII ones."""
        v = nz.halfwidth(self.get(fld))
        return self.require(fld, v) if required else v

    def declared_unit(self, fld: str) -> str | None:
        """The preset's ``[units]`` entry for the header this file uses for ``fld``, or the field's.

        Example
        -------
        >>> ctx.declared_unit("amount")  # doctest: +SKIP
        'fen'
        """
        units = self.preset.units
        if fld in self.cols:
            by_key = {header_key(k): v for k, v in units.items()}
            hit = by_key.get(header_key(self.cols[fld]))
            if hit is not None:
                return hit
        return units.get(fld)

    def money_unit(self, fld: str, _seen: tuple[str, ...] = ()) -> str:
        """``fen`` or ``yuan`` for a money field in this file (order in :mod:`.units`)."""
        if fld in self._units:
            return self._units[fld]
        header = self.cols.get(fld)
        alias = None
        if header is not None:
            by_key = {header_key(k): v for k, v in self.preset.units.items()}
            alias = by_key.get(header_key(header))
        named = un.header_money_unit(header) if header is not None else None
        declared = self.preset.units.get(fld)
        if alias in ("fen", "yuan"):
            unit = alias
        elif named is not None:
            unit = named
        elif declared in ("fen", "yuan"):
            unit = declared
        elif declared == "auto" or alias == "auto":
            unit = un.guess_money_unit(self.get(fld))
        elif declared is not None and declared in self.preset.columns and declared not in _seen:
            unit = self.money_unit(declared, (*_seen, fld))
        elif float(self.option("amount_scale", 1)) == 100:
            unit = "fen"
        else:
            unit = "yuan"
        self._units[fld] = unit
        return unit

    def timestamps(self, fld: str, *, required: bool = False) -> pd.Series:
        """UTC times of ``fld``; unparseable and implausible cells reject their row."""
        raw = self.get(fld)
        unit = self.declared_unit(fld)
        tz = "UTC" if unit == "utc" else self.tz
        ts, bad = nz.parse_timestamps(raw, tz, unit if unit in ("s", "ms", "us") else None)
        self.reject(bad, fld, "unparseable timestamp")
        if required:
            self.reject(ts.isna() & ~bad, fld, "missing value")
        why = implausible_times(ts, self.rules, self.now)
        for reason in why.dropna().unique():
            self.reject(why == reason, fld, reason)
        return ts

    def amounts(self, fld: str, *, scale: float | None = None, required: bool = False) -> pd.Series:
        """Money in yuan; ``scale`` None reads the field's unit (:meth:`money_unit`)."""
        raw = self.get(fld)
        if scale is None:
            scale = 100.0 if self.money_unit(fld) == "fen" else 1.0
        v, bad = nz.parse_amounts(raw, scale)
        self.reject(bad, fld, "unparseable amount")
        if required:
            self.reject(v.isna() & ~bad, fld, "missing value")
        return v

    def ints(self, fld: str) -> pd.Series:
        v, bad = nz.parse_ints(self.get(fld))
        self.reject(bad, fld, "not a whole number")
        return v

    def bools(self, fld: str, *, required: bool = False) -> pd.Series:
        v, bad = nz.parse_bools(self.get(fld))
        self.reject(bad, fld, "not a yes/no value")
        if required:
            self.reject(v.isna() & ~bad, fld, "missing value")
        return v

    def status(self, fld: str = "status", mapping: dict[str, str] | None = None) -> pd.Series:
        """Map raw statuses with the preset's ``[status]`` table; unknown labels reject.

        A file without a status column, or an empty status cell, is not a reason
        to lose the order: it is ``paid`` when it has a pay time (or the file has
        no pay-time column at all: an export of sales), else ``pending``.
        """
        raw = nz.text(self.get(fld))
        mapped = nz.map_values(raw, mapping if mapping is not None else self.preset.status)
        self.reject(raw.notna() & mapped.isna(), fld, "unknown status")
        if self.has("paid_at"):
            paid = nz.text(self.get("paid_at")).notna()
            fallback = pd.Series(np.where(paid, "paid", "pending"), index=self.index)
        else:
            fallback = pd.Series("paid", index=self.index)
        return mapped.where(raw.notna(), fallback.astype("str"))

    def phones(self, fld: str) -> pd.DataFrame:
        return nz.normalize_phones(self.get(fld), self.region)

    # ------------------------------------------------------------ output

    def reject_rows(self) -> pd.DataFrame:
        """Reject lines for rows the reader could not split, plus every recorded reject."""
        parts = list(self._rejects)
        if self.raw.bad_rows:
            line, reason, raw = zip(*self.raw.bad_rows, strict=True)
            parts.append(
                pd.DataFrame(
                    {
                        "file": self.file,
                        "line": line,
                        "column": "",
                        "reason": reason,
                        "raw_value": raw,
                    }
                )
            )
        if not parts:
            return conform(pd.DataFrame(), "rejects")
        out = pd.concat(parts, ignore_index=True)
        return conform(out.sort_values("line", kind="stable"), "rejects")

    # ------------------------------------------------------------ shared checks

    def _check_orders(self, orders: pd.DataFrame) -> None:
        """Reject the input rows of implausible orders (amount, quantity; see plausibility)."""
        if ROW not in orders.columns:
            return
        for column, why in implausible_orders(orders, self.rules):
            fld = next((f for f in _ORDER_FIELDS.get(column, ()) if self.has(f)), None)
            for reason in why.dropna().unique():
                hit = (why == reason).fillna(False).to_numpy(dtype=bool)
                rows = orders[ROW].to_numpy()[hit]
                mask = pd.Series(False, index=self.index)
                mask.loc[rows] = True
                raw = None
                if fld is None or fld == "items":
                    # a derived value (the items' total quantity): show the value itself
                    shown = pd.Series(orders[column].to_numpy()[hit], index=rows).astype("str")
                    raw = shown[~shown.index.duplicated(keep="last")].reindex(self.index)
                self.reject(mask, fld or column, reason, raw)

    def _main_table(self) -> str | None:
        if self.preset.adapter == "generic":
            table = self.option("table")
            return table if table in ("orders", "events", "accounts") else None
        return MAIN_TABLE.get(self.preset.kind)

    def extras(self) -> pd.Series | None:
        """The file's unmapped columns as one canonical JSON object per row (None: there are none).

        Keys are the file's own header names, sorted; empty cells are left out.
        JSON lines contribute their unmapped top-level keys (a key whose
        sub-field a preset maps, like ``address``, counts as mapped).
        """
        mapped = set(self.cols.values())
        if self.raw.kind == "jsonl":
            if self.raw.arrow is not None:
                top = list(self.raw.arrow.column_names)
            else:
                top = list(dict.fromkeys(k for r in self.raw.records or [] for k in r))
            keys = [k for k in top if not any(m == k or m.startswith(k + ".") for m in mapped)]
        else:
            keys = [c for c in self.raw.df.columns if c not in mapped]
        if not keys:
            return None
        keys = sorted(keys)
        if self.raw.kind != "jsonl":
            table = pa.table(
                {
                    f"c{i}": pa.array(
                        nz.text(self.raw.df[k]), type=pa.large_string(), from_pandas=True
                    )
                    for i, k in enumerate(keys)
                }
            )
        elif self.raw.arrow is not None and not self.raw.mixed.keys() & set(keys):
            table = self.raw.arrow.select(keys).rename_columns([f"c{i}" for i in range(len(keys))])
        else:
            from scrm_lib.ingest.nested import to_json

            values = [self.raw.pylist(k) for k in keys]
            recs = [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)]
            rendered = [None if j == "{}" else j for j in to_json(recs)]
            return pd.Series(rendered, index=self.index, dtype="str")
        return _json_objects(table, keys, self.index)

    def finish(self, tables: dict[str, Any]) -> dict[str, pd.DataFrame]:
        """Check plausibility, drop rows of rejected input rows, attach ``extras``, conform."""
        tables = {
            name: (frames if isinstance(frames, pd.DataFrame) else _concat(frames))
            for name, frames in tables.items()
        }
        if isinstance(tables.get("orders"), pd.DataFrame):
            self._check_orders(tables["orders"])
        main = self._main_table()
        extras = self.extras() if main in tables else None
        ok_rows = self.ok
        out: dict[str, pd.DataFrame] = {}
        for name, frames in tables.items():
            parts = [frames] if isinstance(frames, pd.DataFrame) else list(frames)
            parts = [p for p in parts if p is not None and len(p)]
            if not parts:
                continue
            df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            if name == main and extras is not None and ROW in df.columns:
                # the array itself: through NumPy, text would be made into Python objects and back
                df = df.assign(**{EXTRAS: extras.reindex(df[ROW].to_numpy()).array})
            if ROW in df.columns:
                keep = ok_rows.reindex(df[ROW].to_numpy()).to_numpy(dtype=bool)
                df = df[keep]
            df = df.assign(source_file=self.file)
            if name == "accounts":
                df = _merge_accounts(df)
            elif name == "identifiers":
                df = df.dropna(subset=["account_id", "value"]).drop_duplicates(
                    ["account_id", "kind", "value"]
                )
            out[name] = conform(df, name)
        return out


def _concat(frames: Any) -> pd.DataFrame | None:
    parts = [p for p in (frames or []) if p is not None and len(p)]
    if not parts:
        return None
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _json_objects(table: pa.Table, keys: list[str], index: pd.Index) -> pd.Series:
    """One JSON object per row of ``table`` (columns c0.. standing for ``keys``), nulls left out.

    Rendered by DuckDB's ``to_json``, column-wise in C++: a Python dict per row
    would cost seconds on a million-row export.
    """
    from scrm_lib.ingest.keys import duck

    cols = [f"c{i}" for i in range(len(keys))]
    keyed = {
        f"{c}_key": json.dumps(k, ensure_ascii=False) + ":" for c, k in zip(cols, keys, strict=True)
    }
    runner = duck()
    runner.con.register("extras_src", table)
    try:
        got = runner.arrow("ingest.json_objects", keyed, columns=cols, view="extras_src")
    finally:
        runner.con.unregister("extras_src")
    return pd.Series(got.column("j").to_pandas(), index=index, dtype="str")


def _merge_accounts(df: pd.DataFrame) -> pd.DataFrame:
    df = df.dropna(subset=["account_id"])
    for col in TABLES["accounts"]:
        if col not in df.columns:
            df = df.assign(**{col: pd.NA})
    df = df.sort_values("first_seen", kind="stable", na_position="last")
    # groupby().first() takes the first non-null per column: earliest sighting wins.
    return df.groupby("account_id", sort=False, as_index=False).first()


def accounts_frame(
    rows: pd.Series,
    account_id: pd.Series,
    platform: str | pd.Series,
    native_id: pd.Series,
    *,
    display_name: pd.Series | None = None,
    first_seen: pd.Series | None = None,
    channel_code: pd.Series | None = None,
) -> pd.DataFrame:
    """Account hint rows (one per input row; merged per account in ``finish``)."""
    return pd.DataFrame(
        {
            ROW: _by_position(rows),
            "account_id": _by_position(account_id),
            "platform": _by_position(platform),
            "native_id": _by_position(native_id),
            "display_name": _by_position(display_name),
            "first_seen": _by_position(first_seen),
            "channel_code": _by_position(channel_code),
        }
    )


def identifiers_frame(
    rows: pd.Series, account_id: pd.Series, kind: str | pd.Series, value: pd.Series
) -> pd.DataFrame:
    """Identifier rows; empty values are dropped in ``finish``."""
    return pd.DataFrame(
        {
            ROW: _by_position(rows),
            "account_id": _by_position(account_id),
            "kind": _by_position(kind),
            "value": _by_position(value),
        }
    )


def _by_position(values: Any) -> Any:
    """A column's values without its index: the pandas array itself, not a numpy copy.

    ``Series.to_numpy()`` turns Arrow-backed text into one Python object per
    cell, which the frame then converts back; ``.array`` keeps the buffers.
    """
    return values.array if isinstance(values, pd.Series) else values


def phone_identifiers(rows: pd.Series, account_id: pd.Series, phones: pd.DataFrame) -> pd.DataFrame:
    """``phone`` / ``phone_masked`` identifier rows; invalid phones are simply not identifiers."""
    usable = phones["kind"].isin(["phone", "phone_masked"])
    return identifiers_frame(
        rows[usable], account_id[usable], phones["kind"][usable], phones["value"][usable]
    )


def prefixed(platform: str, native: pd.Series) -> pd.Series:
    """``<platform>:<native>``, NA where the native id is missing."""
    return (platform + ":" + native.astype("str")).where(native.notna())


def shipping_address(ctx: Context) -> pd.Series:
    """Province + city + district + detail run together; NA where all are empty.

    The way every export that splits the address can be compared with one that
    does not (a file with only a detail column gives that column).
    """
    region = ctx.texts("province").fillna("") + ctx.texts("city").fillna("")
    region = region + ctx.texts("district").fillna("")
    return (region + ctx.texts("address").fillna("")).mask(lambda s: s == "")


def recipient_columns(
    ctx: Context, phone: str = "recipient_phone", phones: pd.DataFrame | None = None
) -> dict[str, pd.Series]:
    """The ship-to of each order as ``orders`` keeps it: ``recipient_name/_phone/_address``.

    The name as typed, the phone field ``phone`` as E.164 when full and in its
    masked form (``138****5678``) when masked (``phones``: that field already
    normalized, to skip a second pass), the address as :func:`shipping_address`.
    A staff-typed account key (a counter phone, a shared login) is then split by
    these columns in the identity step (:mod:`scrm_lib.identity.account_hubs`).
    """
    ph = ctx.phones(phone) if phones is None else phones
    usable = ph["kind"].isin(["phone", "phone_masked"])
    return {
        "recipient_name": ctx.texts("recipient"),
        "recipient_phone": ph["value"].where(usable),
        "recipient_address": shipping_address(ctx),
    }


def recipient_names(ctx: Context) -> pd.Series:
    """The recipient as a ``name`` identifier: only a person's name (``王女士`` gives none).

    :func:`scrm_lib.ingest.names.clean_person_name` over the typed recipient,
    so a note beside the name (``孙梅 杭州``) or a surname with a form of
    address cannot join strangers; the orders keep the name as typed.
    """
    return clean_person_name(ctx.texts("recipient"))


def shipping_identifiers(
    ctx: Context, rows: pd.Series, account: pd.Series, phones: pd.DataFrame | None = None
) -> list[pd.DataFrame]:
    """``name``, ``address`` and ``city`` of a shipping address, plus its phone.

    The name is :func:`recipient_names` (a person's name or nothing), the
    address :func:`shipping_address`. A full phone on the address is a
    ``recipient_phone`` (it may be a gift's recipient, so it never links
    alone); a masked one stays ``phone_masked``. ``phones``: the
    ``recipient_phone`` field already normalized, to skip a second pass.
    """
    out = [
        identifiers_frame(rows, account, "name", recipient_names(ctx)),
        identifiers_frame(rows, account, "address", shipping_address(ctx)),
        identifiers_frame(rows, account, "city", ctx.texts("city")),
    ]
    if ctx.has("recipient_phone"):
        ph = ctx.phones("recipient_phone") if phones is None else phones
        kind = ph["kind"].replace({"phone": "recipient_phone"})
        usable = kind.isin(["recipient_phone", "phone_masked"])
        value = ph["value"][usable]
        out.append(identifiers_frame(rows[usable], account[usable], kind[usable], value))
    return out
