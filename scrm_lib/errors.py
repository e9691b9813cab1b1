"""Errors a user can cause; the CLI turns them into one line and an exit code."""

from __future__ import annotations


class ScrmError(Exception):
    """Base class for expected errors: bad input, bad configuration, missing data.

    Anything raised as a ``ScrmError`` is shown to the user as one line,
    without a traceback; anything else is a bug.
    """

    exit_code = 1


class InputFileError(ScrmError):
    """A raw file cannot be read: unknown format, missing column, bad encoding, empty."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(ScrmError):
    """A setting or parameter has a value scrm cannot use."""

    exit_code = 2


class WarehouseError(ScrmError):
    """The warehouse is missing, unreadable, or a query on it failed."""
