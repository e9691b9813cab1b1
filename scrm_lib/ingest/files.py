"""Parse one raw export file into canonical frames plus rejects (see :mod:`scrm_lib.ingest`)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from scrm_lib.errors import InputFileError
from scrm_lib.ingest.raw_area import sha256_of

if TYPE_CHECKING:
    from scrm_lib.ingest.suggest import PresetSuggestion


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

    def summary(self) -> dict[str, Any]:
        """What the build log and the parse cache record of the file: format, platform,
        sha256, row counts and the names of the tables it filled."""
        return {
            "format": self.format,
            "platform": self.platform,
            "sha256": self.sha256,
            "rows_in": int(self.rows_in),
            "accepted": int(self.accepted),
            "rejected": int(self.rejected),
            "tables": [n for n, f in self.tables.items() if f is not None and not f.empty],
        }


def list_presets(settings: Any = None) -> list[str]:
    """Names of the presets ingest knows (built-in, plus ``<home>/presets/*.toml``).

    Example
    -------
    >>> "tmall_orders" in list_presets()
    True
    """
    from scrm_lib.ingest.presets import available_presets

    return sorted(available_presets(settings))


def detect_format(path: str | Path, settings: Any = None) -> str:
    """The preset name that reads ``path`` (see :mod:`scrm_lib.ingest.detect`).

    Example
    -------
    >>> detect_format("data/raw/tmall_orders_2025.csv")  # doctest: +SKIP
    'tmall_orders'
    """
    from scrm_lib.ingest.detect import detect_format as _detect

    return _detect(path, settings)


def suggest_preset(
    path: str | Path, *, settings: Any = None, name: str | None = None
) -> PresetSuggestion:
    """Draft a preset for a file no preset reads (see :mod:`scrm_lib.ingest.suggest`).

    Example
    -------
    >>> s = suggest_preset("orders_from_erp.csv")  # doctest: +SKIP
    >>> s.base, "[columns]" in s.toml  # doctest: +SKIP
    ('youzan_orders', True)
    """
    from scrm_lib.ingest.suggest import suggest_preset as _suggest

    return _suggest(path, settings=settings, name=name)


def parse_file(path: str | Path, *, preset: str | None = None, settings: Any = None) -> ParsedFile:
    """Read one raw export into canonical tables and rejects.

    Parameters
    ----------
    path
        The file (CSV, xlsx or JSON lines).
    preset
        A preset name (``list_presets()``) or the path of a preset TOML file;
        detected from the header when omitted.
    settings
        ``scrm_lib.config.Settings``; ``timezone`` (default Asia/Shanghai) is
        the zone of naive local times and ``default_region`` the phone region.

    Raises
    ------
    InputFileError
        Unknown format, missing required column, undecodable bytes, an
        unresolvable title row, an empty file or a file without data rows.

    Example
    -------
    >>> pf = parse_file("data/raw/tmall_orders_2025.csv")  # doctest: +SKIP
    >>> pf.rows_in == pf.accepted + pf.rejected  # doctest: +SKIP
    True
    """
    from scrm_lib.ingest.base import Context
    from scrm_lib.ingest.detect import locate
    from scrm_lib.ingest.plausibility import plausibility_rules
    from scrm_lib.ingest.presets import load_preset, require_columns
    from scrm_lib.ingest.read import read_table

    p = Path(path)
    if not p.exists():
        raise InputFileError(p, "file not found")
    if p.is_dir():
        raise InputFileError(p, "is a folder, not a file")
    if p.stat().st_size == 0:
        raise InputFileError(p, "empty file")
    chosen = load_preset(preset, settings) if preset is not None else None
    chosen, header_row = locate(p, settings, chosen)
    raw = read_table(p, header_row=header_row, encoding=chosen.encoding)
    if raw.rows_in == 0:
        raise InputFileError(p, "no data rows (header only)")
    cols = require_columns(p, raw.header, chosen)
    ctx = Context(
        path=p,
        raw=raw,
        preset=chosen,
        cols=cols,
        tz=getattr(settings, "timezone", None) or "Asia/Shanghai",
        region=getattr(settings, "default_region", None) or "CN",
        rules=plausibility_rules(settings),
    )
    adapter = importlib.import_module(f"scrm_lib.ingest.{chosen.adapter}")
    tables = ctx.finish(adapter.parse(ctx))
    return ParsedFile(
        path=p,
        format=chosen.name,
        platform=chosen.platform,
        sha256=sha256_of(p),
        rows_in=raw.rows_in,
        tables=tables,
        rejects=ctx.reject_rows(),
    )


__all__ = ["ParsedFile", "detect_format", "list_presets", "parse_file", "suggest_preset"]
