"""The identity step on Spark: a Spark build runs OneID there (the same named SQL,
translated; Splink's Spark linker) and publishes the marts the DuckDB build does.

A generated sample of a few hundred persons is ingested once (cached like the shared
sample, :mod:`tests.sample_project`), then built with the identity step alone on each
engine; the marts are compared row by row, the person ids up to a relabelling.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from scrm_lib.engine import open_warehouse
from tests.sample_project import cached_home, scrm

PERSONS, SEED = 300, 11

#: The marts the identity step writes.
MARTS = [
    "person_accounts",
    "persons",
    "identity_edges",
    "identity_hubs",
    "identity_hub_orders",
    "identity_stages",
    "person_id_history",
]


def _ingested(home: Path) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    scrm("generate", "--persons", str(PERSONS), "--seed", str(SEED), "--out", "sample", cwd=home)
    scrm("ingest", "sample/exports", "--json", cwd=home)
    return {}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("identity-spark") / "home"
    cached_home("identity-spark", _ingested, dest, key=f"{PERSONS}/{SEED}")
    return dest


def _marts(path: Path, build_id: str) -> dict[str, pd.DataFrame]:
    con = open_warehouse(path)
    try:
        out = {}
        for name in MARTS:
            df = con.table(name).execute()
            if "build_id" in df.columns:
                assert set(df["build_id"]) <= {build_id}, name
                df = df.drop(columns="build_id")
            out[name] = df
        return out
    finally:
        con.disconnect()


def _relabelling(left: pd.DataFrame, right: pd.DataFrame) -> dict[str, str]:
    """The Spark build's person id of each DuckDB person id; fails unless one to one."""
    assert sorted(left["account_id"]) == sorted(right["account_id"])
    both = left.merge(right, on="account_id", suffixes=("_duck", "_spark"))
    pairs = both[["person_id_duck", "person_id_spark"]].drop_duplicates()
    assert pairs["person_id_duck"].is_unique and pairs["person_id_spark"].is_unique
    return dict(zip(pairs["person_id_duck"], pairs["person_id_spark"], strict=True))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns)).reset_index(drop=True)


@pytest.mark.spark
@pytest.mark.slow
def test_identity_on_spark_publishes_the_duckdb_builds_marts(
    home: Path, spark_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scrm_lib.config import load_settings
    from scrm_lib.warehouse.build import build

    for name in ("ENGINE", "SPARK_MASTER", "SPARK_WAREHOUSE_PATH", "WAREHOUSE"):
        monkeypatch.delenv(f"SCRM_{name}", raising=False)
    settings = load_settings(home)
    kw: dict[str, Any] = {"raw_dir": home / "data" / "raw", "settings": settings}
    duck = build(warehouse=home / "duck.duckdb", steps=["identity"], **kw)
    # on a few hundred rows, compiling whole-stage code costs more than it saves
    codegen = spark_session.conf.get("spark.sql.codegen.wholeStage")
    spark_session.conf.set("spark.sql.codegen.wholeStage", "false")
    try:
        lake = home / "lake"
        spark = build(warehouse=lake, engine="pyspark", steps=["identity"], **kw)
    finally:
        spark_session.conf.set("spark.sql.codegen.wholeStage", codegen)

    version = lake / "versions" / spark.build_id
    manifest = json.loads((version / "_manifest.json").read_text())
    for name in MARTS:
        assert manifest["tables"][name]["written_by"] == "spark", name
    left, right = _marts(home / "duck.duckdb", duck.build_id), _marts(lake, spark.build_id)
    for name in MARTS:
        assert list(left[name].columns) == list(right[name].columns), name
        assert len(left[name]) == len(right[name]), name

    accounts = left["person_accounts"]
    assert accounts["person_id"].nunique() < len(accounts)  # the sample links accounts
    relabel = _relabelling(accounts, right["person_accounts"])
    # the persons' ids are given by the same code from the same clusters: no relabelling
    assert all(k == v for k, v in relabel.items())
    marts = ("person_accounts", "persons", "identity_hubs", "identity_hub_orders")
    for name in (*marts, "person_id_history"):
        pd.testing.assert_frame_equal(_sorted(left[name]), _sorted(right[name]), obj=name)

    # the probabilistic stage ran on both (fixed priors: the sample is too small to train)
    # and scored the same pairs with the same evidence
    stages = left["identity_stages"]
    assert stages["mode"].tolist() == ["priors"] and stages["candidate_pairs"].iloc[0] > 0
    pd.testing.assert_frame_equal(stages, right["identity_stages"], obj="identity_stages")
    edges = [_sorted(e) for e in (left["identity_edges"], right["identity_edges"])]
    assert (edges[0]["stage"] == "probabilistic").sum() > 0
    pd.testing.assert_frame_equal(
        edges[0].drop(columns="match_probability"),
        edges[1].drop(columns="match_probability"),
        obj="identity_edges",
    )
    pd.testing.assert_series_equal(
        edges[0]["match_probability"], edges[1]["match_probability"], rtol=1e-9
    )
