"""write_tags: filled from the declaration, idempotent per source, refuses what is not declared."""

from __future__ import annotations

import pandas as pd
import pytest

from scrm_lib.errors import ConfigError
from scrm_lib.schema import MARTS
from scrm_lib.tags.registry import (
    Tag,
    declare_tag,
    person_tags,
    tag_summary,
    tags_table,
    write_tags,
)
from scrm_lib.warehouse.parts import assemble
from tests.tags.conftest import since


def rows(*items: tuple[str, str, str | None, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"person_id": p, "tag": t, "value": v, "since": since(d)}
            for p, t, v, d in items
        ]
    )  # fmt: skip


def table(con) -> pd.DataFrame:
    df = con.execute(tags_table(con))
    return df.sort_values(["person_id", "tag", "value"]).reset_index(drop=True)


def test_the_table_is_the_declared_mart(con):
    assert tags_table(con) is None
    write_tags(con, "toy", rows(("P1", "toy_vip", None, "2026-01-01")), build_id="B1")
    assert tags_table(con).columns == tuple(MARTS["person_tags"].schema.names)
    assert assemble(con) == ["person_tags"]
    assert con.table("person_tags").columns == tuple(MARTS["person_tags"].schema.names)
    assert MARTS["person_tags"].owner == "tags"
    assert MARTS["person_tags"].key == ("person_id", "tag", "value")


def test_write_fills_rule_version_and_build_and_collapses_duplicates(con):
    n = write_tags(con, "toy", rows(
        ("P1", "toy_vip", None, "2026-01-05"),
        ("P1", "toy_vip", None, "2026-01-02"),  # the same tag twice: one row, the earlier
        ("P2", "toy_channel", "活码", "2026-02-01"),
        ("P2", "toy_channel", "poster", "2026-02-03"),  # two values: two rows
    ), build_id="B1")  # fmt: skip
    assert n == 3
    df = table(con).fillna({"value": "-"})
    assert df[["person_id", "tag", "value"]].values.tolist() == [
        ["P1", "toy_vip", "-"], ["P2", "toy_channel", "poster"], ["P2", "toy_channel", "活码"],
    ]  # fmt: skip
    vip = df[df["tag"] == "toy_vip"].iloc[0]
    assert (vip["source"], vip["rule"], vip["rule_version"], vip["build_id"]) == (
        "toy", "spent over 500", "2", "B1",
    )  # fmt: skip
    assert vip["since"] == since("2026-01-02")
    assert set(df.loc[df["tag"] == "toy_channel", "rule"]) == {"the first channel's type"}


def test_a_rewrite_replaces_only_its_own_source(con, tags):
    declare_tag(Tag("other_flag", source="other", rule="anything", version="1"))
    write_tags(con, "other", rows(("P5", "other_flag", None, "2026-01-01")), build_id="B1")
    first = rows(("P1", "toy_vip", None, "2026-01-01"), ("P2", "toy_vip", None, "2026-01-01"))
    write_tags(con, "toy", first, build_id="B1")
    # a rerun with the same rows: the same rows, once
    assert write_tags(con, "toy", first, build_id="B2") == 2
    assert len(table(con)) == 3
    # the next build's rows replace the source's old ones; other sources keep theirs
    assert write_tags(con, "toy", rows(("P3", "toy_vip", None, "2026-02-01")), build_id="B3") == 1
    df = table(con)
    assert sorted(zip(df["person_id"], df["tag"], df["build_id"], strict=True)) == [
        ("P3", "toy_vip", "B3"), ("P5", "other_flag", "B1"),
    ]  # fmt: skip


def test_rows_as_an_ibis_expression_are_inserted_in_the_engine(con):
    import ibis

    v = con.table("value_persons")
    expr = v.filter(v.monetary > 500).select(
        "person_id", tag=ibis.literal("toy_vip"), value=ibis.null("string"),
        since=ibis.literal(since("2026-03-01")),
    )  # fmt: skip
    assert write_tags(con, "toy", expr, build_id="B1") == 1  # only P2 spent over 500
    assert table(con)[["person_id", "since"]].values.tolist() == [["P2", since("2026-03-01")]]


@pytest.mark.parametrize(
    ("source", "items", "message"),
    [
        ("toy", [("P1", "toy_unknown", None, "2026-01-01")],
         "tags from toy: tag 'toy_unknown' is not declared"),
        ("value", [("P1", "toy_vip", None, "2026-01-01")],
         "tags from value: tag 'toy_vip' is declared by toy"),
        ("toy", [("P1", "toy_channel", "billboard", "2026-01-01")],
         "tags from toy: tag 'toy_channel' has no value 'billboard'"),
    ],
)  # fmt: skip
def test_what_is_not_declared_is_refused_in_one_line(con, source, items, message):
    write_tags(con, "toy", rows(("P9", "toy_vip", None, "2026-01-01")), build_id="B0")
    with pytest.raises(ConfigError) as exc:
        write_tags(con, source, rows(*items), build_id="B1")
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)
    # nothing was written or removed
    assert table(con)["person_id"].tolist() == ["P9"]


def test_missing_columns_are_named(con):
    with pytest.raises(ConfigError, match="lack the columns since"):
        write_tags(con, "toy", rows(("P1", "toy_vip", None, "2026-01-01")).drop(columns="since"),
                   build_id="B1")  # fmt: skip


def test_a_name_is_declared_by_one_source(tags):
    with pytest.raises(ValueError, match="already declared by toy"):
        declare_tag(Tag("toy_vip", source="value", rule="x", version="1"))
    with pytest.raises(ValueError, match="snake_case"):
        Tag("高意向", source="social", rule="x", version="1")


def test_person_tags_and_the_summary(con):
    write_tags(con, "toy", rows(
        ("P1", "toy_channel", "活码", "2026-01-01"),
        ("P2", "toy_channel", "活码", "2026-01-01"),
        ("P3", "toy_channel", "live", "2026-01-01"),
        ("P2", "toy_vip", None, "2026-01-04"),
    ), build_id="B1")  # fmt: skip
    mine = person_tags(con, person_id="P2")
    assert mine["tag"].tolist() == ["toy_channel", "toy_vip"]
    assert str(mine["since"].dtype) == "datetime64[us, UTC]"
    assert person_tags(con, tag="toy_channel")["person_id"].tolist() == ["P1", "P2", "P3"]
    s = tag_summary(con).set_index(["tag", "value"], drop=False)
    # five persons in value_persons: shares are of them
    assert s.loc[("toy_channel", "活码"), ["persons", "person_share"]].tolist() == [2, 0.4]
    assert s.loc[("toy_channel", "live"), ["persons", "person_share"]].tolist() == [1, 0.2]
    vip = s[s["tag"] == "toy_vip"].iloc[0]
    assert (vip["persons"], vip["person_share"], vip["rule_version"]) == (1, 0.2, "2")
    # declared tags nobody carries are listed with 0 persons
    assert s[s["tag"] == "high_churn_risk"]["persons"].tolist() == [0]


def test_a_warehouse_without_person_tags_reads_as_empty(tmp_path, tags):
    from scrm_lib.engine import duckdb_connect

    c = duckdb_connect(tmp_path / "old.duckdb")
    try:
        assert person_tags(c).empty
        assert list(person_tags(c).columns) == list(MARTS["person_tags"].schema.names)
    finally:
        c.disconnect()
