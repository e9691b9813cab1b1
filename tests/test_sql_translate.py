"""The named statements' Spark form: what sqlglot passes through unchanged is rewritten
(scrm_lib.engine.queries._for_spark), and a statement that makes a table is split into the
table's name and its query (spark_statement), as the Spark runner keeps tables as views."""

from __future__ import annotations

import pytest

from scrm_lib.engine import queries
from scrm_lib.engine.queries import spark_statement, translate


def spark(text: str) -> str:
    (out,) = translate(text, "spark")
    return out


def test_a_full_regexp_match_is_an_anchored_rlike():
    assert spark("SELECT regexp_full_match(v, '1[0-9]{2}') FROM t") == (
        "SELECT v RLIKE '^(?:1[0-9]{2})$' FROM t"
    )
    # a pattern that is not a literal is anchored around its value
    assert spark("SELECT regexp_full_match(v, p) FROM t") == (
        "SELECT v RLIKE CONCAT('^(?:', p, ')$') FROM t"
    )


def test_the_han_script_takes_its_java_name():
    assert spark(r"SELECT regexp_replace(v, '[^\p{Han}]', '', 'g') FROM t") == (
        r"SELECT REGEXP_REPLACE(v, '[^\\p{IsHan}]', '') FROM t"
    )


def test_list_indexes_count_from_one_and_from_the_end():
    assert spark("SELECT x[1], x[-1], x[-2] FROM t") == (
        "SELECT x[0], ELEMENT_AT(x, -1), ELEMENT_AT(x, -2) FROM t"
    )


def test_a_materialized_cte_is_a_plain_one():
    assert spark("WITH r AS MATERIALIZED (SELECT 1 AS a) SELECT a FROM r") == (
        "WITH r AS (SELECT 1 AS a) SELECT a FROM r"
    )


def test_a_distinct_sorted_string_agg_is_a_sorted_set():
    assert spark("SELECT string_agg(DISTINCT p, ',' ORDER BY p) FROM t GROUP BY k") == (
        "SELECT ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(p)), ',') FROM t GROUP BY k"
    )
    # ordered by something else, or descending, or not distinct: Spark's LISTAGG
    for text in (
        "SELECT string_agg(DISTINCT p, ',' ORDER BY q) FROM t",
        "SELECT string_agg(DISTINCT p, ',' ORDER BY p DESC) FROM t",
        "SELECT string_agg(p, ',' ORDER BY p) FROM t",
    ):
        assert spark(text).startswith("SELECT LISTAGG("), text


def test_duckdb_gets_the_statement_as_written():
    assert queries.render("identity.account_ids") == queries.sql("identity.account_ids")
    assert "regexp_full_match" in queries.render("identity.clues")
    assert "RLIKE" in queries.render("identity.clues", dialect="spark")


def test_a_statement_making_a_table_is_its_name_and_query():
    action, name, text = spark_statement("identity.keep_frame", target="_kept", frame="_frame")
    assert (action, name, text) == ("create", "_kept", "SELECT * FROM _frame")
    # a CTE list belongs to the query; parameters are Spark's named markers
    action, name, text = spark_statement("identity.id_groups", only_kinds=True)
    assert (action, name) == ("create", "_id_groups")
    assert text.startswith("WITH per_platform AS (SELECT kind, value, SPLIT_PART(account_id")
    assert "CAST(:skip AS ARRAY<STRING>)" in text and "CAST(:kinds AS ARRAY<STRING>)" in text
    assert "CREATE" not in text.upper()


def test_drop_and_other_statements():
    assert spark_statement("identity.drop_scratch", scratch="_id_groups") == (
        "drop",
        "_id_groups",
        "",
    )
    action, name, text = spark_statement("identity.account_ids")
    assert (action, name, text) == (
        "run",
        None,
        "SELECT account_id FROM accounts ORDER BY account_id NULLS LAST",
    )


