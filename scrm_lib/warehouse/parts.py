"""Marts written in parts: each writer replaces its own table, readers see their union.

``person_tags`` is written by several steps (each capability's tags). Changing
one table in place (delete a source's rows, insert the new ones) is what a
DuckDB file does and a Spark step cannot: its tables are files written once.
So a mart declared with ``parts=True`` is kept as one table per writer,
``<mart>__<part>`` (``person_tags__channels``), which its step writes whole
on either engine (:func:`scrm_lib.engine.materialize`). While the steps run,
:func:`parts_table` reads the union of the parts written so far; when they
are done, :func:`assemble` makes the mart itself a view over that union in
the build's DuckDB file, so every reader (CLI, dashboard, notebooks, SQL)
reads ``person_tags`` as before, and a Spark build publishes it as Parquet.

Example
-------
>>> part_name("person_tags", "channels")
'person_tags__channels'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrm_lib.schema import MARTS

if TYPE_CHECKING:
    import ibis.expr.types as ir

#: Between a mart's name and its part's in the part's table name.
SEP = "__"


def part_name(mart: str, part: str) -> str:
    """The table one writer of ``mart`` replaces whole."""
    return f"{mart}{SEP}{part}"


def parts_table(con: Any, mart: str) -> ir.Table | None:
    """``mart`` on ``con``: the mart itself once assembled (or published), else the union of
    its parts written so far; None when there is neither."""
    tables = con.list_tables()
    if mart in tables:
        return con.table(mart)
    names = sorted(n for n in tables if n.startswith(mart + SEP))
    if not names:
        return None
    schema = MARTS[mart].schema
    # a part Spark wrote comes back from its Parquet: the same columns, types as Parquet has them
    parts = [con.table(n).select(*schema.names).cast(schema) for n in names]
    return parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]


def assemble(con: Any) -> list[str]:
    """Make every mart declared in parts a view over its parts in the build's DuckDB file
    (an empty typed table when no step wrote a part); return their names."""
    from scrm_lib.engine import Runner

    done = []
    for mart in MARTS.values():
        if not mart.parts or mart.store != "warehouse" or mart.name in con.list_tables():
            continue
        runner = Runner(con, label="build steps")
        union = parts_table(con, mart.name)
        if union is None:
            runner.create_table(mart.name, None, schema=mart.schema, step="assemble")
        else:
            with runner.step("assemble", table=mart.name):
                con.create_view(mart.name, union, overwrite=True)
        done.append(mart.name)
    return done
