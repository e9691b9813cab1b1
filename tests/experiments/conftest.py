"""A generated sample with OneID applied, built once (per code version) for the experiment tests."""

from __future__ import annotations

import json

import pytest

from tests.sample_project import sample_home

PERSONS = 3000


@pytest.fixture(scope="session")
def ab_sample(tmp_path_factory) -> dict:
    sample = sample_home(tmp_path_factory, "ab_home", PERSONS, 11, train_churn=False)
    truth = sample["truth"]
    return {
        "home": sample["home"],
        "warehouse": sample["warehouse"],
        "truth": truth,
        "experiments": json.loads((truth / "experiments.json").read_text()),
    }
