"""What adapters share: typed access to mapped columns, reject bookkeeping, output frames.

An adapter receives a :class:`Context`: the raw cells of one file, the
preset, and the mapping from the preset's fields to this file's headers.
It asks the context for normalized columns (``ctx.timestamps("created_at")``)
which records a reject line for every cell that fails, and returns frames
that carry ``_row``, the position of the input row they came from. The
context then drops every output row whose input row was rejected, so a row
is either accepted (it reaches some table) or rejected, never both.

Example
-------
>>> ctx.timestamps("created_at", required=True)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.presets import Preset
from scrm_lib.ingest.read import RawTable
from scrm_lib.schema import TABLES, conform

ROW = "_row"


@dataclass
class Context:
    """One file being parsed."""

    path: Path
    raw: RawTable
    preset: Preset
    cols: dict[str, str]
    tz: str = "Asia/Shanghai"
    region: str = "CN"
    _rejects: list[pd.DataFrame] = field(default_factory=list)
    _bad: pd.Series | None = None

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

    def timestamps(self, fld: str, *, required: bool = False) -> pd.Series:
        raw = self.get(fld)
        ts, bad = nz.parse_timestamps(raw, self.tz)
        self.reject(bad, fld, "unparseable timestamp")
        if required:
            self.reject(nz.text(raw).isna(), fld, "missing value")
        return ts

    def amounts(self, fld: str, *, scale: float = 1.0, required: bool = False) -> pd.Series:
        raw = self.get(fld)
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
        """Map raw statuses with the preset's ``[status]`` table; unknown labels reject."""
        raw = nz.text(self.get(fld))
        mapped = nz.map_values(raw, mapping if mapping is not None else self.preset.status)
        self.reject(raw.notna() & mapped.isna(), fld, "unknown status")
        self.reject(raw.isna(), fld, "missing value")
        return mapped

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

    def finish(self, tables: dict[str, Any]) -> dict[str, pd.DataFrame]:
        """Drop rows of rejected input rows, dedupe helper tables, conform to the schema."""
        ok_rows = self.ok
        out: dict[str, pd.DataFrame] = {}
        for name, frames in tables.items():
            parts = [frames] if isinstance(frames, pd.DataFrame) else list(frames)
            parts = [p for p in parts if p is not None and len(p)]
            if not parts:
                continue
            df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
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
            ROW: rows.to_numpy(),
            "account_id": account_id.to_numpy(),
            "platform": platform if isinstance(platform, str) else platform.to_numpy(),
            "native_id": native_id.to_numpy(),
            "display_name": None if display_name is None else display_name.to_numpy(),
            "first_seen": None if first_seen is None else first_seen.to_numpy(),
            "channel_code": None if channel_code is None else channel_code.to_numpy(),
        }
    )


def identifiers_frame(
    rows: pd.Series, account_id: pd.Series, kind: str | pd.Series, value: pd.Series
) -> pd.DataFrame:
    """Identifier rows; empty values are dropped in ``finish``."""
    return pd.DataFrame(
        {
            ROW: rows.to_numpy(),
            "account_id": account_id.to_numpy(),
            "kind": kind if isinstance(kind, str) else kind.to_numpy(),
            "value": value.to_numpy(),
        }
    )


def phone_identifiers(rows: pd.Series, account_id: pd.Series, phones: pd.DataFrame) -> pd.DataFrame:
    """``phone`` / ``phone_masked`` identifier rows; invalid phones are simply not identifiers."""
    usable = phones["kind"].isin(["phone", "phone_masked"])
    return identifiers_frame(
        rows[usable], account_id[usable], phones["kind"][usable], phones["value"][usable]
    )


def prefixed(platform: str, native: pd.Series) -> pd.Series:
    """``<platform>:<native>``, NA where the native id is missing."""
    return (platform + ":" + native.astype("str")).where(native.notna())


def shipping_identifiers(ctx: Context, rows: pd.Series, account: pd.Series) -> list[pd.DataFrame]:
    """``name``, ``address`` and ``city`` of a shipping address, plus its phone.

    The address is province + city + district + detail run together, the way
    every export that splits it can be compared with one that does not. A full
    phone on the address is a ``recipient_phone`` (it may be a gift's
    recipient, so it never links alone); a masked one stays ``phone_masked``.
    """
    region = ctx.texts("province").fillna("") + ctx.texts("city").fillna("")
    region = region + ctx.texts("district").fillna("")
    address = (region + ctx.texts("address").fillna("")).mask(lambda s: s == "")
    out = [
        identifiers_frame(rows, account, "name", ctx.texts("recipient")),
        identifiers_frame(rows, account, "address", address),
        identifiers_frame(rows, account, "city", ctx.texts("city")),
    ]
    if ctx.has("recipient_phone"):
        ph = ctx.phones("recipient_phone")
        kind = ph["kind"].replace({"phone": "recipient_phone"})
        usable = kind.isin(["recipient_phone", "phone_masked"])
        value = ph["value"][usable]
        out.append(identifiers_frame(rows[usable], account[usable], kind[usable], value))
    return out
