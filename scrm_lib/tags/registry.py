"""One registry for person tags: declared once, written to one mart, read by every surface.

A capability declares its tags at import (:func:`declare_tag`, the way
:func:`scrm_lib.schema.declare_mart` declares a mart): the tag's machine name,
the capability that owns it, the rule that earns it in one line and the rule's
version. Its build step then writes the persons who carry them with
:func:`write_tags`, which fills in the rule, its version and the build from the
declaration and replaces everything that capability wrote before, so a rerun
of a step leaves one copy. All tags live in ``person_tags`` (person, tag,
value, source, rule, rule version, since, build), a mart kept in parts: each
source writes its own table whole, on DuckDB or Spark alike, and readers see
their union (:mod:`scrm_lib.warehouse.parts`; :func:`tags_table` while a
build runs). Segments filter on them
(``{"tag": "dormant", "op": "has_tag"}``), and ``scrm tags``, the Segments page
and Customer 360 show them.

Example
-------
>>> from scrm_lib.tags.registry import Tag, declare_tag, write_tags
>>> VIP = Tag("vip", source="value", rule="net spend over 5,000 CNY", version="1")
>>> declare_tag(VIP)  # doctest: +SKIP
>>> write_tags(con, "value", rows, build_id=ctx.build_id)  # doctest: +SKIP
1282
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrm_lib.errors import ConfigError
from scrm_lib.schema import MARTS

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from scrm_lib.engine import Warehouse

logger = logging.getLogger(__name__)

#: The mart every tag is written to.
TABLE = "person_tags"

#: What a producer or a writer hands over: one row per person, tag and value.
ROW_COLUMNS = ("person_id", "tag", "value", "since")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Tag:
    """A declared tag.

    Parameters
    ----------
    name
        Machine name, snake_case English (``channel_type``); labels give it words.
    source
        The capability that owns and writes it (``channels``, ``value``).
    rule
        One line: what earns the tag.
    version
        The rule's version: bump it when the rule changes, so old rows can be told apart.
    values
        The values it takes, when known; ``None``: free text, or the tag alone.
    description
        What a marketer does with it, optionally.

    Examples
    --------
    >>> Tag("dormant_doc", source="value", rule="no purchase for 90 days", version="1").values
    """

    name: str
    source: str
    rule: str
    version: str
    values: tuple[str, ...] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"tag {self.name!r}: a machine name is snake_case English")
        if not self.source or not self.rule.strip() or "\n" in self.rule:
            raise ValueError(f"tag {self.name}: needs a source and a one-line rule")


#: Every declared tag, by name (in declaration order).
TAGS: dict[str, Tag] = {}

#: Derived tags' producers by source: ``fn(con) -> ibis table`` of :data:`ROW_COLUMNS`
#: (or ``None`` when what it reads is not in this build).
PRODUCERS: dict[str, list[Callable[[Any], ir.Table | None]]] = {}


def declare_tag(tag: Tag) -> Tag:
    """Register ``tag`` (a capability declares its tags at import); return it.

    Declaring the same tag again from its own source replaces the declaration
    (a module reloaded); another source may not take a name that is taken.

    Examples
    --------
    >>> t = declare_tag(Tag("doc_tag", source="doc", rule="an example", version="1"))
    >>> declare_tag(Tag("doc_tag", source="other", rule="x", version="1"))
    Traceback (most recent call last):
    ...
    ValueError: tag doc_tag is already declared by doc
    >>> _ = TAGS.pop("doc_tag")
    """
    known = TAGS.get(tag.name)
    if known is not None and known.source != tag.source:
        raise ValueError(f"tag {tag.name} is already declared by {known.source}")
    TAGS[tag.name] = tag
    return tag


def register_producer(source: str, fn: Callable[[Any], ir.Table | None]) -> None:
    """Add a derived-tag producer for ``source``: run by the ``tags_derived`` build step.

    ``fn(con)`` returns an ibis table of ``person_id, tag, value, since`` over marts
    already written, or ``None`` when they are not in this build. The step unions a
    source's producers and writes them in one :func:`write_tags`, since a write
    replaces everything the source wrote.

    Examples
    --------
    >>> register_producer("value", lifecycle_rows)  # doctest: +SKIP
    """
    fns = PRODUCERS.setdefault(source, [])
    if fn not in fns:
        fns.append(fn)


def declared_tags() -> dict[str, Tag]:
    """Every tag the build's capabilities declare, by name.

    Each capability declares its tags in a module its build step imports; importing
    the step list imports them all.

    Examples
    --------
    >>> "lifecycle_stage" in declared_tags()
    True
    """
    import scrm_lib.warehouse.step_list  # noqa: F401  (its steps declare their tags)

    return dict(TAGS)


# ---------------------------------------------------------------- writing


def tags_table(con: Any) -> ir.Table | None:
    """``person_tags`` on ``con``: published, or the parts the build's steps wrote so far;
    None in a warehouse built before tags (nobody carries any)."""
    from scrm_lib.warehouse.parts import parts_table

    return parts_table(con, TABLE)


def write_tags(con: Any, source: str, rows: ir.Table | pd.DataFrame, *, build_id: str) -> int:
    """Replace the tags ``source`` wrote in ``person_tags`` with ``rows``; return rows written.

    The rows become ``source``'s part of the mart (``person_tags__<source>``), written
    whole: the same on DuckDB and on a Spark build's Spark session.

    Parameters
    ----------
    con
        The warehouse being built (an ibis backend, read-write).
    source
        The writing capability: every tag in ``rows`` must be declared by it.
    rows
        An ibis table on ``con`` (inserted inside the engine) or a pandas frame, with
        ``person_id``, ``tag``, ``value`` (text or null) and ``since`` (a UTC time).
        A person carrying the same tag and value twice is written once, since the
        earliest time.
    build_id
        The build writing them.

    Raises
    ------
    ConfigError
        A column is missing, a tag is not declared, is declared by another source,
        or has a value its declaration does not list.

    Examples
    --------
    >>> write_tags(ctx.con, "value", rows, build_id=ctx.build_id)  # doctest: +SKIP
    1282
    """
    import ibis
    import ibis.expr.types as ir

    from scrm_lib.engine import Runner, materialize
    from scrm_lib.warehouse.parts import part_name

    mart = MARTS[TABLE]
    if not isinstance(rows, ir.Table):
        rows = ibis.memtable(rows)
    if missing := [c for c in ROW_COLUMNS if c not in rows.columns]:
        raise ConfigError(f"tags from {source}: rows lack the columns {', '.join(missing)}")
    rows = rows.filter(rows.person_id.notnull()).select(
        person_id=rows.person_id.cast("string"),
        tag=rows.tag.cast("string"),
        value=rows.value.cast("string"),
        since=rows.since.cast(mart.schema["since"]),
    )
    runner = Runner(con, label=f"tags {source}")
    pairs = runner.execute(rows.select("tag", "value").distinct(), step="check", table=TABLE)
    _check(source, pairs)
    mine = {name: t for name, t in TAGS.items() if t.source == source}
    rules = ibis.memtable(
        {
            "tag": list(mine) or [""],
            "rule": [t.rule for t in mine.values()] or [""],
            "rule_version": [t.version for t in mine.values()] or [""],
        }
    )
    keyed = rows.group_by("person_id", "tag", "value").aggregate(since=rows.since.min())
    out = keyed.inner_join(rules, "tag")
    out = out.select(
        *[
            ibis.literal(source).name(c)
            if c == "source"
            else ibis.literal(build_id).name(c)
            if c == "build_id"
            else out[c].cast(t).name(c)
            for c, t in mart.schema.items()
        ]
    )
    part = part_name(TABLE, source)
    with runner.step("write", table=part):
        written = materialize(con, part, out)
    return int(runner.execute(written.count(), step="count", table=part))


def _check(source: str, pairs: pd.DataFrame) -> None:
    """Refuse a tag that is undeclared, declared by another source, or has an unknown value."""
    for name in sorted(pairs["tag"].dropna().unique()):
        tag = TAGS.get(name)
        if tag is None:
            raise ConfigError(
                f"tags from {source}: tag {name!r} is not declared (declare_tag in {source})"
            )
        if tag.source != source:
            raise ConfigError(f"tags from {source}: tag {name!r} is declared by {tag.source}")
        if tag.values is not None:
            values = pairs.loc[pairs["tag"] == name, "value"].dropna()
            if bad := sorted(set(values) - set(tag.values)):
                raise ConfigError(
                    f"tags from {source}: tag {name!r} has no value {bad[0]!r}; "
                    f"values: {', '.join(tag.values)}"
                )
    if pairs["tag"].isna().any():
        raise ConfigError(f"tags from {source}: a row has no tag")


# ---------------------------------------------------------------- reading


def person_tags(
    warehouse: Warehouse = None, *, person_id: str | None = None, tag: str | None = None
) -> pd.DataFrame:
    """Rows of ``person_tags``: one person's tags, one tag's persons, or all.

    A warehouse built before tags existed has none: the frame is empty, typed.

    Examples
    --------
    >>> person_tags(person_id="P0001")[["tag", "value", "source", "since"]]  # doctest: +SKIP
    """
    import ibis

    from scrm_lib.engine import using

    mart = MARTS[TABLE]
    with using(warehouse) as con:
        t = tags_table(con)
        if t is None:
            return mart.typed(_empty())
        if person_id is not None:
            t = t.filter(t.person_id == str(person_id))
        if tag is not None:
            t = t.filter(t.tag == tag)
        df = con.execute(t.order_by(["person_id", "tag", ibis.asc("value", nulls_first=True)]))
    return mart.typed(df)


def tag_summary(warehouse: Warehouse = None) -> pd.DataFrame:
    """Persons per tag and value, with each tag's source, rule and rule version.

    ``person_share`` is of every person in the warehouse. Declared tags that no
    person carries are listed too, with 0 persons, so the list shows what exists.

    Examples
    --------
    >>> tag_summary()[["tag", "value", "persons", "person_share"]]  # doctest: +SKIP
    """
    import pandas as pd

    from scrm_lib.engine import using

    columns = ["tag", "value", "source", "rule", "rule_version", "persons", "person_share"]
    with using(warehouse) as con:
        tables = set(con.list_tables())
        t = tags_table(con)
        if t is not None:
            counts = con.execute(
                t.group_by("tag", "value", "source", "rule", "rule_version").aggregate(
                    persons=t.person_id.nunique()
                )
            )
        else:
            counts = pd.DataFrame(columns=columns[:-1])
        total = _total_persons(con, tables)
    declared = pd.DataFrame(
        [
            {"tag": t.name, "source": t.source, "rule": t.rule, "rule_version": t.version}
            for t in declared_tags().values()
            if t.name not in set(counts["tag"])
        ],
        columns=["tag", "source", "rule", "rule_version"],
    )
    out = pd.concat([counts, declared.assign(value=None, persons=0)], ignore_index=True)
    out["persons"] = out["persons"].astype("int64")
    out["person_share"] = (out["persons"] / total).round(4) if total else 0.0
    order = {name: i for i, name in enumerate(declared_tags())}
    out["_order"] = out["tag"].map(order).fillna(len(order))
    out = out.sort_values(
        ["_order", "tag", "persons", "value"], ascending=[True, True, False, True]
    )
    return out[columns].astype({"value": "string"}).reset_index(drop=True)


def warehouse_tags(con: Any) -> list[str]:
    """The tag names present in ``con``'s ``person_tags`` (none when it has no such table)."""
    t = tags_table(con)
    if t is None:
        return []
    return sorted(con.execute(t.select("tag").distinct())["tag"].dropna().tolist())


def _total_persons(con: Any, tables: set[str]) -> int:
    for name in ("persons", "value_persons", TABLE):
        if name in tables:
            t = con.table(name)
            return int(con.execute(t.person_id.nunique()))
    return 0


def _empty() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=list(MARTS[TABLE].schema.names))
