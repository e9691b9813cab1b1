"""Saved segments: a definition over the person marts, versioned, materialized, exported.

A segment is a list of filters over the columns the person marts declare as
filters in :data:`scrm_lib.schema.MARTS` (:func:`columns`): the value mart
``value_persons`` (RFM segment, layer, lifecycle stage, platform, channel,
P(alive), CLV, ...), the churn model's scores of the same build (churn
probability, risk band, early warning, value at risk, silent days), and any
mart a capability declares with ``key=("person_id",)`` and ``filters``, e.g.::

    [{"column": "rfm_segment", "op": "in", "value": ["champions", "important_keep"]},
     {"column": "risk_band", "op": "==", "value": "high"}]

A filter may also name a person tag (:mod:`scrm_lib.tags`): ``{"tag": "dormant",
"op": "has_tag"}`` keeps the persons carrying it, with ``"value"`` (one value or a
list) only those carrying it with that value; ``not_has_tag`` keeps the others.

Filters are ANDed and evaluated in the engine. Saving a segment records a
new version with its author, the build it was evaluated on and its
membership (person ids) in the state store, which survives rebuilds.
Exports (CSV, XLSX) carry each member's accounts and contact points, masked
unless an admin asks to unmask, formula-escaped, and audited.

Example
-------
>>> from scrm_lib.segments.definitions import preview, save_segment, export_segment
>>> f = [{"column": "rfm_segment", "op": "in", "value": ["champions"]}]
>>> preview(f)  # doctest: +SKIP
{'persons': 1282, 'gmv': 1571990.12, 'clv': 402113.5, 'avg_p_alive': 0.83}
>>> save_segment("vip", f, author="mark", role="marketer")  # doctest: +SKIP
>>> export_segment("vip", out="vip.xlsx", username="mark", role="marketer")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.access import privacy
from scrm_lib.access.privacy import can
from scrm_lib.access.state import connect as state_connect
from scrm_lib.access.state import record_audit
from scrm_lib.engine import Runner, Warehouse, using
from scrm_lib.errors import ConfigError, ScrmError
from scrm_lib.schema import MARTS, Mart, segment_marts
from scrm_lib.value.persons import MART, person_value_frame

logger = logging.getLogger(__name__)

Op = Literal["in", "not_in", "==", "!=", ">", ">=", "<", "<=", "between", "is_null", "not_null"]
OPS: tuple[str, ...] = (
    "in", "not_in", "==", "!=", ">", ">=", "<", "<=", "between", "is_null", "not_null",
)  # fmt: skip
#: Ops of a tag filter (``{"tag": ..., "op": "has_tag"}``): a semi or anti join on person_tags.
TAG_OPS: tuple[str, ...] = ("has_tag", "not_has_tag")
_NAME = re.compile(r"^[\w\-. ]{1,64}$")


def columns() -> dict[str, str]:
    """Every column a filter may name, with its meaning: the filters the person marts declare.

    The value mart's come first (it holds every person); a mart declared later
    (``scrm_lib.schema.declare_mart``) adds its filters without a change here.

    Examples
    --------
    >>> list(columns())[:3]
    ['person_id', 'platform', 'channel']
    >>> "risk_band" in columns()
    True
    """
    return {f["column"]: f["meaning"] for f in filter_columns()}


def filter_columns() -> list[dict[str, str]]:
    """The filter columns as rows: ``column``, ``meaning`` and the ``mart`` that offers it.

    Examples
    --------
    >>> [f for f in filter_columns() if f["column"] == "risk_band"]
    [{'column': 'risk_band', 'meaning': 'churn risk: high / medium / low', 'mart': 'churn_scores'}]
    """
    seen: set[str] = set()
    out = []
    for mart in _filter_marts():
        for c in mart.filters:
            if c not in seen:
                seen.add(c)
                out.append({"column": c, "meaning": mart.columns[c], "mart": mart.name})
    return out


def tag_filters(con: Any = None) -> list[dict[str, Any]]:
    """The tags a filter may name: every declared tag, then any other tag in ``con``'s warehouse.

    Rows of ``tag``, ``source``, ``rule`` and ``values`` (the known values, or ``None``).

    Examples
    --------
    >>> [t for t in tag_filters() if t["tag"] == "dormant"][0]["values"]
    ['dormant', 'lost']
    """
    from scrm_lib.tags.registry import declared_tags, warehouse_tags

    out = [
        {"tag": t.name, "source": t.source, "rule": t.rule,
         "values": None if t.values is None else list(t.values)}
        for t in declared_tags().values()
    ]  # fmt: skip
    known = {t["tag"] for t in out}
    if con is not None:
        out += [
            {"tag": name, "source": None, "rule": None, "values": None}
            for name in warehouse_tags(con)
            if name not in known
        ]
    return out


def _filter_marts() -> list[Mart]:
    """The person marts with filters, the value mart (the base table) first."""
    others = [m for m in segment_marts() if m.name != MART]
    return [MARTS[MART], *others]


class PermissionDenied(ScrmError):
    """The user's role may not do this (save, export, unmask)."""

    exit_code = 3


