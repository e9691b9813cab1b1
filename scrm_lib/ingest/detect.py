"""Find the preset of a file, and the row its header sits on.

Each preset whose readers accept the file's kind is tried against each of
the first rows (a title row may sit above the header): a row fits when all
the preset's required fields find a header. Among fits, the one matching
the most columns wins, then the one whose ``files`` pattern matches the
file name, then the higher row.

Example
-------
>>> detect_format("tmall_orders_2025.csv")  # doctest: +SKIP
'tmall_orders'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrm_lib.errors import InputFileError
from scrm_lib.ingest.presets import (
    Preset,
    available_presets,
    missing_required,
    resolve_columns,
)
from scrm_lib.ingest.read import head_rows

MAX_HEADER_ROW = 10


def _fits(rows: list[list[str]], preset: Preset) -> list[tuple[tuple, int]]:
    out = []
    for i, row in enumerate(rows[:MAX_HEADER_ROW]):
        if not any(row) or missing_required(row, preset):
            continue
        matched = len(resolve_columns(row, preset))
        out.append(((matched, -i), i))
    return out


def _looks_like_title(rows: list[list[str]]) -> str | None:
    if len(rows) > 1 and sum(1 for c in rows[0] if c) == 1:
        return next(c for c in rows[0] if c)
    return None


def _shown(row: list[str]) -> str:
    return ", ".join(c for c in row if c)[:200]


def locate(path: Path, settings: Any = None, preset: Preset | None = None) -> tuple[Preset, int]:
    """The preset (given or detected) and the 0-based header row of ``path``."""
    presets = [preset] if preset is not None else list(available_presets(settings).values())
    kind, rows, _ = head_rows(path, preset.encoding if preset else None)
    usable = [p for p in presets if kind in p.readers]
    if preset is not None and not usable:
        raise InputFileError(
            path, f"preset {preset.name} reads {', '.join(preset.readers)} files, not {kind}"
        )
    best: tuple | None = None
    for p in usable:
        for score, row in _fits(rows, p):
            full = (score[0], p.matches_filename(path), score[1], p.name)
            if best is None or full[:3] > best[0][:3]:
                best = (full, p, row)
    if best is not None:
        return best[1], best[2]
    if not rows or not any(any(r) for r in rows):
        raise InputFileError(path, "empty file")
    title = _looks_like_title(rows)
    header = rows[1] if title and len(rows) > 1 else rows[0]
    if preset is not None:
        missing = missing_required(header, preset)
        if title:
            raise InputFileError(
                path,
                f"title row {title!r} above the header, and no row below it has the columns "
                f"of preset {preset.name} (missing {', '.join(missing)})",
            )
        raise InputFileError(
            path,
            f"missing required column {', '.join(missing)} for preset {preset.name} "
            f"(header: {_shown(header)})",
        )
    tried = ", ".join(p.name for p in usable) or "none"
    near = _nearest(header, usable)
    hint = f"; closest: {near}" if near else ""
    if title:
        raise InputFileError(
            path,
            f"title row {title!r} above the header, and no row below it matches a preset "
            f"(tried {tried}){hint}",
        )
    raise InputFileError(
        path, f"unknown format: header ({_shown(header)}) matches no preset (tried {tried}){hint}"
    )


def _nearest(header: list[str], presets: list[Preset]) -> str:
    scored = [(len(resolve_columns(header, p)), p) for p in presets]
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        return ""
    _, p = max(scored, key=lambda s: s[0])
    return f"{p.name} lacks {', '.join(missing_required(header, p))}"


def detect_format(path: str | Path, settings: Any = None) -> str:
    """The name of the preset that reads ``path``.

    Raises ``InputFileError`` naming the presets tried and the header seen
    when none fits.

    Example
    -------
    >>> detect_format("data/raw/youzan_orders_2025.csv")  # doctest: +SKIP
    'youzan_orders'
    """
    preset, _ = locate(Path(path), settings)
    return preset.name
