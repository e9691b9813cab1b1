"""Peer baseline: load the same exports the way a hand-written script would.

Reads every export with pandas (CSV with its encoding, xlsx with calamine,
JSON lines) and inserts each frame as-is into a DuckDB file: no
normalization, no validation, no deduplication. scrm's ingest + build is
measured as a ratio to this.
"""

from __future__ import annotations

import codecs
import sys
from pathlib import Path

import duckdb
import pandas as pd


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".xlsx":
        return pd.read_excel(path, engine="calamine", dtype=str)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    # what a hand-written loader of a brand's folder knows: BOM or GBK, maybe a title line
    with path.open("rb") as fh:
        head = fh.read(4096)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)  # a cut last character is fine
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "gb18030"
    first = head.split(b"\n", 1)[0]
    return pd.read_csv(path, encoding=encoding, dtype=str, skiprows=int(b"," not in first))


def main(exports: str, out: str) -> None:
    con = duckdb.connect(out)
    for i, path in enumerate(sorted(Path(exports).glob("*"))):
        if path.suffix not in {".csv", ".xlsx", ".jsonl"}:
            continue
        frame = read(path).astype(str)
        con.register("frame", frame)
        con.execute(f'CREATE TABLE "t{i}" AS SELECT * FROM frame')
        con.unregister("frame")
    con.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
