"""Open a raw export: decode bytes, find the header, hand back string cells.

Three kinds of file are read:

- ``csv``: UTF-8 (with or without BOM), GBK, GB18030, UTF-16 with BOM, or
  whatever charset-normalizer can decode strictly. Every column is read as
  a string by the pyarrow CSV reader; a title row above the header is
  skipped once the header row is known.
- ``xlsx``: the first sheet, read with python-calamine; numbers and dates
  become strings the normalizers understand.
- ``jsonl``: one JSON object per line, read with ``pyarrow.json``; nested
  objects are flattened into dotted column names (``text.content``) while
  the nested originals stay reachable through :meth:`RawTable.pylist`.

Cells are stripped of surrounding whitespace and of the ``="..."`` wrapper
spreadsheet-minded exports put around long numbers. Nothing is evaluated:
a cell that starts with ``=``, ``+``, ``-`` or ``@`` is kept as text.

``lines`` gives, for every data row, its 1-based line number in the file as
a user sees it (CSV: the physical line where the record starts; Excel: the
sheet row; JSON lines: the line of the record).

Example
-------
>>> from pathlib import Path
>>> p = Path("/tmp/_scrm_read_example.csv")
>>> _ = p.write_bytes("标题\\n订单号,金额\\n=\\"001\\",￥1.00\\n".encode("gbk"))
>>> t = read_table(p, header_row=1)
>>> t.header, t.df.iloc[0].tolist(), t.lines.tolist(), t.encoding
(['订单号', '金额'], ['001', '￥1.00'], [3], 'gbk')
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from scrm_lib.errors import InputFileError

KINDS = ("csv", "xlsx", "jsonl")
_EXT = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
# Order matters: UTF-8 first because GBK bytes are almost never valid UTF-8,
# while UTF-8 text often decodes (wrongly) as GB18030.
ENCODINGS = ("utf-8", "gbk", "gb18030")
HEAD_ROWS = 15
#: Bytes of a CSV or JSON lines file read to find its header (or its keys).
HEAD_BYTES = 1_000_000


@dataclass
class RawTable:
    """Cells of one file, as strings, with the line number of each data row."""

    kind: str
    header: list[str]
    df: pd.DataFrame
    lines: np.ndarray
    encoding: str | None = None
    title: str | None = None
    # Rows that could not even be split into cells (wrong field count, bad JSON).
    bad_rows: list[tuple[int, str, str]] = field(default_factory=list)
    arrow: pa.Table | None = None
    records: list[dict] | None = None
    # JSON lines: top-level fields of several scalar types, as Python values (``arrow``
    # holds them null where the type is not the usual one)
    mixed: dict[str, list] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return len(self.df) + len(self.bad_rows)

    def pylist(self, column: str) -> list:
        """Python values of a (possibly nested) top-level JSON field, one per row."""
        if column in self.mixed:
            return self.mixed[column]
        if self.records is not None:
            return [r.get(column) if isinstance(r, dict) else None for r in self.records]
        if self.arrow is not None and column in self.arrow.column_names:
            return self.arrow.column(column).to_pylist()
        return [None] * len(self.df)


def file_kind(path: Path) -> str:
    """Guess ``csv``, ``xlsx`` or ``jsonl`` from the extension, then the first bytes.

    Example
    -------
    >>> file_kind(Path("tmall_orders_2025.csv"))
    'csv'
    """
    kind = _EXT.get(path.suffix.lower())
    if kind:
        return kind
    try:
        with path.open("rb") as fh:
            start = fh.read(8)
    except OSError as exc:
        raise InputFileError(path, f"cannot open file ({exc.strerror})") from None
    if start.startswith(b"PK\x03\x04"):
        return "xlsx"
    if start.lstrip().startswith(b"{"):
        return "jsonl"
    return "csv"


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes (its first ``limit`` bytes when given); an empty or blank file,
    or one that cannot be read, is an :class:`InputFileError`."""
    try:
        if limit is None:
            data = path.read_bytes()
        else:
            with path.open("rb") as fh:
                data = fh.read(limit)
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read file ({exc.strerror})") from None
    # isspace stops at the first other byte; strip() would copy the whole file
    if not data or data.isspace():
        if limit is not None and len(data) == limit:
            return read_bytes(path)  # blank so far: the rest decides
        raise InputFileError(path, "empty file")
    return data


