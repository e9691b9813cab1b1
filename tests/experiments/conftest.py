"""A generated sample with OneID applied, built once for the experiment tests."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import scrm

PERSONS = 3000


@pytest.fixture(scope="session")
def ab_sample(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("ab_home")
    scrm("generate", "--persons", str(PERSONS), "--seed", "11", "--out", "sample", cwd=home)
    scrm("ingest", "sample/exports", "--json", cwd=home)
    scrm("build", "--json", cwd=home)
    warehouse = home / "data/warehouse/scrm.duckdb"
    from scrm_lib.engine import open_warehouse

    con = open_warehouse(warehouse)
    has_identity = "person_accounts" in con.list_tables()
    con.disconnect()
    if not has_identity:  # until the build runs the registered steps, apply OneID here
        from scrm_lib.config import load_settings
        from scrm_lib.identity.step import run
        from scrm_lib.warehouse.steps import StepContext

        con = open_warehouse(warehouse, read_only=False)
        run(StepContext(con=con, settings=load_settings(home), build_id="test"))
        con.disconnect()
    truth = home / "sample/truth"
    return {
        "home": home,
        "warehouse": warehouse,
        "truth": truth,
        "experiments": json.loads((truth / "experiments.json").read_text()),
    }
