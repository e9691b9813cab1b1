"""A small sample, generated, ingested and built once per test session through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PERSONS = 1500


def scrm(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run the installed CLI as a user would (its own process, no TTY)."""
    env = {**os.environ, "SCRM_HOME": str(cwd), "CI": "true"}
    env.pop("SCRM_WAREHOUSE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "scrm_lib.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"scrm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("home")
    scrm("generate", "--persons", str(PERSONS), "--seed", "7", "--out", "sample", cwd=home)
    ingest = json.loads(scrm("ingest", "sample/exports", "--json", cwd=home).stdout)
    build = json.loads(scrm("build", "--json", cwd=home).stdout)
    status = json.loads(scrm("status", "--json", cwd=home).stdout)
    return {
        "home": home,
        "warehouse": home / "data/warehouse/scrm.duckdb",
        "truth": home / "sample/truth",
        "ingest": ingest,
        "build": build,
        "status": status,
    }