@pytest.mark.parametrize("name", [n for n in queries.names() if n.startswith("identity")])
def test_every_identity_statement_has_a_spark_form(name):
    """Each identity statement translates (the Spark identity step runs every one)."""
    from tests.test_engine_boundary import _source, _undeclared

    template = queries._template(name)
    blanks = dict.fromkeys(_undeclared(template.environment, name), "x")
    blanks |= {v: {"x": (["x"], 2, 1)} for v in blanks if f"{v}.items()" in _source(name)}
    action, _, text = spark_statement(name, **blanks)
    assert action == "drop" or text, name
    assert "regexp_full_match" not in text.lower() and "MATERIALIZED" not in text.upper()


def test_splink_conditions_in_sparks_dialect():
    from scrm_lib.engine.queries import condition

    assert condition("ELSE", "spark") == "ELSE"
    assert condition('jaro_winkler_similarity("a_l", "a_r") >= 0.9', "spark") == (
        "JARO_WINKLER(`a_l`, `a_r`) >= 0.9"
    )
    assert condition("list_has_any(string_split(p_l, ','), string_split(p_r, ','))", "spark") == (
        r"ARRAYS_OVERLAP(SPLIT(p_l, CONCAT('\\Q', ',', '\\E')), "
        r"SPLIT(p_r, CONCAT('\\Q', ',', '\\E')))"
    )
    text = 'damerau_levenshtein("b_l", "b_r") <= 1'
    assert condition(text, "duckdb") == text


class _Spark:
    name = "pyspark"


def test_the_identity_model_reads_on_spark():
    """Every comparison level of the full model is Spark SQL, the model says so, and a model
    already for Spark (saved by a Spark linker) is left as it is."""
    import sqlglot

    from scrm_lib.engine.splink import splink_settings
    from scrm_lib.identity.matching import FEATURES, _settings
    from scrm_lib.identity.trainable import prior_model

    model = prior_model(FEATURES)["splink"]
    assert splink_settings(model, object()) is model  # DuckDB: as it is
    spark = splink_settings(model, _Spark())
    assert model["sql_dialect"] == "duckdb" and spark["sql_dialect"] == "spark"
    levels = [lv["sql_condition"] for c in spark["comparisons"] for lv in c["comparison_levels"]]
    assert len(levels) > 20
    for text in levels:
        if text != "ELSE":
            sqlglot.parse_one(text, read="spark")
        lowered = text.lower()
        assert "jaro_winkler_similarity" not in lowered and "list_has_any" not in lowered
    assert any(t.startswith("JARO_WINKLER(`name_py_l`") for t in levels)
    assert any("ARRAYS_OVERLAP(" in t for t in levels)
    assert splink_settings(spark, _Spark()) is spark
    # training starts from the settings object, not a saved model
    fresh = splink_settings(_settings(list(FEATURES), rules=False), _Spark())
    assert fresh["sql_dialect"] == "spark"


def test_a_kept_table_outlives_its_frame_and_is_dropped_with_the_scratch(backend):
    """The runner's table statements on either engine: on Spark a created table is a
    checkpointed view that outlives the frame it was read from, replaced by a statement
    reading it, and dropped as a DuckDB table is."""
    import pandas as pd

    from scrm_lib.engine import Runner
    from scrm_lib.engine.splink import registered

    run = Runner(backend, label="t")
    # pandas' Arrow-backed text (large_string on Arrow) and a column without a value
    frame = pd.DataFrame(
        {"account_id": pd.Series(["b", "a"], dtype="string"), "note": [None, None]}
    )
    with registered(run, "_frame", frame):
        run.query("identity.keep_frame", target="_kept", frame="_frame")
    assert "_frame" not in run.tables() and "_kept" in run.tables()
    assert sorted(backend.table("_kept").to_pandas()["account_id"]) == ["a", "b"]
    with registered(run, "_more", frame.assign(account_id=["c", "d"])):
        run.query("identity.keep_frame", target="_kept", frame="_more")
    assert sorted(backend.table("_kept").to_pandas()["account_id"]) == ["c", "d"]
    run.query("identity.drop_scratch", scratch="_kept")
    run.query("identity.drop_scratch", scratch="_kept")  # gone already: nothing to do
    assert "_kept" not in run.tables()