def check_export(role: str, *, unmask: bool = False) -> None:
    """Raise :class:`PermissionDenied` unless ``role`` may export (and unmask, if asked)."""
    if not can(role, "export"):
        raise PermissionDenied(f"role {role!r} may not export (marketer or admin may)")
    if unmask and not can(role, "unmask"):
        raise PermissionDenied(f"role {role!r} may not unmask personal data (admin only)")


# ---------------------------------------------------------------- definitions


def validate_filters(filters: Any, *, con: Any = None) -> list[dict[str, Any]]:
    """Check a definition; return it normalized. Unknown columns, tags and ops are named.

    ``con``: the warehouse the definition will run on; its tags count as known too.

    Examples
    --------
    >>> validate_filters([{"column": "clv", "op": ">", "value": 100}])
    [{'column': 'clv', 'op': '>', 'value': 100}]
    >>> validate_filters([{"tag": "dormant", "op": "has_tag", "value": "lost"}])
    [{'tag': 'dormant', 'op': 'has_tag', 'value': ['lost']}]
    """
    if isinstance(filters, str):
        try:
            filters = json.loads(filters)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"segment definition is not JSON: {exc}") from None
    if isinstance(filters, dict):
        filters = [filters]
    if not isinstance(filters, list):
        raise ConfigError("a segment definition is a list of filters")
    out = []
    for i, f in enumerate(filters):
        if isinstance(f, dict) and "tag" in f:
            out.append(_validate_tag_filter(i, f, con))
            continue
        if not isinstance(f, dict) or "column" not in f or "op" not in f:
            raise ConfigError(f"filter {i + 1}: needs 'column' and 'op' (and usually 'value')")
        col, op = f["column"], f["op"]
        known = columns()
        if col not in known:
            raise ConfigError(f"filter {i + 1}: unknown column {col!r}; known: {', '.join(known)}")
        if op not in OPS:
            raise ConfigError(f"filter {i + 1}: unknown op {op!r}; known: {', '.join(OPS)}")
        value = f.get("value")
        if op in ("in", "not_in") and not isinstance(value, list):
            raise ConfigError(f"filter {i + 1}: {op} needs a list of values")
        if op == "between" and not (isinstance(value, list) and len(value) == 2):
            raise ConfigError(f"filter {i + 1}: between needs [low, high]")
        if op not in ("is_null", "not_null") and value is None:
            raise ConfigError(f"filter {i + 1}: {op} needs a value")
        out.append({"column": col, "op": op, **({"value": value} if value is not None else {})})
    return out


def _validate_tag_filter(i: int, f: dict[str, Any], con: Any) -> dict[str, Any]:
    """A tag filter normalized: a known tag, a tag op, the values as a list (or none)."""
    name, op, value = f.get("tag"), f.get("op"), f.get("value")
    if op not in TAG_OPS:
        raise ConfigError(f"filter {i + 1}: unknown tag op {op!r}; known: {', '.join(TAG_OPS)}")
    known = [t["tag"] for t in tag_filters()]
    if name not in known and con is not None:
        known = [t["tag"] for t in tag_filters(con)]
    if name not in known:
        raise ConfigError(f"filter {i + 1}: unknown tag {name!r}; known: {', '.join(known)}")
    if isinstance(value, str):
        value = [value]
    if value is not None and not (
        isinstance(value, list) and value and all(isinstance(v, str) for v in value)
    ):
        raise ConfigError(f"filter {i + 1}: a tag's value is a text or a list of texts")
    return {"tag": name, "op": op, **({"value": value} if value is not None else {})}


