"""The experiment tests run on the session's built sample (OneID applied by the build).

They get their own copy of it: the e2e tests re-ingest, rebuild and run
reports in theirs. 1,500 persons give both experiments of the generator
enough units to show the true effects and the contamination.
"""

from __future__ import annotations

import json

import pytest

from tests.sample_project import PERSONS, SEED, sample_home


@pytest.fixture(scope="session")
def ab_sample(tmp_path_factory) -> dict:
    sample = sample_home(tmp_path_factory, PERSONS, SEED, train_churn=True, label="ab_home")
    truth = sample["truth"]
    return {
        "home": sample["home"],
        "warehouse": sample["warehouse"],
        "truth": truth,
        "experiments": json.loads((truth / "experiments.json").read_text()),
    }
