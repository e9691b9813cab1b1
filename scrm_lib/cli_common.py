"""Pieces every ``scrm`` sub-command module shares (imports nothing of scrm's CLI modules).

Options (``--json``, ``--warehouse``), the Typer app of one area, and the
output helpers: one console for results, one for messages on stderr, JSON
and tables from frames. Kept light: pandas is imported by the commands that
make frames, not here.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="Warehouse file (default from config).")
]

#: Piped or captured output (cron mail, CI logs, a test worker) has no terminal to
#: measure; rich would assume 80 columns and wrap a table's cells onto several lines.
PIPE_WIDTH = 200

#: Results (tables, JSON) on stdout; progress and errors on stderr.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else PIPE_WIDTH)
err = Console(stderr=True, soft_wrap=True)


def sub_app(help: str) -> typer.Typer:
    """A Typer app for one area: help on no arguments, no completion, no pretty tracebacks
    (expected errors are one line, printed by ``scrm_lib.cli.main``)."""
    return typer.Typer(
        help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON (non-ASCII kept, dates and other objects as text)."""
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as dicts for JSON, NaN as null.

    Examples
    --------
    >>> import pandas as pd
    >>> records(pd.DataFrame({"x": [1.0, float("nan")]}))
    [{'x': 1.0}, {'x': None}]
    """
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def show(df: pd.DataFrame, title: str, fmt: dict[str, str] | None = None) -> None:
    """Print a frame as a table; ``fmt`` maps a column to a format spec (``",.0f"``)."""
    table = Table(*map(str, df.columns), title=title)
    for row in df.itertuples(index=False):
        cells = []
        for col, v in zip(df.columns, row, strict=True):
            v = _clean(v)
            spec = (fmt or {}).get(col)
            cells.append("" if v is None else format(v, spec) if spec else str(v))
        table.add_row(*cells)
    out.print(table)