def _tagged(con: Any, t: ir.Table, f: dict[str, Any]) -> ir.Table:
    """``t`` kept to the persons carrying (``has_tag``) or not carrying the tag of ``f``."""
    from scrm_lib.tags.registry import tags_table

    pt = tags_table(con)
    if pt is None:  # built before tags: nobody carries any
        return t.filter(ibis.literal(False)) if f["op"] == "has_tag" else t
    pt = pt.filter(pt.tag == f["tag"])
    if "value" in f:
        pt = pt.filter(pt.value.isin(f["value"]))
    pt = pt.select("person_id").distinct()
    return t.semi_join(pt, "person_id") if f["op"] == "has_tag" else t.anti_join(pt, "person_id")


def _predicate(t: ir.Table, f: dict[str, Any]) -> ir.BooleanValue:
    c, op, v = t[f["column"]], f["op"], f.get("value")
    if op == "in":
        return c.isin(v)
    if op == "not_in":
        return c.notin(v)
    if op == "between":
        return c.between(v[0], v[1])
    if op == "is_null":
        return c.isnull()
    if op == "not_null":
        return c.notnull()
    return {"==": c == v, "!=": c != v, ">": c > v, ">=": c >= v, "<": c < v, "<=": c <= v}[op]


def _persons_table(
    con: Any, columns: set[str] | None = None, tables: set[str] | None = None
) -> ir.Table:
    """The value mart with every other person mart's filter columns joined by ``person_id``
    (only those among ``columns``, when given: the joins add columns and never drop a
    person, and each one makes the expression costlier to build and compile).

    ``tables``: the connection's tables, when the caller has them already.
    """
    tables = set(con.list_tables()) if tables is None else set(tables)
    if MART in tables:
        t = con.table(MART)
    else:
        # a warehouse built before the value step: compute the mart now (slower, same rows)
        df, _ = person_value_frame(con)
        t = ibis.memtable(df)
    for mart in _filter_marts()[1:]:
        cols = [c for c in mart.filters
                if c not in t.columns and (columns is None or c in columns)]  # fmt: skip
        if not cols:
            continue
        types = {c: mart.schema[c].copy(nullable=True) for c in cols}
        if mart.name in tables:
            m = con.table(mart.name)
            m = m.select("person_id", *[m[c].cast(types[c]).name(c) for c in cols])
            t = t.left_join(m, "person_id").drop("person_id_right")
        else:
            # no such step on this build: the columns exist, empty, so a definition validates
            t = t.mutate(**{c: ibis.null(types[c]) for c in cols})
    return t


def filtered(con: Any, filters: Any) -> ir.Table:
    """The mart rows matching ``filters``, as an ibis expression."""
    t = _persons_table(con)
    for f in validate_filters(filters, con=con):
        t = _tagged(con, t, f) if "tag" in f else t.filter(_predicate(t, f))
    return t


def preview(warehouse: Warehouse = None, filters: Any = (), **_: Any) -> dict[str, Any]:
    """Size and value of a definition: persons, share of all, net GMV, CLV, mean P(alive).

    Examples
    --------
    >>> preview(None, [{"column": "stage", "op": "==", "value": "mature"}])  # doctest: +SKIP
    """
    filters = list(filters) if not isinstance(filters, str) else filters
    with using(warehouse) as con:
        t = filtered(con, filters)
        all_ = _persons_table(con)
        row = con.execute(
            t.aggregate(
                persons=t.count(),
                gmv=t.monetary.sum(),
                clv=t.clv.sum(),
                avg_p_alive=t.p_alive.mean(),
            )
        ).iloc[0]
        total = int(con.execute(all_.count()))
    persons = int(row["persons"])

    def num(x: Any) -> float | None:
        return None if x is None or pd.isna(x) else round(float(x), 4)

    return {
        "persons": persons,
        "share": round(persons / total, 4) if total else 0.0,
        "gmv": num(row["gmv"]) or 0.0,
        "clv": num(row["clv"]),
        "avg_p_alive": num(row["avg_p_alive"]),
    }


