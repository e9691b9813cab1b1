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
    return ";\n".join(translate(text, dialect))


def translate(text: str, dialect: str) -> list[str]:
    """DuckDB statements in another engine's dialect: sqlglot's translation, and for Spark
    the few DuckDB functions it passes through unchanged (:func:`_for_spark`).

    >>> translate("SELECT regexp_full_match(v, '[a-z]+'), list_value(1, 2)[-1]", "spark")
    ["SELECT v RLIKE '^(?:[a-z]+)$', ELEMENT_AT(ARRAY(1, 2), -1)"]
    """
    import sqlglot

    trees = sqlglot.parse(text, read="duckdb")
    if dialect == "spark":
        trees = [_for_spark(t) for t in trees if t is not None]
    return [t.sql(dialect=dialect) for t in trees if t is not None]


def _for_spark(tree: Any) -> Any:
    """A DuckDB statement's tree with what sqlglot would pass to Spark unchanged rewritten:

    - ``regexp_full_match(x, 'p')``: ``x RLIKE '^(?:p)$'`` (RLIKE finds, like
      ``regexp_matches``);
    - ``\\p{Han}`` in a pattern: Java's name of the script, ``\\p{IsHan}``;
    - ``list[-1]`` (from the end): ``element_at(list, -1)`` (a Spark index counts from 0
      and never from the end);
    - ``WITH x AS MATERIALIZED``: a plain CTE (Spark decides what to keep);
    - ``string_agg(DISTINCT x, sep ORDER BY x)``: :func:`_distinct_sorted_list`;
    - ``list_has_any(a, b)``: ``arrays_overlap(a, b)`` (sqlglot writes DuckDB's ``&&``);
    - ``jaro_winkler_similarity(a, b)``: ``jaro_winkler(a, b)``, the UDF of Splink's jar.
    """
    from sqlglot import exp

    def fix(node: Any) -> Any:
        if isinstance(node, exp.RegexpFullMatch):
            value, pattern = node.this, node.expression
            if isinstance(pattern, exp.Literal):
                pattern = exp.Literal.string(f"^(?:{pattern.this})$")
            else:
                pattern = exp.Concat(
                    expressions=[exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$")]
                )
            return exp.RegexpLike(this=value, expression=pattern)
        if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
            index = node.expressions[0]
            # sqlglot keeps a DuckDB index counted from 0 (list[-1] is read as -2)
            if isinstance(index, exp.Neg) and isinstance(index.this, exp.Literal):
                last = exp.Literal.number(1 - int(index.this.this))
                return exp.Anonymous(this="element_at", expressions=[node.this, last])
        if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
            node.set("materialized", None)
        if isinstance(node, exp.GroupConcat):
            return _distinct_sorted_list(node) or node
        if isinstance(node, exp.ArrayOverlaps):
            return exp.Anonymous(this="arrays_overlap", expressions=[node.this, node.expression])
        if isinstance(node, exp.JarowinklerSimilarity):
            # Spark has none: the one Splink's jar registers (splink.similarity_jar)
            return exp.Anonymous(this="jaro_winkler", expressions=[node.this, node.expression])
        return node

    def han(node: Any) -> Any:
        if isinstance(node, exp.Literal) and node.is_string and "\\p{Han}" in node.this:
            return exp.Literal.string(node.this.replace("\\p{Han}", "\\p{IsHan}"))
        return node

    return tree.transform(han).transform(fix)


def _distinct_sorted_list(node: Any) -> Any:
    """``string_agg(DISTINCT x, sep ORDER BY x)`` as ``array_join(array_sort(collect_set(x)),
    sep)``, or None for another ``string_agg``: Spark 4.0 fails to plan a ``LISTAGG(DISTINCT
    ...)`` beside another DISTINCT aggregate of the same SELECT (a ClassCastException)."""
    from sqlglot import exp

    order = node.this
    if not isinstance(order, exp.Order) or not isinstance(order.this, exp.Distinct):
        return None
    values = order.this.expressions
    keys = order.expressions
    if len(values) != 1 or len(keys) != 1 or keys[0].args.get("desc"):
        return None
    if keys[0].this != values[0]:
        return None
    separator = node.args.get("separator") or exp.Literal.string(",")
    collected = exp.Anonymous(this="collect_set", expressions=[values[0].copy()])
    ordered = exp.Anonymous(this="array_sort", expressions=[collected])
    return exp.Anonymous(this="array_join", expressions=[ordered, separator.copy()])


def condition(text: str, dialect: str) -> str:
    """A DuckDB boolean expression (a Splink comparison level's ``sql_condition``) in
    ``dialect``; Splink's ``ELSE`` level stays as it is.

    >>> condition('jaro_winkler_similarity("city_l", "city_r") >= 0.9', "spark")
    'JARO_WINKLER(`city_l`, `city_r`) >= 0.9'
    """
    import sqlglot

    if dialect == "duckdb" or text.strip().upper() == "ELSE":
        return text
    tree = sqlglot.parse_one(text, read="duckdb")
    if dialect == "spark":
        tree = _for_spark(tree)
    return tree.sql(dialect=dialect)


def spark_statement(name: str, **fragments: Any) -> tuple[str, str | None, str]:
    """Statement ``name`` for a Spark session that keeps a build's tables as temporary views.

    DuckDB's ``CREATE [OR REPLACE] [TEMP] TABLE t AS q`` becomes ``("create", "t",
    q in Spark SQL)``: the caller keeps the result of ``q`` as the view ``t`` (Spark SQL
    cannot replace a view with a query that reads it, as these statements do). ``DROP
    TABLE [IF EXISTS] t`` becomes ``("drop", "t", "")``; any other statement ``("run",
    None, its Spark SQL)``.

    >>> spark_statement("identity.keep_frame", target="t", frame="f")
    ('create', 't', 'SELECT * FROM f')
    """
    import sqlglot
    from sqlglot import exp

    text = sql(name, **fragments)
    tree = sqlglot.parse_one(text, read="duckdb")
    if isinstance(tree, exp.Create) and tree.kind == "TABLE" and tree.expression is not None:
        query = tree.expression
        # a CTE list written before the statement belongs to its query
        if tree.args.get("with") is not None:
            query.set("with", tree.args["with"])
        return "create", tree.this.name, _for_spark(query).sql(dialect="spark")
    if isinstance(tree, exp.Drop) and tree.kind in ("TABLE", "VIEW"):
        return "drop", tree.this.name, ""
    return "run", None, ";\n".join(translate(text, "spark"))


def dialect_of(con: Any) -> str:
    """sqlglot's dialect name for an ibis backend or a DuckDB connection."""
    name = str(getattr(con, "name", "duckdb"))
    return {"pyspark": "spark"}.get(name, "duckdb" if "duckdb" in type(con).__module__ else name)


__all__ = [
    "SQL_DIR",
    "condition",
    "dialect_of",
    "names",
    "render",
    "spark_statement",
    "sql",
    "translate",
]
