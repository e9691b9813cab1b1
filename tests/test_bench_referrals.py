"""The referrals benchmark (bench/referrals.py) at a small size, and its networkx peer.

networkx is a second implementation of the closure's downstream counts: on the
benchmark's synthetic graph (diamonds, rings, self-invites) each inviter's
downstream persons and deepest generation must equal scrm's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import referrals  # noqa: E402


@pytest.fixture(scope="module")
def bench_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return referrals.warehouse(3_000, seed=3, cache=tmp_path_factory.mktemp("cache"))


def test_the_graph_has_diamonds_rings_and_self_invites() -> None:
    g = referrals.graph(3_000, seed=3)
    assert len(g) == 3_000
    assert (g["src"] == g["dst"]).sum() == 3
    assert g.groupby("dst").size().max() > 1  # a person invited twice


def test_networkx_counts_equal_scrm(bench_db: Path) -> None:
    clock = referrals.Clock()
    ours = referrals.part_scrm(bench_db, clock)
    theirs = referrals.part_networkx(bench_db, clock)
    got = referrals.compare(ours["downstream"], theirs["downstream"])
    assert got["equal"], got["differences"]
    assert got["inviters"] > 100
    assert ours["input"]["self_referrals"] == 3 and ours["abuse"].get("ring", 0) > 0


def test_a_run_writes_its_results(bench_db: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(referrals, "warehouse", lambda n, seed: bench_db)
    out = referrals.run(3_000, 3_000, 3, ["scrm_peer_size", "networkx"], tmp_path)
    saved = json.loads((tmp_path / "referrals_3000.json").read_text())
    assert saved == out and out["networkx_vs_scrm"]["equal"]
    assert out["parts"]["networkx"]["peak_rss_mib"] > 0


def test_compare_reports_a_different_count() -> None:
    out = referrals.compare({"P1": [3, 2]}, {"P1": [2, 2]})
    assert not out["equal"]
    assert out["differences"] == [{"person_id": "P1", "scrm": [3, 2], "other": [2, 2]}]
