"""The referrals build step on a hand-made warehouse: every number has a known answer.

老带新: A invites B and C, B and C both invite D (a diamond), D invites E, and A
brings F as a group-buy leader. S invites their own second account (one person
after OneID). R1 → R2 → R3 → R1's other account: a ring. K invites five persons in
five minutes during 双11 (over a month before the last order), three of them on one
device and three at one address; none of them ever buys.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from scrm_lib.config import load_settings
from scrm_lib.engine import duckdb_connect, register_arrow
from scrm_lib.errors import ConfigError
from scrm_lib.schema import MARTS
from scrm_lib.social.referrals.analysis import (
    koc_scores,
    referral_abuse,
    referral_campaigns,
    referral_chain,
    referral_person,
    referral_summary,
)
from scrm_lib.social.referrals.config import referrals_config
from scrm_lib.social.referrals.step import run
from scrm_lib.tags.registry import tags_table
from scrm_lib.warehouse.parts import assemble
from scrm_lib.warehouse.steps import StepContext
from tests.value.conftest import order, put

PERSONS = {
    "wechat:a": "A", "wechat:b": "B", "wechat:c": "C", "wechat:d": "D", "wechat:e": "E",
    "wechat:f": "F", "wechat:s1": "S", "wechat:s2": "S", "wechat:r1": "R1", "tmall:r1": "R1",
    "wechat:r2": "R2", "wechat:r3": "R3", "wechat:k": "K", "wechat:x": "X", "wechat:y": "Y",
    **{f"wechat:k{i}": f"K{i}" for i in range(1, 6)},
}  # fmt: skip


def link(src: str, dst: str, ts: str, campaign: str = "老带新", kind: str = "invite") -> dict:
    return {"inviter_account_id": src, "invitee_account_id": dst, "ts": ts, "kind": kind,
            "campaign": campaign}  # fmt: skip


REFERRALS = [
    link("wechat:a", "wechat:b", "2026-01-01T02:00:00Z"),
    link("wechat:a", "wechat:c", "2026-01-02T02:00:00Z"),
    link("wechat:b", "wechat:d", "2026-01-05T02:00:00Z"),
    link("wechat:c", "wechat:d", "2026-01-06T02:00:00Z"),
    link("wechat:d", "wechat:e", "2026-01-10T02:00:00Z"),
    link("wechat:a", "wechat:f", "2026-01-15T02:00:00Z", kind="group_leader"),
    link("wechat:s1", "wechat:s2", "2026-01-20T02:00:00Z"),
    link("wechat:r1", "wechat:r2", "2026-02-01T02:00:00Z", "环"),
    link("wechat:r2", "wechat:r3", "2026-02-02T02:00:00Z", "环"),
    link("wechat:r3", "tmall:r1", "2026-02-03T02:00:00Z", "环"),
    *[link("wechat:k", f"wechat:k{i}", f"2026-02-10T02:0{i}:00Z", "双11") for i in range(1, 6)],
]

ORDERS = [
    order("wechat:b", "o-b", "2026-01-03T02:00:00Z", 100.0),  # 2 days after the invite
    order("wechat:c", "o-c", "2026-03-15T02:00:00Z", 60.0),  # 72 days after: not converted
    order("wechat:d", "o-d", "2026-01-07T02:00:00Z", 50.0),
    order("wechat:e", "o-e0", "2026-01-09T02:00:00Z", 30.0),  # before E was invited
    order("wechat:e", "o-e1", "2026-01-11T02:00:00Z", 200.0),
    order("wechat:f", "o-f", "2026-02-01T02:00:00Z", 80.0),
    order("wechat:x", "o-x", "2026-01-20T02:00:00Z", 40.0),
]

#: 老带新 holds two invites and a leader link of A's that converted: the first rule is earned
TOML = """
[[referrals.reward_rules]]
name = "邀请满2人"
converted = 2
kinds = ["invite", "group_leader"]
cost = 10