def decode(data: bytes, path: Path, hint: str | None = None) -> tuple[str, str]:
    """Decode ``data`` strictly, trying BOMs, ``hint``, UTF-8, GBK, GB18030, then a guess.

    Example
    -------
    >>> decode("订单".encode("gbk"), Path("x.csv"))
    ('订单', 'gbk')
    """
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = [e for e in (hint, *ENCODINGS) if e]
    for enc in dict.fromkeys(candidates):
        try:
            return data.decode(enc), ("utf-8" if enc == "utf-8-sig" else enc)
        except (UnicodeDecodeError, LookupError):
            continue
    guess = _guess_encoding(data)
    if guess:
        try:
            return data.decode(guess), guess
        except (UnicodeDecodeError, LookupError):
            pass
    tried = ", ".join(dict.fromkeys(candidates + ([guess] if guess else [])))
    raise InputFileError(path, f"cannot decode the bytes as text (tried {tried})")


def _guess_encoding(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    # A guess that only works through heavy "chaos" is noise, not an encoding.
    if best is None or best.chaos > 0.2:
        return None
    return best.encoding


# ---------------------------------------------------------------- head


def head_rows(path: Path, hint: str | None = None) -> tuple[str, list[list[str]], str | None]:
    """The first rows of a CSV or Excel file (for header detection), its kind and encoding.

    For JSON lines the single "row" is the sorted flattened keys of the first records.
    """
    kind = file_kind(path)
    if kind == "xlsx":
        rows, _ = _xlsx_rows(path, keep=True)
        return kind, [list(r) for r in rows[:HEAD_ROWS]], None  # copies: the rows are kept
    # the head is in the first megabyte: a big file is read whole once, by read_table
    data = read_bytes(path, HEAD_BYTES + 1)
    if kind == "jsonl":
        if len(data) > HEAD_BYTES and data.count(b"\n") < 50:
            data = read_bytes(path)  # lines longer than the head: the keys need 50 of them
        return kind, [_jsonl_keys(data, path)], None
    # Cut at a line break so that a multi-byte character is never split.
    sample = data if len(data) <= HEAD_BYTES else data[:HEAD_BYTES].rsplit(b"\n", 1)[0]
    text, enc = decode(sample, path, hint)
    delim = _sniff_delimiter(text)
    rows = []
    for i, row in enumerate(csv.reader(io.StringIO(text), delimiter=delim)):
        if i >= HEAD_ROWS:
            break
        rows.append([_clean_cell(c) for c in row])
    return kind, rows, enc


def _jsonl_keys(data: bytes, path: Path) -> list[str]:
    keys: dict[str, None] = {}
    seen = 0
    for raw in data.split(b"\n", 50)[:50]:
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        if isinstance(rec, dict):
            keys.update(dict.fromkeys(_flat_keys(rec)))
            seen += 1
    if not seen:
        raise InputFileError(path, "no JSON object found in the first lines (not JSON lines?)")
    return list(keys)


def _flat_keys(rec: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in rec.items():
        name = f"{prefix}{k}"
        out.append(name)
        if isinstance(v, dict):
            out.extend(_flat_keys(v, name + "."))
    return out


def _sniff_delimiter(text: str) -> str:
    first = text.split("\n", 3)[:3]
    best, count = ",", 0
    for d in (",", "\t", ";"):
        n = max(line.count(d) for line in first) if first else 0
        if n > count:
            best, count = d, n
    return best


def _clean_cell(value: object) -> str:
    s = "" if value is None else str(value).strip()
    if len(s) >= 3 and s.startswith('="') and s.endswith('"'):
        s = s[2:-1]
    return s


# ---------------------------------------------------------------- full read


def read_table(path: Path, *, header_row: int = 0, encoding: str | None = None) -> RawTable:
    """Read a whole file; ``header_row`` is the 0-based row holding the header."""
    kind = file_kind(path)
    if kind == "csv":
        return _read_csv(path, header_row, encoding)
    if kind == "xlsx":
        return _read_xlsx(path, header_row)
    return _read_jsonl(path)


def _dedupe(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        n = n or "unnamed"
        if n in seen:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def clean_frame(df: pd.DataFrame, unwrap: bool = True) -> pd.DataFrame:
    """Strip cells, turn empty cells into NA and unwrap ``="..."`` (column-wise, vectorized)."""
    out = {}
    for name in df.columns:
        s = df[name]
        if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
            s = pd.Series(pd.array(clean_cells(s.array, unwrap), dtype="str"), index=df.index)
        out[name] = s
    return pd.DataFrame(out, index=df.index)


def clean_cells(values: pa.ChunkedArray | pd.api.extensions.ExtensionArray, unwrap: bool = True):
    """Text cells stripped, empty ones null, ``="..."`` unwrapped (``unwrap``), in Arrow.

    Arrow kernels straight on the buffers: the same kernels through pandas'
    string methods pay a boolean mask's round trip through numpy each.
    """
    arr = values if isinstance(values, pa.ChunkedArray) else values.__arrow_array__()
    arr = pc.utf8_trim_whitespace(arr)
    if unwrap:
        wrapped = pc.and_(pc.starts_with(arr, '="'), pc.ends_with(arr, '"'))
        wrapped = pc.and_(wrapped, pc.greater_equal(pc.utf8_length(arr), 3))
        if pc.any(wrapped).as_py():
            arr = pc.if_else(wrapped, pc.utf8_slice_codeunits(arr, 2, -1), arr)
    empty = pc.equal(arr, "")
    if pc.any(empty).as_py():
        arr = pc.if_else(empty, pa.scalar(None, arr.type), arr)
    return arr


def _utf8_bytes(data: bytes, hint: str | None) -> bytes | None:
    """``data`` without its BOM when :func:`decode` would read it as UTF-8, else None.

    Checked in slices, so a big file is never held as one Python string
    (which costs up to four bytes per character) next to its bytes.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    bom = data.startswith(b"\xef\xbb\xbf")
    if not bom and hint and hint.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return None
    body = memoryview(data)[3:] if bom else memoryview(data)
    if not is_utf8(body):
        return None
    return bytes(body) if bom else data


def is_utf8(data: bytes | memoryview) -> bool:
    """Whether ``data`` is valid UTF-8, checked by Arrow on the bytes where they lie.

    A Python ``decode`` would build the whole text as a str (up to four bytes per
    character) only to throw it away; Arrow's check is a tenth of its CPU time.

    Example
    -------
    >>> is_utf8("订单".encode()), is_utf8("订单".encode("gbk"))
    (True, False)
    """
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    one = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        one.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _read_csv(path: Path, header_row: int, encoding: str | None) -> RawTable:
    data = read_bytes(path)
    utf8_data = _utf8_bytes(data, encoding)
    if utf8_data is None:
        text, enc = decode(data, path, encoding)
        del data
        return _read_csv_text(path, header_row, text, enc, None)
    del data
    return _read_csv_text(path, header_row, None, "utf-8", utf8_data)


def _read_csv_text(
    path: Path, header_row: int, text: str | None, enc: str, utf8: bytes | None
) -> RawTable:
    """Read decoded CSV; ``utf8`` (the file's UTF-8 bytes) stands in for ``text`` when given."""
    if text is None:
        assert utf8 is not None
        # the header, its title and the delimiter come from the first lines only
        cut = utf8.find(b"\n", 0)
        for _ in range(max(header_row, 3)):
            if cut < 0:
                break
            cut = utf8.find(b"\n", cut + 1)
        head = (utf8 if cut < 0 else utf8[: cut + 1]).decode("utf-8")
    else:
        head = text
    delim = _sniff_delimiter(head)
    lines_before = head.split("\n", header_row + 1)
    if len(lines_before) <= header_row:
        raise InputFileError(path, f"no header row at line {header_row + 1}")
    header_line = lines_before[header_row]
    header = [_clean_cell(c) for c in next(csv.reader([header_line], delimiter=delim))]
    title = lines_before[0].strip() if header_row > 0 else None
    names = _dedupe(header)
    ncols = len(names)
    bad: list[tuple[int, str, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(
            (row.number or -1, f"expected {ncols} fields, got {row.actual_columns}", row.text)
        )
        return "skip"

    if utf8 is None:
        assert text is not None
        utf8 = text.encode("utf-8")
    physical = utf8.count(b"\n") + (0 if utf8.endswith(b"\n") else 1)
    cols = [f"c{i}" for i in range(ncols)]
    try:
        table = pacsv.read_csv(
            io.BytesIO(utf8),
            read_options=pacsv.ReadOptions(
                skip_rows=header_row + 1, column_names=cols, block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(delimiter=delim, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(cols, pa.string()),
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:
        table = None
    # The fast path's row index maps to a physical line only when every record
    # is one line and none was skipped; otherwise count lines the slow way.
    if table is None or bad or physical != header_row + 1 + table.num_rows:
        if text is None:
            text = utf8.decode("utf-8")
        return _read_csv_python(path, text, enc, header_row, delim, header, title)
    del utf8, text
    table = pa.table([clean_cells(c) for c in table.columns], names=names)
    df = table.to_pandas()
    lines = np.arange(header_row + 2, header_row + 2 + len(df), dtype=np.int64)
    return RawTable("csv", header, df, lines, enc, title or None)


def _read_csv_python(
    path: Path, text: str, enc: str, header_row: int, delim: str, header: list[str], title
) -> RawTable:
    names = _dedupe(header)
    ncols = len(names)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    rows: list[list[str]] = []
    lines: list[int] = []
    bad: list[tuple[int, str, str]] = []
    start = 1
    for i, row in enumerate(reader):
        line = start
        start = reader.line_num + 1
        if i <= header_row or not any(c.strip() for c in row):
            continue
        if len(row) != ncols:
            # Trailing empty cells are what spreadsheets add; anything else is damage.
            if len(row) > ncols and not any(c.strip() for c in row[ncols:]):
                row = row[:ncols]
            elif len(row) < ncols and len(row) > 0:
                bad.append((line, f"expected {ncols} fields, got {len(row)}", delim.join(row)))
                continue
            else:
                bad.append((line, f"expected {ncols} fields, got {len(row)}", delim.join(row)))
                continue
        rows.append(row)
        lines.append(line)
    df = (
        pd.DataFrame(rows, columns=names, dtype="str")
        if rows
        else pd.DataFrame({n: pd.Series([], dtype="str") for n in names})
    )
    df = clean_frame(df)
    return RawTable("csv", header, df, np.asarray(lines, dtype=np.int64), enc, title, bad)


def _cell_str(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if v != v:
            return ""
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, _dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, _dt.time):
        return v.strftime("%H:%M:%S")
    return str(v)


#: The rows of the last workbook :func:`head_rows` read, by (path, mtime, size): a parse
#: finds the header, then reads the table, and a sheet costs as much to read the second
#: time (calamine loads the whole sheet even for its first rows).
_KEPT_SHEET: dict[tuple[str, int, int], tuple[list[list[str]], int]] = {}


def _xlsx_rows(path: Path, keep: bool = False) -> tuple[list[list[str]], int]:
    """All rows of the first sheet as strings, and the sheet row of the first one (1-based).

    ``keep``: keep them for the next call on the same unchanged file (which takes them).
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read file ({exc.strerror})") from None
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    kept = _KEPT_SHEET.pop(key, None)
    if kept is None:
        _KEPT_SHEET.clear()
        kept = _read_sheet(path)
    if keep:
        _KEPT_SHEET[key] = kept
    return kept


def _read_sheet(path: Path) -> tuple[list[list[str]], int]:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
        if not wb.sheet_names:
            raise InputFileError(path, "workbook has no sheets")
        sheet = wb.get_sheet_by_index(0)
        values = sheet.to_python(skip_empty_area=False)
    except InputFileError:
        raise
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise InputFileError(path, f"cannot read as an Excel workbook ({exc})") from None
    rows = [[_cell_str(v).strip() for v in row] for row in values]
    if not any(any(c for c in r) for r in rows):
        raise InputFileError(path, "empty file")
    return rows, 1


def _read_xlsx(path: Path, header_row: int) -> RawTable:
    rows, first = _xlsx_rows(path)
    if header_row >= len(rows):
        raise InputFileError(path, f"no header row at row {header_row + 1}")
    header = [_clean_cell(c) for c in rows[header_row]]
    # Trailing unnamed columns are formatting residue, not data.
    while header and not header[-1]:
        header.pop()
    names = _dedupe(header)
    body = []
    lines = []
    for i, row in enumerate(rows[header_row + 1 :], start=header_row + 1):
        cells = (row + [""] * len(names))[: len(names)]
        if not any(cells):
            continue
        body.append(cells)
        lines.append(first + i)
    title = " ".join(c for c in rows[0] if c) if header_row > 0 else None
    df = (
        pd.DataFrame(body, columns=names, dtype="str")
        if body
        else pd.DataFrame({n: pd.Series([], dtype="str") for n in names})
    )
    return RawTable("xlsx", header, clean_frame(df), np.asarray(lines, dtype=np.int64), None, title)


def _read_jsonl(path: Path) -> RawTable:
    data = read_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not is_utf8(data):
        text, _ = decode(data, path)
        data = text.encode("utf-8")
    # pyarrow skips blank lines, which would shift record numbers off the file's lines.
    end = len(data)
    while end and data[end - 1] in b"\r\n":  # the trailing line breaks, without a copy
        end -= 1
    blank = data.find(b"\n\n", 0, end) >= 0 or data.find(b"\n\r\n", 0, end) >= 0
    if not blank and not data.startswith((b"\n", b"\r")):
        table, mixed = _read_with_text_times(data), {}
        if table is None:
            table, data, mixed = _arrow_jsonl(data)
        if table is not None and _has_timestamps(table.schema):
            # pyarrow turns ISO 8601 text into naive UTC timestamps, dropping whether
            # the text had an offset (a naive one is local time): read those fields
            # again as text, with the schema found, instead of one json.loads a line
            table = _reread_as_text(data, table.schema)
        if table is not None:
            flat = table
            while any(pa.types.is_struct(f.type) for f in flat.schema):
                flat = flat.flatten()
            df = flat.to_pandas(types_mapper=_nullable_types)
            for name, values in mixed.items():
                df[name] = pd.Series(values, index=df.index, dtype=object)
            lines = np.arange(1, len(df) + 1, dtype=np.int64)
            header = list(dict.fromkeys([*table.column_names, *df.columns]))
            df = clean_frame(df, unwrap=False)
            return RawTable("jsonl", header, df, lines, "utf-8", arrow=table, mixed=mixed)
    return _read_jsonl_python(path, data)


#: Bytes of a JSON lines file read ahead to find its timestamp fields.
_HEAD_BYTES = 1 << 19


def _read_with_text_times(data: bytes) -> pa.Table | None:
    """The JSON lines read once, the fields that look like timestamps in the file's first
    lines kept as text; None when that does not give the table the two-pass read would.

    pyarrow has no switch to keep timestamp-like text as text, and reading the whole file
    twice (once to find those fields, once again with them as text) cost a tenth of a
    large event log's parse. Only top-level fields are named ahead; a file whose first
    lines hold none, or a nested one, or that pyarrow cannot read so, takes the two-pass
    road (:func:`_arrow_jsonl`, :func:`_reread_as_text`).
    """
    if len(data) <= 2 * _HEAD_BYTES:
        return None
    head = data[: data.rfind(b"\n", 0, _HEAD_BYTES) + 1]
    try:
        schema = pajson.read_json(io.BytesIO(head)).schema
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    times = [f for f in schema if _has_timestamps(pa.schema([f]))]
    if not times or any(pa.types.is_nested(f.type) for f in times):
        return None
    table = _read_with_schema(data, pa.schema([f.with_type(pa.string()) for f in times]))
    if table is None:
        return None
    # named fields come first in pyarrow's table; the file's own order is the head's,
    # then the fields that first appear later, in the order they appear
    first = [n for n in schema.names if n in table.column_names]
    later = [n for n in table.column_names if n not in set(schema.names)]
    return table.select([*first, *later])


#: pyarrow's complaint about a top-level field whose JSON type changes between lines.
_TYPE_CHANGE = re.compile(r"Column\(/([^/()]+)\) changed from")


def _arrow_jsonl(data: bytes) -> tuple[pa.Table | None, bytes, dict[str, list]]:
    """JSON lines read by pyarrow, with the fields whose scalar type varies by line apart.

    A field that is a number in most lines and text in a few (``"total_fee":
    "N/A"``) stops pyarrow's reader. Those few lines (found by the field's key
    in the bytes, then parsed) are read again with that field null, and the
    field's values are kept as the Python values the line-by-line reader would
    have (``mixed``): the rest of the file stays columnar. Returns the table,
    the bytes it read and ``mixed``; or None, ``data`` and {} when pyarrow
    cannot read the file even so (a nested or non-scalar conflict, a bad line).
    """
    read = data
    odd_by_field: dict[str, dict[int, object]] = {}
    for _ in range(8):
        try:
            table = pajson.read_json(
                io.BytesIO(read), read_options=pajson.ReadOptions(block_size=1 << 24)
            )
        except pa.ArrowNotImplementedError:
            break
        except pa.ArrowInvalid as exc:
            found = _TYPE_CHANGE.search(str(exc))
            name = found[1].replace("~1", "/").replace("~0", "~") if found else None
            odd = None if name is None or name in odd_by_field else _odd_values(read, name)
            if odd is None:
                break
            lines = read.split(b"\n")
            for i, (rec, _) in odd.items():
                lines[i] = json.dumps({**rec, name: None}, ensure_ascii=False).encode()
            read = b"\n".join(lines)
            odd_by_field[name] = {i: v for i, (_, v) in odd.items()}
            continue
        mixed = {}
        for name, odd in odd_by_field.items():
            column = table.column(name)
            # these types give back the Python value each line had; a double column holds
            # 3 written as 3.0, so its numbers are taken as written; a timestamp holds text
            if pa.types.is_floating(column.type):
                values = _numbers_as_written(read, name, column)
            elif (pa.types.is_int64(column.type) or pa.types.is_boolean(column.type)
                  or pa.types.is_string(column.type)):  # fmt: skip
                values = column.to_pylist()
            else:
                values = None
            if values is None:
                return None, data, {}
            for i, v in odd.items():
                values[i] = v
            mixed[name] = values
        return table, read, mixed
    return None, data, {}


def _numbers_as_written(data: bytes, name: str, column: pa.ChunkedArray) -> list | None:
    """The Python values ``json.loads`` gives a top-level number field (an int where the
    line wrote ``3``, a float where it wrote ``3.0`` or ``1e2``), from each line's text;
    None when a line holds the key twice (a nested key of that name) or a number is not
    found where the column has one: the caller then reads the file line by line.

    A field that is money in most lines and ``"N/A"`` in a few is read as doubles by
    pyarrow once those lines are set aside; read line by line instead, such a file
    took four times as long.
    """
    key = re.escape(json.dumps(name, ensure_ascii=False).encode())
    found = [(m.start(), m[1]) for m in re.finditer(key + rb"\s*:\s*(-?[0-9][0-9.eE+-]*)", data)]
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    lines = np.searchsorted(newlines, np.array([at for at, _ in found], dtype=np.int64))
    present = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
    if len(lines) != len(present) or not np.array_equal(lines, present):
        return None
    values: list = [None] * len(column)
    for i, (_, text) in zip(lines.tolist(), found, strict=True):
        values[i] = float(text) if any(c in text for c in b".eE") else int(text)
    return values


def _odd_values(data: bytes, name: str) -> dict[int, tuple[dict, object]] | None:
    """The lines whose top-level ``name`` is not of the field's usual JSON type: line
    index to (the parsed line, its value); None when one is an object or a list."""
    key = re.escape(json.dumps(name, ensure_ascii=False).encode())
    hits = [(m.start(), m[1]) for m in re.finditer(key + rb"\s*:\s*(.)", data)]
    kinds = [_KINDS.get(first[:1], "number") for _, first in hits]
    counted = [k for k in kinds if k != "null"]
    if not counted:
        return None
    usual = max(set(counted), key=counted.count)
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    starts = np.concatenate([[0], newlines + 1])
    # a nested field of that name matches too: the parsed line decides
    candidates = sorted({
        int(np.searchsorted(newlines, at)) for (at, _), k in zip(hits, kinds, strict=True)
        if k not in (usual, "null")
    })  # fmt: skip
    odd = {}
    for i in candidates:
        end = newlines[i] if i < len(newlines) else len(data)
        try:
            rec = json.loads(data[starts[i] : end])
        except ValueError:
            return None
        value = rec.get(name) if isinstance(rec, dict) else None
        if value is None:
            continue
        kind = _kind(value)
        if kind is None:
            return None
        if kind != usual:
            odd[i] = (rec, value)
    return odd


#: The JSON type of a value by its first byte (anything else starts a number).
_KINDS = {b'"': "text", b"t": "bool", b"f": "bool", b"n": "null", b"{": "nested", b"[": "nested"}


def _kind(value: object) -> str | None:
    """The JSON type pyarrow keeps apart (None for an object or a list)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "text" if isinstance(value, str) else None


def _as_text_type(t: pa.DataType) -> pa.DataType:
    """``t`` with every timestamp, date and time (also nested) as text."""
    if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_as_text_type(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_as_text_type(t.value_type)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_as_text_type(t.value_type)))
    return t


def _reread_as_text(data: bytes, schema: pa.Schema) -> pa.Table | None:
    """The JSON lines again, with the fields pyarrow took for timestamps read as their text."""
    return _read_with_schema(data, pa.schema([f.with_type(_as_text_type(f.type)) for f in schema]))


def _read_with_schema(data: bytes, schema: pa.Schema) -> pa.Table | None:
    """The JSON lines with ``schema``'s fields as typed there (the others inferred); None
    when pyarrow cannot read them so or still finds a timestamp."""
    try:
        table = pajson.read_json(
            io.BytesIO(data),
            read_options=pajson.ReadOptions(block_size=1 << 24),
            parse_options=pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return None if _has_timestamps(table.schema) else table


def _has_timestamps(schema: pa.Schema) -> bool:
    def walk(t: pa.DataType) -> bool:
        if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t):
            return True
        if pa.types.is_struct(t):
            return any(walk(t.field(i).type) for i in range(t.num_fields))
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return walk(t.value_type)
        return False

    return any(walk(f.type) for f in schema)


def _nullable_types(t: pa.DataType):
    # Keep integers integral when nulls are present (unix ms would otherwise turn float).
    if pa.types.is_integer(t):
        return pd.Int64Dtype()
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    return None


def _read_jsonl_python(path: Path, data: bytes) -> RawTable:
    records: list[dict] = []
    lines: list[int] = []
    bad: list[tuple[int, str, str]] = []
    for n, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError as exc:
            bad.append((n, f"invalid JSON ({exc.msg})", raw.decode("utf-8", "replace")[:200]))
            continue
        if not isinstance(rec, dict):
            bad.append((n, "not a JSON object", raw.decode("utf-8", "replace")[:200]))
            continue
        records.append(rec)
        lines.append(n)
    if not records and not bad:
        raise InputFileError(path, "empty file")
    df = pd.json_normalize(records) if records else pd.DataFrame()
    df = clean_frame(df, unwrap=False)
    top = dict.fromkeys(k for r in records for k in r)
    return RawTable(
        "jsonl",
        list(dict.fromkeys([*top, *df.columns])),
        df,
        np.asarray(lines, dtype=np.int64),
        "utf-8",
        bad_rows=bad,
        records=records,
    )
