"""Derived tags on hand-made marts; tag filters in segments with known member sets."""

from __future__ import annotations

import logging

import pytest

from scrm_lib.errors import ConfigError
from scrm_lib.segments.definitions import members, preview, save_segment, validate_filters
from scrm_lib.tags import registry
from scrm_lib.tags.registry import person_tags, write_tags
from scrm_lib.tags.step import run, run_derived
from tests.tags.conftest import AS_OF, BANDS, STAGES, ctx, since, write_marts


def carried(con, tag: str) -> dict[str, str | None]:
    df = person_tags(con, tag=tag)
    values = df["value"].astype(object).where(df["value"].notna(), None)
    return dict(zip(df["person_id"], values, strict=True))


def test_the_late_step_writes_lifecycle_dormant_and_churn_risk(con):
    counts = run_derived(ctx(con))
    assert carried(con, "lifecycle_stage") == STAGES
    assert carried(con, "dormant") == {"P3": "dormant", "P4": "lost"}
    assert carried(con, "high_churn_risk") == {p: None for p, b in BANDS.items() if b == "high"}
    assert counts == {"person_tags": len(STAGES) + 2 + 2}
    df = person_tags(con)
    assert set(df["since"]) == {since(AS_OF)} and set(df["build_id"]) == {"B1"}
    assert dict(zip(df["tag"], df["source"], strict=True)) == {
        "lifecycle_stage": "value", "dormant": "value", "high_churn_risk": "churn",
    }  # fmt: skip


def test_a_rerun_and_a_later_build_leave_one_copy(con):
    run_derived(ctx(con, "B1"))
    run_derived(ctx(con, "B2"))
    df = person_tags(con)
    assert len(df) == len(STAGES) + 4 and set(df["build_id"]) == {"B2"}


def test_without_churn_scores_the_value_tags_are_still_written(tmp_path, tags, caplog):
    from scrm_lib.engine import duckdb_connect

    c = duckdb_connect(tmp_path / "nochurn.duckdb")
    try:
        write_marts(c, churn=False)
        run(ctx(c))  # the early step: an empty, typed table
        assert person_tags(c).empty
        with caplog.at_level(logging.WARNING, logger="scrm_lib"):
            run_derived(ctx(c))
        assert "no churn_scores" in caplog.text
        assert set(person_tags(c)["tag"]) == {"lifecycle_stage", "dormant"}
    finally:
        c.disconnect()


@pytest.fixture
def tagged(con):
    """The derived tags plus a channel tag: P1, P2 活码, P3 poster, P4 live (P5 none)."""
    run_derived(ctx(con))
    import pandas as pd

    write_tags(con, "toy", pd.DataFrame({
        "person_id": ["P1", "P2", "P3", "P4"], "tag": ["toy_channel"] * 4,
        "value": ["活码", "活码", "poster", "live"], "since": [since("2026-01-01")] * 4,
    }), build_id="B1")  # fmt: skip
    return con


def persons(con, *filters: dict) -> set[str]:
    return set(members(con, list(filters))["person_id"])


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([{"tag": "dormant", "op": "has_tag"}], {"P3", "P4"}),
        ([{"tag": "dormant", "op": "has_tag", "value": "lost"}], {"P4"}),
        ([{"tag": "toy_channel", "op": "has_tag", "value": ["活码", "live"]}], {"P1", "P2", "P4"}),
        ([{"tag": "high_churn_risk", "op": "not_has_tag"}], {"P1", "P3", "P5"}),
        ([{"tag": "toy_channel", "op": "not_has_tag", "value": "活码"}], {"P3", "P4", "P5"}),
        # tags AND columns
        ([{"tag": "toy_channel", "op": "has_tag", "value": "活码"},
          {"column": "monetary", "op": ">", "value": 100}], {"P2"}),
        ([{"tag": "dormant", "op": "has_tag"}, {"tag": "high_churn_risk", "op": "has_tag"}],
         {"P4"}),
    ],
)  # fmt: skip
def test_tag_filters_select_known_members(tagged, filters, expected):
    assert persons(tagged, *filters) == expected
    assert preview(tagged, filters)["persons"] == len(expected)


def test_an_unknown_tag_is_one_line_listing_the_known_ones(tagged):
    with pytest.raises(ConfigError) as exc:
        members(tagged, [{"tag": "vip_forever", "op": "has_tag"}])
    text = str(exc.value)
    assert text.startswith("filter 1: unknown tag 'vip_forever'; known: ") and "\n" not in text
    assert "dormant" in text and "toy_channel" in text
    with pytest.raises(ConfigError, match="unknown tag op 'has'"):
        validate_filters([{"tag": "dormant", "op": "has"}])
    with pytest.raises(ConfigError, match="a text or a list of texts"):
        validate_filters([{"tag": "dormant", "op": "has_tag", "value": 3}])


def test_a_tag_only_in_the_warehouse_is_known_there(tagged, monkeypatch):
    # written by a capability this process has not imported: the warehouse knows it
    monkeypatch.delitem(registry.TAGS, "toy_channel")
    f = [{"tag": "toy_channel", "op": "has_tag", "value": "poster"}]
    with pytest.raises(ConfigError, match="unknown tag 'toy_channel'"):
        validate_filters(f)
    assert persons(tagged, *f) == {"P3"}


def test_a_saved_segment_keeps_its_tag_filter(tagged, tmp_path):
    f = [{"tag": "dormant", "op": "has_tag", "value": "dormant"}]
    saved = save_segment("sleepers", f, author="mark", warehouse=tagged,
                         state_path=tmp_path / "state.duckdb")  # fmt: skip
    assert saved["persons"] == 1


def test_a_warehouse_built_before_tags_has_no_one_tagged(tmp_path, tags):
    from scrm_lib.engine import duckdb_connect

    c = duckdb_connect(tmp_path / "old.duckdb")
    try:
        write_marts(c)
        assert persons(c, {"tag": "dormant", "op": "has_tag"}) == set()
        assert persons(c, {"tag": "dormant", "op": "not_has_tag"}) == set(STAGES)
    finally:
        c.disconnect()
