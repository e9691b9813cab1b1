"""The engine boundary: only ``scrm_lib/engine`` connects to an engine or holds SQL.

Everything else builds ibis expressions or names a statement kept in
``scrm_lib/engine/sql/*.sql``; this test reads the code (ast, not grep, so
docstrings and comments do not count) and fails on a SQL string literal, a
``duckdb.connect``/``ibis.<engine>.connect`` call or a ``raw_sql`` call
anywhere else.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from scrm_lib.engine import queries

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [ROOT / "scrm_lib", ROOT / "dashboard"]
ENGINE = ROOT / "scrm_lib" / "engine"

#: path (relative to the repository) → why it may hold SQL or connect.
ALLOWED: dict[str, str] = {}

SQL = re.compile(
    r"(^|\s|\()(SELECT\s|WITH\s+\w+\s+AS\s*\(|INSERT\s+INTO|CREATE\s+(OR\s+REPLACE\s+)?"
    r"(TEMP\s+|TEMPORARY\s+)?(TABLE|VIEW|SEQUENCE|INDEX)|DROP\s+(TABLE|VIEW)|DELETE\s+FROM|"
    r"UPDATE\s+\w+\s+SET|ALTER\s+TABLE|ATTACH\s|PRAGMA\s|^BEGIN$|^COMMIT$|^ROLLBACK$|SET\s+TimeZone)",
)
CONNECT_OWNERS = {"duckdb", "duckdb.duckdb", "ibis.duckdb", "ibis.pyspark", "ibis.polars"}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    inside_fstring = {
        id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or id(node) in inside_fstring:
            continue
        text = _text(node)
        if text is not None and SQL.search(text.strip()):
            found.append(f"line {node.lineno}: SQL {text.strip()[:40]!r}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value)
            if node.func.attr == "connect" and owner in CONNECT_OWNERS:
                found.append(f"line {node.lineno}: opens a connection ({owner}.connect)")
            if node.func.attr == "raw_sql":
                found.append(f"line {node.lineno}: raw_sql")
    return found


def _modules() -> list[Path]:
    return sorted(p for d in SCANNED for p in d.rglob("*.py") if ENGINE not in p.parents)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sql_or_connection_outside_the_engine(path):
    rel = str(path.relative_to(ROOT))
    found = _offences(path)
    if rel in ALLOWED:
        assert found, f"{rel} is allow-listed ({ALLOWED[rel]}) but needs it no more"
        return
    assert not found, f"{rel}: " + "; ".join(found)


def test_the_check_sees_sql_and_connections(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        '"""A docstring may say SELECT x FROM t."""\nimport duckdb\n'
        'q = f"SELECT a FROM {t} WHERE b"\ncon = duckdb.connect()\ncon.raw_sql("x")\n'
    )
    found = _offences(bad)
    assert [f.split(":")[0] for f in found] == ["line 3", "line 4", "line 5"]


def test_every_named_statement_reads_in_duckdb_and_translates_to_spark():
    import sqlglot

    for name in queries.names():
        template = queries._template(name)
        blanks = dict.fromkeys(_undeclared(template.environment, name), "x")
        # a parameter the statement loops over as a mapping (key -> (parts, bound, rule
        # number)) gets one
        source = _source(name)
        blanks |= {v: {"x": (["x"], 2, 1)} for v in blanks if f"{v}.items()" in source}
        text = queries.sql(name, **blanks)
        sqlglot.parse(text, read="duckdb")
        assert queries.render(name, dialect="spark", **blanks), name


def _source(name):
    area, _, query = name.partition(".")
    prelude, named = queries._file(area)
    return prelude + named[query]


def _undeclared(env, name):
    from jinja2 import meta

    return meta.find_undeclared_variables(env.parse(_source(name)))