[[referrals.reward_rules]]
name = "邀请满2人(仅邀请)"
converted = 2
cost = 99
"""


def acquisition() -> pd.DataFrame:
    rows = [("B", "referral", "老带新", "2026-01-01T02:00:00Z"),
            ("C", "referral", "老带新", "2026-01-02T02:00:00Z"),
            ("D", "referral", "老带新", "2026-01-05T02:00:00Z"),
            ("E", "referral", "老带新", "2026-01-09T02:00:00Z"),
            ("F", "referral", "老带新", "2026-01-15T02:00:00Z"),
            ("X", "活码", "C1", "2026-01-01T02:00:00Z"),
            ("Y", "活码", "C1", "2026-01-01T02:00:00Z")]  # fmt: skip
    df = pd.DataFrame(rows, columns=["person_id", "channel_type", "campaign", "acquired_at"])
    df["acquired_at"] = pd.to_datetime(df["acquired_at"], utc=True)
    df = df.assign(touches=1, high_value_referral=False)
    return MARTS["channel_acquisition"].typed(df)


def message_tags() -> pd.DataFrame:
    df = pd.DataFrame({"message_id": ["m1", "m2", "m3"], "person_id": ["A", "A", "A"],
                       "channel": ["wecom_group", "wecom_group", "wecom_private"],
                       "direction": ["in", "in", "in"],
                       "sentiment": ["positive", "positive", "negative"],
                       "sentiment_score": [0.9, 0.7, 0.0]})  # fmt: skip
    return MARTS["message_tags"].typed(df)


def _arrow(con, name: str, df: pd.DataFrame) -> None:
    register_arrow(con, name, pa.Table.from_pandas(df, preserve_index=False))


def write_warehouse(con) -> None:
    put(con, "referrals", REFERRALS)
    put(con, "orders", ORDERS)
    put(con, "identifiers", [
        *[{"account_id": f"wechat:k{i}", "kind": "device", "value": "dev-1"} for i in (1, 2, 3)],
        *[{"account_id": f"wechat:k{i}", "kind": "address", "value": "上海市浦东新区世纪大道1号"}
          for i in (3, 4, 5)],
    ])  # fmt: skip
    put(con, "events", [{"event_id": f"e{i}", "account_id": "wechat:a", "type": "share",
                         "ts": "2026-01-01T00:00:00Z"} for i in (1, 2)])  # fmt: skip
    pm = pd.DataFrame({"account_id": list(PERSONS), "person_id": list(PERSONS.values())})
    _arrow(con, "person_accounts", pm)
    _arrow(con, "channel_acquisition", acquisition())
    _arrow(con, "message_tags", message_tags())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = tmp_path_factory.mktemp("referrals")
    (home / "scrm.toml").write_text(TOML, encoding="utf-8")
    settings = load_settings(home)
    con = duckdb_connect()
    write_warehouse(con)
    counts = run(StepContext(con, settings, "b1"))
    yield con, counts, settings
    con.disconnect()


def _persons(con) -> pd.DataFrame:
    return con.table("referral_persons").execute().set_index("person_id")


def test_downstream_counts_each_person_once_through_a_diamond(built):
    con, _, _ = built
    p = _persons(con)
    a = p.loc["A"]
    assert (a.direct_invitees, a.converted_invitees) == (3, 2)  # B and F in time; C too late
    assert a.downstream_persons == 5  # B, C, D (twice reached), E, F
    assert a.downstream_gmv == pytest.approx(100 + 60 + 50 + 200 + 80)  # E's 30 came first
    assert a.downstream_depth == 3
    assert (a.group_leader_persons, a.group_leader_gmv) == (1, pytest.approx(80.0))
    assert p.loc["B", "converted_invitees"] == p.loc["C", "converted_invitees"] == 1
    assert p.loc["D", "converted_invitees"] == 0  # E had bought before the invite
    gens = p["generation"].to_dict()
    assert (gens["A"], gens["B"], gens["C"], gens["F"], gens["D"], gens["E"]) == (0, 1, 1, 1, 2, 3)
    assert p.loc["D", "invited_by"] == "B"  # the earlier of the two invites


def test_a_self_referral_after_a_merge_is_flagged_not_counted(built):
    con, _, _ = built
    p = _persons(con)
    assert (p.loc["S", "self_referrals"], p.loc["S", "direct_invitees"]) == (1, 0)
    e = con.table("referral_edges").execute()
    assert e.loc[e["self_referral"], "inviter_person_id"].tolist() == ["S"]
    a = referral_abuse(con, flag="self_referral")
    assert a["person_id"].tolist() == ["S"]
    assert a["first_at"].iloc[0] == pd.Timestamp("2026-01-20T02:00:00Z")


def test_a_ring_ends_and_every_member_is_flagged(built):
    con, _, _ = built
    p = _persons(con)
    assert p.loc[["R1", "R2", "R3"], "in_ring"].all()
    assert p.loc[["R1", "R2", "R3"], "downstream_persons"].tolist() == [2, 2, 2]
    assert p.loc[["R1", "R2", "R3"], "generation"].isna().all()  # no root above a ring
    ring = referral_abuse(con, flag="ring").set_index("person_id")
    assert sorted(ring.index) == ["R1", "R2", "R3"]
    assert ring.loc["R1", "persons"] == 3 and ring.loc["R1", "related"] == "R2, R3"
    assert ring.loc["R3", "campaign"] == "环"
    assert ring.loc["R3", "last_at"] == pd.Timestamp("2026-02-03T02:00:00Z")  # R3 → R1


def test_bursts_shared_devices_and_invitees_who_never_buy(built):
    con, _, _ = built
    a = referral_abuse(con)
    k = a[a["person_id"] == "K"].set_index("flag")
    assert set(k.index) == {"burst", "shared_device", "shared_address", "never_buy"}
    assert k.loc["burst", "persons"] == 5
    assert (k.loc["shared_device", "persons"], k.loc["shared_device", "kind"]) == (3, "device")
    assert k.loc["never_buy", "persons"] == 5
    assert "A" not in set(a["person_id"])


def test_the_shared_value_is_masked_on_the_way_out(built):
    from scrm_lib.access.privacy import mask_frame

    con, _, _ = built
    shown = mask_frame(referral_abuse(con, flag="shared_address"), table="referral_abuse")
    assert shown["value"].iloc[0] == "上海市浦东新…"


def test_a_reward_is_earned_once_per_inviter_and_campaign_by_its_kinds(built):
    con, _, _ = built
    r = con.table("referral_rewards").execute()
    assert r[["person_id", "rule", "campaign"]].values.tolist() == [["A", "邀请满2人", "老带新"]]
    assert r["earned_at"].iloc[0] == pd.Timestamp("2026-02-01T02:00:00Z")  # F's first order
    assert _persons(con).loc["A", "reward_cost"] == pytest.approx(10.0)


def test_campaign_k_factor_seeds_generations_and_cost(built):
    con, _, _ = built
    c = referral_campaigns(con).set_index("key")
    old = c.loc["老带新"]
    assert (old.participants, old.invitees, old.converted, old.seeds) == (4, 5, 3, 1)
    assert old.k_factor == pytest.approx(5 / 4 * 3 / 5)
    assert old.generations == 3
    assert (old.rewards, old.reward_cost, old.acquired) == (1, 10.0, 5)
    assert old.cost_per_acquired == pytest.approx(2.0)
    assert old.retention_30 == pytest.approx(4 / 5)  # C bought after 72 days
    assert old.gmv30_per_person == pytest.approx((100 + 50 + 230 + 80) / 5)
    assert pd.isna(old.retention_90)  # nobody acquired 90 days before the as-of date
    assert c.loc["双11", "k_factor"] == 0 and c.loc["双11", "seeds"] == 1
    assert c.loc["环", "seeds"] == 0  # a ring has no seed


def test_fission_against_other_channels(built):
    con, _, _ = built
    ch = referral_campaigns(con, level="channel_type").set_index("key")
    assert ch.loc["referral", "retention_30"] == pytest.approx(4 / 5)
    assert ch.loc["活码", "retention_30"] == pytest.approx(1 / 2)
    assert ch.loc["活码", "gmv30_per_person"] == pytest.approx(20.0)


def test_koc_scores_explain_themselves_and_become_tags(built):
    con, _, _ = built
    k = koc_scores(con).set_index("person_id")
    assert k.index[0] == "A" and k.loc["A", "koc_rank"] == 1
    assert (k.loc["A", "group_messages"], k.loc["A", "shares"]) == (2, 2)
    assert k.loc["A", "sentiment"] == pytest.approx(0.8)  # group messages only
    parts = k[[c for c in k.columns if c.startswith("c_")]].sum(axis=1)
    assert parts.to_numpy() == pytest.approx(k["koc_score"].to_numpy())
    assert k.loc["A", "explanation"].startswith("下游GMV")
    tags = tags_table(con).execute()
    mine = tags[tags["source"] == "referrals"]
    pool = k[k["koc_tier"].notna()]
    assert set(zip(mine["person_id"], mine["value"], strict=True)) == set(
        zip(pool.index, pool["koc_tier"], strict=True)
    )
    assert "A" in set(mine["person_id"])


def test_koc_weights_reweigh_the_stored_parts(built):
    con, _, _ = built
    only_sentiment = koc_scores(con, weights={"sentiment": 1.0}).set_index("person_id")
    # two positive group messages, from two neutral ones: 0.5 + 0.5 × 2 / (2 + 2)
    assert only_sentiment.loc["A", "koc_score"] == pytest.approx(0.75)
    assert only_sentiment.loc["B", "koc_score"] == pytest.approx(0.5)  # wrote nothing: neutral


def test_person_chain_and_summary(built):
    con, counts, _ = built
    chain = referral_chain("B", 1, con)
    levels = {n["person_id"]: n["level"] for n in chain["nodes"]}
    assert levels == {"A": -1, "B": 0, "D": 1}
    assert {(e["source"], e["target"]) for e in chain["edges"]} == {("A", "B"), ("B", "D")}
    one = referral_person("A", con)
    assert one["person"]["downstream_persons"] == 5 and one["koc"]["koc_rank"] == 1
    ring = referral_person("R2", con)["abuse"]  # their own flag and the two naming them
    assert sorted(f["person_id"] for f in ring) == ["R1", "R2", "R3"]
    with pytest.raises(ConfigError, match="no person"):
        referral_person("nobody", con)
    s = referral_summary(con)
    assert (s["links"], s["self_referrals"], s["campaigns"]) == (14, 1, 3)
    assert s["abuse"]["ring"] == 3 and counts["referral_edges"] == 15
    assert s["invited_gmv"] == pytest.approx(100 + 60 + 50 + 200 + 80)


@pytest.mark.parametrize("tables", ["none", "referrals", "all"])
def test_an_empty_warehouse_builds_empty_marts(tmp_path, tables):
    from scrm_lib.schema import TABLES

    con = duckdb_connect()
    put(con, "accounts", [])
    for t in {"none": [], "referrals": ["referrals"], "all": list(TABLES)}[tables]:
        put(con, t, [])
    if tables == "all":  # the marts of the steps before, written empty
        _arrow(con, "channel_acquisition", MARTS["channel_acquisition"].typed(pd.DataFrame()))
        _arrow(con, "message_tags", MARTS["message_tags"].typed(pd.DataFrame()))
    counts = run(StepContext(con, load_settings(tmp_path), "b1"))
    assemble(con)
    assert set(counts.values()) == {0}
    for name in counts:
        assert list(con.table(name).columns) == list(MARTS[name].schema.names)
    meta = con.table("referrals_meta").execute().set_index("key")["value"]
    assert "note" in meta.index
    s = referral_summary(con)
    assert (s["persons"], s["links"], s["inviters"], s["invited_gmv"]) == (0, 0, 0, 0)
    assert s["max_generation"] is None  # no generation, not generation 0
    con.disconnect()


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"conversion_days": -1}, "conversion_days"),
        ({"burst_minutes": 0}, "burst_minutes"),
        ({"koc_weights": {"gmv": 1}}, "koc_weights"),
        ({"koc_weights": {"sentiment": 0}}, "koc_weights"),
        ({"koc_core": 1.5}, "koc_core"),
        ({"koc_potential": 0.9, "koc_core": 0.8}, "koc_potential"),
        ({"reward_rules": [{"name": "x"}]}, "reward_rules 1 converted"),
        ({"reward_rules": [{"name": "x", "converted": 1, "cost": -5}]}, "cost"),
        ({"reward_rules": [{"name": "x", "converted": 1, "kinds": ["gift"]}]}, "kinds"),
        ({"reward_rules": [{"name": "x", "converted": 1, "since": "tomorrow"}]}, "since"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path, overrides, key):
    with pytest.raises(ConfigError) as err:
        referrals_config(load_settings(tmp_path), **overrides)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_an_unknown_setting_in_scrm_toml_is_named(tmp_path):
    (tmp_path / "scrm.toml").write_text("[referrals]\nburst_window = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="burst_window"):
        referrals_config(load_settings(tmp_path))


def test_a_warehouse_without_the_marts_is_answered_on_the_spot(tmp_path):
    con = duckdb_connect()
    write_warehouse(con)
    try:
        assert (
            referral_person("A", con, settings=load_settings(tmp_path))["person"][
                "downstream_persons"
            ]
            == 5
        )
        nodes = referral_chain("D", 2, con, settings=load_settings(tmp_path))["nodes"]
        assert {n["person_id"]: n["level"] for n in nodes} == {
            "A": -2, "B": -1, "C": -1, "D": 0, "E": 1,
        }  # fmt: skip
    finally:
        con.disconnect()


def test_invitees_too_recent_to_have_bought_are_not_held_against_the_inviter(built):
    from scrm_lib.social.referrals.analysis import compute

    con, _, settings = built
    # 80 days to convert: K's invites of 02-10 are not settled by the last order's day
    frames, _ = compute(con, settings=settings, conversion_days=80)
    flags = frames["referral_abuse"]
    assert "never_buy" not in set(flags.loc[flags["person_id"] == "K", "flag"])


def test_a_small_conversion_counts_less_than_a_large_one():
    from scrm_lib.social.referrals.koc import shrunk_conversion

    rate = shrunk_conversion(pd.Series([2, 10, 0]), pd.Series([2, 11, 4]), 5.0)
    # everyone converts 12 / 17: two of two is pulled towards it, ten of eleven less so
    p = 12 / 17
    assert rate.tolist() == pytest.approx([(2 + 5 * p) / 7, (10 + 5 * p) / 16, 0.0])
    assert rate[0] < rate[1]


def test_bad_input_is_kept_and_counted(tmp_path):
    """A link to an account nobody knows, an account inviting itself, one pair linked twice
    and an invite dated before the inviter was first seen."""
    from tests.social.conftest import account

    con = duckdb_connect()
    try:
        seen = {"wechat:p": "2026-01-01", "wechat:q": "2026-01-01", "wechat:r": "2026-01-01",
                "wechat:l": "2026-03-01"}  # fmt: skip
        put(con, "accounts", [account(a, f"{d}T00:00:00Z") for a, d in seen.items()])
        put(con, "referrals", [
            link("wechat:p", "wechat:ghost", "2026-01-05T02:00:00Z"),
            link("wechat:q", "wechat:q", "2026-01-06T02:00:00Z"),
            link("wechat:p", "wechat:r", "2026-01-07T02:00:00Z"),
            link("wechat:p", "wechat:r", "2026-01-08T02:00:00Z", kind="group_leader"),
            link("wechat:l", "wechat:r", "2026-02-01T02:00:00Z"),
        ])  # fmt: skip
        pm = {"wechat:p": "P", "wechat:q": "Q", "wechat:r": "R", "wechat:l": "L"}
        _arrow(con, "person_accounts", pd.DataFrame({"account_id": list(pm),
                                                     "person_id": list(pm.values())}))  # fmt: skip
        run(StepContext(con, load_settings(tmp_path), "b1"))
        s = referral_summary(con)
        assert s["input"] == {"unknown_accounts": 1, "self_referrals": 1, "duplicate_links": 1,
                              "before_inviter_seen": 1}  # fmt: skip
        assert (s["links"], s["self_referrals"]) == (4, 1)
        p = _persons(con)
        # the unknown account is its own person; R is counted once under P, first by invite
        assert (p.loc["P", "direct_invitees"], p.loc["P", "downstream_persons"]) == (2, 2)
        assert "wechat:ghost" in p.index and p.loc["R", "invited_by"] == "P"
        assert (p.loc["Q", "self_referrals"], p.loc["Q", "direct_invitees"]) == (1, 0)
        assert referral_abuse(con, flag="self_referral")["person_id"].tolist() == ["Q"]
        assert referral_abuse(con, flag="burst").empty  # one pair twice is no burst
    finally:
        con.disconnect()
