"""Pieces every ``scrm`` sub-command module shares (imports nothing of scrm's CLI modules)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="Warehouse file (default from config).")
]


def sub_app(help: str) -> typer.Typer:
    """A Typer app for one area: help on no arguments, no completion, no pretty tracebacks
    (expected errors are one line, printed by ``scrm_lib.cli.main``)."""
    return typer.Typer(
        help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )
