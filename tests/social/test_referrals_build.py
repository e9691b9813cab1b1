"""The referrals step in a whole build of the small generated sample, and its CLI."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.sample_project import scrm


@pytest.fixture(scope="module")
def marts(built_sample) -> dict:
    names = ("referrals", "referral_edges", "referral_persons", "referral_closure",
             "referral_campaigns", "koc_scores", "build_steps", "person_tags")  # fmt: skip
    with duckdb.connect(str(built_sample["warehouse"]), read_only=True) as con:
        return {n: con.sql(f"select * from {n}").df() for n in names}


def test_the_step_runs_in_the_build(marts):
    steps = marts["build_steps"]
    row = steps[steps["step"] == "referrals"].iloc[-1]
    assert row["status"] == "ok", row.get("notes")
    assert len(marts["referral_edges"]) == len(marts["referrals"]) > 0
    p = marts["referral_persons"]
    assert (p["downstream_persons"] >= p["direct_invitees"] - p["self_referrals"]).all()
    c = marts["referral_closure"]
    assert not (c["ancestor_id"] == c["descendant_id"]).any()
    down = c.groupby("ancestor_id").size()
    assert (p.set_index("person_id")["downstream_persons"].reindex(down.index) == down).all()


def test_koc_pool_is_in_person_tags(marts):
    k = marts["koc_scores"]
    tags = marts["person_tags"]
    mine = tags[tags["tag"] == "koc_tier"]
    assert len(mine) == k["koc_tier"].notna().sum()


def test_cli_answers_in_json(built_sample):
    home = built_sample["home"]
    summary = json.loads(scrm("referrals", "summary", "--json", cwd=home).stdout)
    assert summary["links"] > 0 and "koc_weights" in summary
    assert set(summary["input"]) == {"unknown_accounts", "self_referrals", "duplicate_links",
                                     "before_inviter_seen"}  # fmt: skip
    assert summary["input"]["self_referrals"] == summary["self_referrals"]
    camps = json.loads(scrm("referrals", "campaigns", "--level", "all", "--json", cwd=home).stdout)
    assert {r["level"] for r in camps["campaigns"]} >= {"campaign", "channel_type"}
    abuse = json.loads(scrm("referrals", "abuse", "--json", cwd=home).stdout)["abuse"]
    for row in abuse:
        if row["kind"] in ("phone", "recipient_phone") and row["value"]:
            assert "****" in row["value"]
    koc = json.loads(scrm("referrals", "koc", "--json", cwd=home).stdout)["koc"]
    if koc:
        who = koc[0]["person_id"]
        one = json.loads(scrm("referrals", "person", who, "--json", cwd=home).stdout)
        assert one["person_id"] == who and one["chain"]["nodes"]
