"""Exposure logging in the state store: first exposure wins; the table is the declared one."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from scrm_lib.engine import duckdb_connect
from scrm_lib.experiments.assignment import assign, log_exposures
from scrm_lib.experiments.messages import ExperimentInputError
from scrm_lib.schema import MARTS


def shape(schema) -> dict:
    """Columns with their type family and nullability (timestamp precision aside)."""
    return {c: (type(t).__name__, t.nullable) for c, t in schema.items()}


def test_first_exposure_wins_and_the_table_is_declared(tmp_path):
    state = tmp_path / "state.duckdb"
    first = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    arms = assign(["P1", "P2", "P3"], experiment="bday")
    assert log_exposures(arms, path=state, ts=first) == 3
    # P3 again, in another arm and later: nothing added, the first exposure stays
    again = pd.DataFrame({"experiment": ["bday", "bday"], "person_id": ["P3", "P4"],
                          "variant": ["B", "A"]})  # fmt: skip
    assert log_exposures(again, path=state, ts=first + dt.timedelta(days=1)) == 1
    assert log_exposures(arms.iloc[:0], path=state) == 0
    con = duckdb_connect(state, read_only=True)
    try:
        t = con.table("experiment_exposures")
        assert shape(t.schema()) == shape(MARTS["experiment_exposures"].schema)
        got = con.execute(t.order_by("person_id"))
    finally:
        con.disconnect()
    assert got["person_id"].tolist() == ["P1", "P2", "P3", "P4"]
    p3 = got.set_index("person_id").loc["P3"]
    assert p3["variant"] == arms.set_index("person_id").loc["P3", "variant"]
    assert p3["ts"] == pd.Timestamp(first)
    with pytest.raises(ExperimentInputError, match="variant"):
        log_exposures(arms.drop(columns="variant"), path=state)
