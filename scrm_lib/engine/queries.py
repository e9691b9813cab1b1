"""Named SQL: the queries ibis cannot say, kept in files under ``sql/``.

Each capability's SQL lives in ``sql/<area>.sql`` as named statements::

    -- name: detect
    -- Accounts whose orders go to more recipients than a customer has.
    WITH rows_per AS (...)
    SELECT ...

written once in DuckDB's dialect. A statement is a Jinja template: ``{{ x }}``
fills an identifier or a fragment the caller passes, ``{% macro %}`` blocks at
the top of a file are shared by its statements; values travel as engine
parameters (``$limit``), never as text. :func:`render` translates the result
for another engine with sqlglot (the way Splink keeps one SQL for many
backends), so the Spark engine reuses every statement instead of a copy.

Only the engine package runs these statements (:class:`~.runner.Runner`); the
rest of scrm names them (``"identity.detect_hubs"``).

Example
-------
>>> print(sql("engine.ping"))
SELECT 1 AS ok
>>> print(render("engine.ping", dialect="spark"))
SELECT 1 AS ok
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import jinja2

from scrm_lib.errors import ScrmError

SQL_DIR = Path(__file__).resolve().parent / "sql"

# aiosql reads files of this shape too, but runs them through its own driver
# adapters, which would bypass the runner (timing, errors naming the table);
# splitting on the marker is all that is needed here.
_NAME = re.compile(r"^--\s*name:\s*([\w.]+)\s*$", re.M)

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # SQL, not HTML; values never pass through templates
)


@functools.cache
def _file(area: str) -> tuple[str, dict[str, str]]:
    """(prelude, {name: template text}) of ``sql/<area>.sql``."""
    path = SQL_DIR / f"{area}.sql"
    if not path.exists():
        raise ScrmError(f"no SQL file for {area!r} (looked for {path})")
    text = path.read_text(encoding="utf-8")
    parts = _NAME.split(text)
    # the prelude holds the file's comments and shared macros; only the macros matter
    prelude = "\n".join(ln for ln in parts[0].splitlines() if not ln.lstrip().startswith("--"))
    named = dict(zip(parts[1::2], parts[2::2], strict=True))
    return prelude, {k: v.strip().rstrip(";").strip() for k, v in named.items()}


def names(area: str | None = None) -> list[str]:
    """Every ``area.name`` declared under ``sql/`` (or in one area).

    >>> "engine.ping" in names()
    True
    """
    areas = [area] if area else sorted(p.stem for p in SQL_DIR.glob("*.sql"))
    return [f"{a}.{n}" for a in areas for n in _file(a)[1]]


@functools.cache
def _template(name: str) -> jinja2.Template:
    area, _, query = name.partition(".")
    prelude, named = _file(area)
    if query not in named:
        raise ScrmError(f"no SQL statement {name!r} in {SQL_DIR / (area + '.sql')}")
    return _ENV.from_string(prelude + named[query])


def sql(name: str, **fragments: Any) -> str:
    """Statement ``name`` (``"area.query"``) in DuckDB's dialect, ``fragments`` filled in."""
    try:
        return _template(name).render(**fragments).strip()
    except jinja2.UndefinedError as exc:
        raise ScrmError(f"SQL {name}: {exc.message}") from None


def render(name: str, *, dialect: str = "duckdb", **fragments: Any) -> str:
    """The statement for an engine: ``duckdb`` as written, anything else through sqlglot."""
    text = sql(name, **fragments)
    if dialect == "duckdb":
        return text
    import sqlglot

    return ";\n".join(sqlglot.transpile(text, read="duckdb", write=dialect))


def dialect_of(con: Any) -> str:
    """sqlglot's dialect name for an ibis backend or a DuckDB connection."""
    name = str(getattr(con, "name", "duckdb"))
    return {"pyspark": "spark"}.get(name, "duckdb" if "duckdb" in type(con).__module__ else name)


__all__ = ["SQL_DIR", "dialect_of", "names", "render", "sql"]
