"""Ingest: read one raw export file into canonical frames plus rejects.

The contract with the rest of scrm (the warehouse build calls only these):

- ``detect_format(path) -> str``: the preset name of a file, found from its
  header row / first record (raises ``InputFileError`` naming the file when
  no preset matches).
- ``parse_file(path, *, preset=None, settings=None) -> ParsedFile``.
- ``list_presets() -> list[str]``.

A ``ParsedFile`` holds, for one file, frames already conformed to the
canonical schemas (``scrm_lib.schema.conform``) and the rejected rows.
Every input row is either accepted (it contributes to at least one table)
or rejected (at least one line in ``rejects`` names it): ``rows_in ==
accepted + rejected``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class ParsedFile:
    """What one raw file contributes to the warehouse."""

    path: Path
    format: str  # preset name, e.g. "tmall_orders"
    platform: str
    sha256: str
    rows_in: int
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def rejected(self) -> int:
        """Input rows with at least one reject line."""
        return 0 if self.rejects.empty else int(self.rejects["line"].nunique())

    @property
    def accepted(self) -> int:
        """Input rows that reach the warehouse."""
        return self.rows_in - self.rejected
