"""A step's frame is typed as its mart declares, whichever engine computed it."""

from __future__ import annotations

import pandas as pd

from scrm_lib.schema import MARTS


def test_timestamps_without_a_zone_are_read_as_utc_instants() -> None:
    """Spark's session runs in UTC and hands timestamps back without a zone (DuckDB's
    carry it): both give the same typed mart, not a crash or a shifted time."""
    mart = MARTS["message_tags"]
    naive = pd.DataFrame({"message_id": ["m1"], "ts": pd.to_datetime(["2025-05-01 10:00"])})
    aware = naive.assign(ts=pd.to_datetime(["2025-05-01 10:00"], utc=True))
    left, right = mart.typed(naive), mart.typed(aware)
    assert str(left["ts"].dtype).endswith("UTC]")
    pd.testing.assert_frame_equal(left, right)
    assert left["ts"].iloc[0] == pd.Timestamp("2025-05-01 10:00", tz="UTC")


def test_a_timestamp_in_another_zone_keeps_its_instant() -> None:
    mart = MARTS["message_tags"]
    shanghai = pd.DataFrame(
        {
            "message_id": ["m1"],
            "ts": pd.to_datetime(["2025-05-01 18:00"]).tz_localize("Asia/Shanghai"),
        }
    )
    assert mart.typed(shanghai)["ts"].iloc[0] == pd.Timestamp("2025-05-01 10:00", tz="UTC")
