"""Low-level writers and noise helpers shared by the platform exporters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EXCEL_MAX_DATA_ROWS = 1_048_575  # 1,048,576 rows a sheet, one of them the header


def money(fen) -> pd.Series:
    """Fen (int) to yuan text with two decimals, e.g. 5990 → ``59.90``."""
    f = pd.Series(np.asarray(fen, dtype="int64"))
    sign = np.where(f.to_numpy() < 0, "-", "")
    a = f.abs()
    return sign + (a // 100).astype(str) + "." + (a % 100).astype(str).str.zfill(2)


def js(values) -> pd.Series:
    """Text as a JSON string literal (quotes included)."""
    s = pd.Series(np.asarray(values, dtype=object), dtype="str").fillna("")
    s = s.str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)
    return '"' + s + '"'


def js_or_null(values) -> pd.Series:
    s = pd.Series(np.asarray(values, dtype=object), dtype="str")
    return js(s).where(s.notna(), "null")


def write_lines(lines: pd.Series, path: Path, chunk: int = 200_000) -> int:
    """Write one text line per element (UTF-8, ``\\n``), in chunks to bound memory."""
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        if lines.isna().any():  # a misaligned concatenation upstream: fail loudly
            raise ValueError(f"{path.name}: {int(lines.isna().sum())} lines are missing")
        for i in range(0, len(lines), chunk):
            part = lines.iloc[i : i + chunk]
            fh.write("\n".join(part.tolist()))
            fh.write("\n")
    return len(lines)


def _csv_field(col: pd.Series) -> pd.Series:
    """A column as CSV fields: quoted (quotes doubled) only where needed."""
    if col.dtype == bool:
        text = pd.Series(np.where(col.to_numpy(), "True", "False"))
    else:
        text = col.astype("str").fillna("").reset_index(drop=True)
    need = text.str.contains('[",\r\n]', regex=True)
    if need.any():
        quoted = '"' + text.str.replace('"', '""', regex=False) + '"'
        text = text.where(~need.to_numpy(), quoted)
    return text


def write_csv(
    df: pd.DataFrame, path: Path, encoding: str, chunk: int = 200_000, title: str | None = None
) -> int:
    """CSV with a header line and CRLF line ends, as the platforms' exports have.

    ``title`` is a line above the header (``有赞订单导出 2025-06-01``), as
    some back offices write.

    Built column-wise with vectorized string operations: pandas' ``to_csv``
    formats row by row and dominated the run time at a million persons.
    """
    bom = encoding.lower().replace("_", "-") == "utf-8-sig"
    codec = "utf-8" if bom else encoding
    header = ",".join(_csv_field(pd.Series(list(df.columns), dtype="str")).tolist())
    with open(path, "wb") as fh:
        if bom:
            fh.write(b"\xef\xbb\xbf")
        if title:
            fh.write((title + "\r\n").encode(codec))
        fh.write((header + "\r\n").encode(codec))
        for lo in range(0, len(df), chunk):
            part = df.iloc[lo : lo + chunk]
            line = None
            for c in part.columns:
                f = _csv_field(part[c])
                line = f if line is None else line + "," + f
            fh.write(("\r\n".join(line.tolist()) + "\r\n").encode(codec))
    return len(df)


def add_duplicates(
    rng: np.random.Generator, df: pd.DataFrame, share: float
) -> tuple[pd.DataFrame, int]:
    """Repeat a few rows exactly, each right after its original (an export glitch)."""
    k = round(len(df) * share)
    if k == 0:
        return df, 0
    pick = np.sort(rng.choice(len(df), size=k, replace=False))
    pos = np.concatenate([np.arange(len(df), dtype=float), pick + 0.5])
    out = pd.concat([df, df.iloc[pick]], ignore_index=True)
    return out.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True), k


def garbage_count(n_rows: int) -> int:
    """A few unparseable rows a file: enough to exercise rejects, not to matter."""
    return 0 if n_rows == 0 else 2 + n_rows // 20_000
