"""The scrm command end to end, as a user runs it: generate → ingest → build → status."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.e2e.conftest import scrm


def test_every_generated_file_is_accepted(built_sample):
    files = built_sample["ingest"]["files"]
    assert files, "ingest found no files"
    assert [f["file"] for f in files if f["status"] != "added"] == []
    for f in files:
        assert f["rows_in"] == f["accepted"] + f["rejected"], f["file"]
        # garbage rows are injected on purpose, but most of every file is good
        assert f["accepted"] >= 0.9 * f["rows_in"], f["file"]


def test_status_reconciles_counts_per_file(built_sample):
    status = built_sample["status"]
    assert status["last_build"]["build_id"] == built_sample["build"]["build_id"]
    for f in status["inputs"]:
        assert f["rows_in"] == f["accepted"] + f["rejected"], f["file"]
    tables = status["tables"]
    for name in ("accounts", "identifiers", "orders", "events", "messages", "referrals", "touches"):
        assert tables[name] > 0, name
    rejected = sum(f["rejected"] for f in status["inputs"])
    assert sum(status["rejects"].values()) >= rejected > 0


def test_account_ids_match_the_ground_truth(built_sample):
    """Ingest computes each account id the way the contract says: the truth file knows them."""
    truth = pd.read_csv(built_sample["truth"] / "accounts.csv")
    visible = truth.loc[truth["in_exports"], "account_id"]
    with duckdb.connect(str(built_sample["warehouse"]), read_only=True) as con:
        built = set(con.sql("select account_id from accounts").df()["account_id"])
    found = visible.isin(built).mean()
    assert found > 0.99, f"only {found:.1%} of true accounts are in the warehouse"
    # SMS contact points (phone:<E.164>) are not platform accounts
    stray = {a for a in built if not a.startswith("phone:")} - set(visible)
    assert len(stray) < 0.01 * len(built), sorted(stray)[:10]


# a whole rebuild of the sample; tests/test_build.py checks the same on small homes by default
@pytest.mark.slow
def test_reingest_and_rebuild_add_nothing(built_sample):
    home = built_sample["home"]
    again = json.loads(scrm("ingest", "sample/exports", "--json", cwd=home).stdout)
    assert {f["status"] for f in again["files"]} == {"already ingested"}
    scrm("build", cwd=home)
    status = json.loads(scrm("status", "--json", cwd=home).stdout)
    assert status["tables"] == built_sample["status"]["tables"]


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (("ingest", "no_such_file.csv"), None, "no_such_file.csv"),
        (("ingest", "weird.csv"), "a,b,c\n1,2,3\n", "weird.csv"),
        (("ingest", "empty.csv"), "", "empty.csv"),
        (("status", "--warehouse", "nowhere.duckdb"), None, "nowhere.duckdb"),
    ],
)
def test_user_errors_are_one_line_with_nonzero_exit(tmp_path, args, content, message):
    if content is not None:
        (tmp_path / args[1]).write_text(content, encoding="utf-8")
    proc = scrm(*args, cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0], proc.stderr


@pytest.mark.parametrize("command", ["generate", "ingest", "build", "status"])
def test_help(tmp_path, command):
    proc = scrm(command, "--help", cwd=tmp_path)
    assert "--json" in proc.stdout


NOTEBOOKS = sorted(
    p.stem for p in (Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb")
)


@pytest.fixture(scope="module")
def report_runs(built_sample):
    """Every report run once on the sample through `scrm report run-all`, as `make demo` does;
    then what `scrm report list` and `scrm status` say afterwards."""
    home = built_sample["home"]
    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    (home / "scrm.toml").write_text(f'notebooks_dir = "{notebooks}"\n', encoding="utf-8")
    manifests = json.loads(scrm("report", "run-all", "--jobs", "2", "--json", cwd=home).stdout)
    return {
        "manifests": {m["report"]: m for m in manifests},
        "listed": json.loads(scrm("report", "list", "--json", cwd=home).stdout),
        "build_id": json.loads(scrm("status", "--json", cwd=home).stdout)["last_build"]["build_id"],
    }


@pytest.mark.parametrize("report", NOTEBOOKS)
def test_every_report_runs_on_the_sample_through_the_cli(report_runs, report):
    manifest = report_runs["manifests"][report]
    assert manifest["status"] == "ok", manifest.get("error")
    assert any(
        r["run_id"] == manifest["run_id"] and r["status"] == "ok" for r in report_runs["listed"]
    )
    assert manifest["build_id"] == report_runs["build_id"]