def members(
    warehouse: Warehouse = None, filters: Any = (), *, limit: int | None = None
) -> pd.DataFrame:
    """The persons matching a definition, with their mart columns (largest net spend first)."""
    with using(warehouse) as con:
        t = filtered(con, list(filters) if not isinstance(filters, str) else filters)
        t = t.order_by([ibis.desc("monetary"), "person_id"])
        return con.execute(t.limit(limit) if limit else t)


# ---------------------------------------------------------------- the state store


@contextlib.contextmanager
def _state(path: Path | None) -> Iterator[Runner]:
    """A runner on the state store, its segment tables made if missing; closed on exit."""
    con = state_connect(path)
    try:
        runner = Runner(con, label="segments")
        runner.query("segments.create_segments")
        runner.query("segments.create_segment_members")
        yield runner
    finally:
        con.close()


def _build_id(con: Any) -> str | None:
    if "builds" not in con.list_tables():
        return None
    b = con.table("builds")
    df = con.execute(b.order_by(ibis.desc("finished_at")).limit(1).select("build_id"))
    return None if df.empty else str(df["build_id"].iloc[0])


def save_segment(
    name: str,
    filters: Any,
    *,
    author: str,
    role: str = "marketer",
    description: str = "",
    warehouse: Warehouse = None,
    state_path: Path | None = None,
) -> dict[str, Any]:
    """Save a new version of segment ``name`` and materialize its membership.

    Parameters
    ----------
    filters
        The definition: a list of filters (or its JSON), see :func:`validate_filters`.
    warehouse
        The warehouse to evaluate it on: a path, ``None`` (the configured one) or
        an open connection.
    state_path
        The state store (default from the settings).

    Raises
    ------
    PermissionDenied
        ``role`` may not save segments (viewers).
    ConfigError
        A bad name or definition (an unknown column is named).

    Examples
    --------
    >>> vip = [{"column": "clv", "op": ">", "value": 500}]
    >>> save_segment("vip", vip, author="mark")  # doctest: +SKIP
    {'name': 'vip', 'version': 1, 'persons': 312, 'build_id': '...'}
    """
    if not can(role, "save_segment"):
        raise PermissionDenied(f"role {role!r} may not save segments (marketer or admin may)")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"segment name {name!r}: 1-64 letters, digits, spaces, '-', '_', '.'")
    with using(warehouse) as con:
        definition = validate_filters(filters, con=con)
        ids = con.execute(filtered(con, definition).select("person_id"))["person_id"]
        build_id = _build_id(con)
    with _state(state_path) as st, st.transaction(step="save"):
        version = st.scalar("segments.next_version", {"name": name})
        st.query("segments.add_version", {
            "name": name, "version": version, "author": author,
            "created_at": dt.datetime.now(dt.UTC), "description": description,
            "definition": json.dumps(definition, ensure_ascii=False), "build_id": build_id,
            "persons": len(ids),
        })  # fmt: skip
        st.query(
            "segments.add_members",
            {"name": name, "version": version, "person_ids": ids.astype(str).tolist()},
        )
    record_audit(author, "save_segment", f"segment:{name}@v{version}", rows=len(ids), role=role,
                 build_id=build_id, detail={"definition": definition}, path=state_path)  # fmt: skip
    return {"name": name, "version": int(version), "persons": len(ids), "build_id": build_id}


def list_segments(*, state_path: Path | None = None) -> pd.DataFrame:
    """The latest version of every saved segment.

    Examples
    --------
    >>> list_segments()[["name", "version", "persons"]]  # doctest: +SKIP
    """
    with _state(state_path) as st:
        return st.df("segments.latest")


def show_segment(
    name: str, *, version: int | None = None, state_path: Path | None = None
) -> dict[str, Any]:
    """One saved version (default: the latest) with its definition and all versions' history."""
    with _state(state_path) as st:
        hist = st.df("segments.history", {"name": name})
    if hist.empty:
        raise ConfigError(f"no saved segment {name!r}; see `scrm segment list`")
    row = hist.iloc[-1] if version is None else hist[hist["version"] == version]
    if isinstance(row, pd.DataFrame):
        if row.empty:
            raise ConfigError(f"segment {name!r} has no version {version}")
        row = row.iloc[0]
    out = {k: row[k] for k in ("name", "version", "author", "persons", "build_id", "description")}
    out["version"], out["persons"] = int(out["version"]), int(out["persons"])
    out["created_at"] = str(row["created_at"])
    out["definition"] = json.loads(row["definition"])
    out["versions"] = hist["version"].astype(int).tolist()
    return out


