"""A hand-made warehouse for the tags tests: five persons, their stages and churn bands."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from scrm_lib.engine import duckdb_connect
from scrm_lib.schema import MARTS
from scrm_lib.tags import registry

#: person → lifecycle stage (value_persons.stage); P5 never bought.
STAGES = {"P1": "new", "P2": "mature", "P3": "dormant", "P4": "lost", "P5": "prospect"}
#: person → churn band (P5 is not scored).
BANDS = {"P1": "low", "P2": "high", "P3": "medium", "P4": "high"}
AS_OF = "2026-03-31"


def write_marts(con: Any, *, churn: bool = True) -> None:
    """value_persons, value_meta and (unless ``churn=False``) churn_scores on ``con``."""
    value = MARTS["value_persons"].typed(
        pd.DataFrame(
            {
                "person_id": list(STAGES),
                "stage": list(STAGES.values()),
                "frequency": [1, 6, 2, 1, 0],
                "monetary": [50.0, 900.0, 120.0, 30.0, 0.0],
                "actions": [3, 10, 0, 0, 2],
            }
        )
    )
    con.create_table("value_persons", value, overwrite=True)
    meta = pd.DataFrame({"key": ["as_of"], "value": [f'"{AS_OF}"']})
    con.create_table("value_meta", meta, overwrite=True)
    if churn:
        scores = MARTS["churn_scores"].typed(
            pd.DataFrame(
                {
                    "person_id": list(BANDS),
                    "risk_band": list(BANDS.values()),
                    "churn_probability": [0.1, 0.8, 0.5, 0.9],
                    "risk_rank": [4, 2, 3, 1],
                    "recency_days": [5, 20, 100, 200],
                    "silent_days": [1, 3, 40, 90],
                    "pre_churn_silent": [False, False, True, True],
                    "early_warning": [False, True, True, True],
                    "as_of": [AS_OF] * 4,
                }
            )
        )
        con.create_table("churn_scores", scores, overwrite=True)


@pytest.fixture
def tags(monkeypatch):
    """The tag registry, restored after the test; ``test_*`` tags declared for source ``toy``."""
    monkeypatch.setattr(registry, "TAGS", dict(registry.TAGS))
    registry.declare_tag(registry.Tag("toy_vip", source="toy", rule="spent over 500", version="2"))
    registry.declare_tag(
        registry.Tag(
            "toy_channel", source="toy", rule="the first channel's type", version="1",
            values=("活码", "poster", "live"),
        )
    )  # fmt: skip
    return registry


@pytest.fixture
def con(tmp_path: Path, tags):
    """A read-write warehouse file with the hand-made marts and no tags yet."""
    c = duckdb_connect(tmp_path / "wh.duckdb")
    write_marts(c)
    yield c
    c.disconnect()


def ctx(con: Any, build_id: str = "B1") -> SimpleNamespace:
    """What a build step reads of its context here."""
    return SimpleNamespace(con=con, build_id=build_id, settings=None)


def since(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")