def segment_members(
    name: str, *, version: int | None = None, state_path: Path | None = None
) -> pd.Series:
    """The materialized person ids of a saved version."""
    info = show_segment(name, version=version, state_path=state_path)
    with _state(state_path) as st:
        df = st.df("segments.members", {"name": name, "version": info["version"]})
    return df["person_id"]


def export_frame(warehouse: Warehouse, person_ids: pd.Series | list[str]) -> pd.DataFrame:
    """Members with their accounts, names and phone numbers (unmasked: mask before showing)."""
    from scrm_lib.warehouse.steps import person_map

    ids = pd.DataFrame({"person_id": pd.Series(list(person_ids), dtype="string")})
    with using(warehouse) as con:
        sel = ibis.memtable(ids)
        pm = person_map(con)
        acc = con.table("accounts")
        j = sel.inner_join(pm, "person_id").inner_join(acc, "account_id")
        base = j.select("person_id", "account_id", "platform", display_name=j.display_name)
        if "identifiers" in con.list_tables():
            idf = con.table("identifiers")
            phones = (
                idf.filter(idf.kind == "phone")
                .group_by("account_id")
                .aggregate(phone=idf.value.min())
            )
            base = base.left_join(phones, "account_id").drop("account_id_right")
        t = _persons_table(con).select(
            "person_id", "rfm_segment", "stage", "layer", "monetary", "p_alive", "clv"
        )
        base = base.left_join(t, "person_id").drop("person_id_right")
        df = con.execute(base.order_by(["person_id", "account_id"]))
    return df


def export_segment(
    name: str,
    *,
    out: str | Path,
    username: str,
    role: str,
    version: int | None = None,
    unmask: bool = False,
    fmt: Literal["csv", "xlsx"] | None = None,
    warehouse: Warehouse = None,
    state_path: Path | None = None,
) -> dict[str, Any]:
    """Write a saved segment's members to CSV or XLSX: masked, formula-safe, audited.

    Parameters
    ----------
    out
        File to write; the format follows its suffix unless ``fmt`` is given.
    unmask
        Admins only: write names and phone numbers in clear (audited as such).

    Raises
    ------
    PermissionDenied
        The role may not export, or may not unmask.

    Examples
    --------
    >>> export_segment("vip", out="vip.csv", username="mark", role="marketer")  # doctest: +SKIP
    {'rows': 340, 'path': 'vip.csv', 'masked': True, ...}
    """
    check_export(role, unmask=unmask)
    path = Path(out)
    kind = fmt or path.suffix.lstrip(".").lower()
    if kind not in ("csv", "xlsx"):
        raise ConfigError(f"export format {kind!r}: use .csv or .xlsx")
    info = show_segment(name, version=version, state_path=state_path)
    ids = segment_members(name, version=info["version"], state_path=state_path)
    df = export_frame(warehouse, ids)
    privacy.write_export(df, path, fmt=kind, unmask=unmask)
    what = f"segment:{name}@v{info['version']}"
    audit_id = record_audit(
        username, "export", what, rows=len(df), role=role, build_id=info["build_id"],
        detail={"format": kind, "unmasked": bool(unmask), "path": str(path)}, path=state_path,
    )  # fmt: skip
    return {
        "segment": name,
        "version": info["version"],
        "rows": len(df),
        "persons": int(ids.nunique()),
        "path": str(path),
        "format": kind,
        "masked": not unmask,
        "audit_id": audit_id,
    }


def export_bytes(df: pd.DataFrame, *, fmt: Literal["csv", "xlsx"], unmask: bool = False) -> bytes:
    """A frame as masked (unless ``unmask``), formula-escaped CSV or XLSX bytes (for downloads).

    Kept for callers of the segment API; it is :func:`scrm_lib.access.privacy.export_bytes`.
    """
    return privacy.export_bytes(df, fmt=fmt, unmask=unmask)
