"""The sample's planted referral structure: influential persons and abuse, with their truth.

Everything is checked against the exports and the other truth files, so the
referral truth stands on what a reader of the sample can see.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scrm_lib.sample import referral_plants as RP
from scrm_lib.sample.generator import generate

N, SEED = 1500, 7  # the size and seed of the tests' shared sample


def _truth(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "truth" / name, dtype=str, keep_default_na=False)


def _jsonl(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8") as fh:
        return pd.DataFrame([json.loads(line) for line in fh])


@pytest.fixture(scope="module")
def simulation(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("referrals")
    frames: dict = {}
    generate(N, seed=SEED, out=out, _dialects=False, _keep=frames)
    return out, frames


@pytest.fixture(scope="module")
def sample(simulation) -> Path:
    return simulation[0]


def _invites(root: Path) -> pd.DataFrame:
    """The referral export with the true person of each side."""
    ref = _jsonl(root / "exports" / "miniapp_referrals.jsonl")
    person = _truth(root, "accounts.csv").set_index("account_id")["person_id"]
    ref["a"] = person.reindex("wechat:" + ref["inviter_openid"]).to_numpy()
    ref["b"] = person.reindex("wechat:" + ref["invitee_openid"]).to_numpy()
    assert ref[["a", "b"]].notna().all().all()
    return ref


def _net_gmv(root: Path) -> pd.Series:
    o = _truth(root, "orders.csv")
    o = o[o["status"].isin(["paid", "refunded"])]
    net = o["amount"].astype(float) - o["refund_amount"].astype(float)
    return net.groupby(o["person_id"]).sum()


def _downstream(root: Path) -> pd.DataFrame:
    """Downstream persons and net GMV per inviter, recomputed from the exports and orders."""
    ref = _invites(root)
    fake = set(_truth(root, "referrals.csv").query("planted_fake == 'True'")["person_id"])
    ref = ref[(ref["a"] != ref["b"]) & ~ref["b"].isin(fake)]
    kids = ref.groupby("a")["b"].apply(set).to_dict()
    gmv = _net_gmv(root)
    rows = []
    for p in kids:
        seen: set[str] = set()
        stack = list(kids[p])
        while stack:
            x = stack.pop()
            if x in seen or x == p:
                continue
            seen.add(x)
            stack.extend(kids.get(x, ()))
        rows.append((p, len(kids[p]), len(seen), gmv.reindex(list(seen)).fillna(0).sum()))
    return pd.DataFrame(rows, columns=["person_id", "direct", "down_n", "down_gmv"]).set_index(
        "person_id"
    )


def test_same_seed_same_bytes(tmp_path):
    def digest(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    generate(600, seed=11, out=tmp_path / "a")
    generate(600, seed=11, out=tmp_path / "b")
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert a == b
    assert "truth/referrals.csv" in a and "truth/referral_abuse.csv" in a


def test_planted_rows_come_after_the_simulated_ones(simulation):
    root, frames = simulation
    persons = _truth(root, "persons.csv")
    plants = frames["plants"]
    fake = _truth(root, "referrals.csv")["planted_fake"] == "True"
    assert fake.sum() == len(plants.fake_persons) > 0
    assert not fake.iloc[:N].any() and fake.iloc[N:].all()  # simulated ids P0000001.. stay
    assert persons["person_id"].tolist()[:N] == [f"P{i:07d}" for i in range(1, N + 1)]
    assert _truth(root, "referrals.csv")["person_id"].tolist() == persons["person_id"].tolist()
    acc = _truth(root, "accounts.csv")
    assert set(acc["person_id"]) == set(persons["person_id"])
    assert (acc.groupby("person_id").size() <= 4).all()


def test_influential_persons_are_the_true_top_by_downstream_gmv(sample):
    truth = _truth(sample, "referrals.csv").set_index("person_id")
    infl = set(truth.index[truth["influential"] == "True"])
    assert len(infl) == max(RP.MIN_INFLUENCERS, round(RP.INFLUENCER_SHARE * N))
    down = _downstream(sample)
    # the truth file holds what the exports show
    got = truth.loc[down.index]
    assert (got["direct_invites"].astype(int) == down["direct"]).all()
    assert (got["downstream_persons"].astype(int) == down["down_n"]).all()
    assert np.allclose(got["downstream_net_gmv"].astype(float), down["down_gmv"], atol=0.02)
    top = down["down_gmv"].sort_values(ascending=False)
    assert set(top.index[: len(infl)]) == infl
    # clearly ahead, yet of the same order as the natural tail
    ratio = down.loc[list(infl), "down_gmv"].min() / down.drop(list(infl))["down_gmv"].max()
    assert 1.1 < ratio < 5


def test_influential_persons_bring_converting_buyers_and_chains(sample):
    truth = _truth(sample, "referrals.csv").set_index("person_id")
    infl = list(truth.index[truth["influential"] == "True"])
    ref = _invites(sample)
    ref["t"] = pd.to_datetime(ref["ts"].astype("int64"), unit="ms")
    mine = ref[ref["a"].isin(infl)]
    o = _truth(sample, "orders.csv")
    o = o[o["status"].isin(["paid", "refunded"])]
    first = (pd.to_datetime(o["created_at"]) - pd.Timedelta(hours=8)).groupby(o["person_id"]).min()
    lag = first.reindex(mine["b"]).to_numpy() - mine["t"].to_numpy()
    converted = (lag >= -np.timedelta64(1, "s")) & (lag <= np.timedelta64(RP.CONVERT_DAYS, "D"))
    assert converted.mean() > 0.8
    # many invitees each, more than all but the busiest natural inviters
    direct = mine.groupby("a").size()
    assert direct.min() >= RP.MIN_DIRECT - 2
    # multi-hop: their invitees invite too
    assert ref["a"].isin(set(mine["b"])).sum() >= len(infl)
    # they share before inviting: more shares than almost anyone
    ev = pd.concat(_jsonl(p) for p in sorted((sample / "exports").glob("miniapp_events_*")))
    person = _truth(sample, "accounts.csv").set_index("account_id")["person_id"]
    shares = person.reindex("wechat:" + ev.loc[ev["event"] == "share", "openid"]).value_counts()
    assert shares.reindex(infl).min() > shares.drop(infl).quantile(0.99)


def test_fake_invitees_come_in_bursts_and_never_order(sample):
    cases = _truth(sample, "referral_abuse.csv")
    assert set(cases["kind"]) == {"burst", "fake_invitee", "ring", "self_referral"}
    assert cases["case_id"].is_unique
    fake = cases[cases["kind"] == "fake_invitee"]
    fake_acc = set(fake["invitee_account_ids"])
    orders = _truth(sample, "orders.csv")
    assert not fake_acc & set(orders["account_id"])
    users = _jsonl(sample / "exports" / "miniapp_users.jsonl")
    users["account_id"] = "wechat:" + users["openid"]
    shown = users[users["account_id"].isin(fake_acc)]
    assert len(shown) == len(fake_acc)
    assert shown["nickname"].str.fullmatch(r"用户\d{4}").all()
    assert shown["unionid"].notna().all() and shown["unionid"].is_unique
    ref = _invites(sample)
    ref["pair"] = "wechat:" + ref["inviter_openid"] + ">wechat:" + ref["invitee_openid"]
    ts = ref.set_index("pair")["ts"].astype("int64")
    for burst in cases[cases["kind"] == "burst"].itertuples():
        pairs = [
            f"{a}>{b}"
            for a, b in zip(
                burst.inviter_account_ids.split(";"),
                burst.invitee_account_ids.split(";"),
                strict=True,
            )
        ]
        t = ts.reindex(pairs)
        assert t.notna().all() and len(pairs) >= RP.BURST_SIZE[0]
        assert (t.max() - t.min()) / 60_000 <= 12  # all within minutes
        assert len(set(burst.inviter_account_ids.split(";"))) == 1
    # some share a burner phone: accounts with one phone are one true person, at most four
    phone = shown.dropna(subset=["phone"]) if "phone" in shown else shown.iloc[:0]
    assert len(phone) > 0
    acc = _truth(sample, "accounts.csv").set_index("account_id")["person_id"]
    per_phone = acc.reindex(phone["account_id"]).groupby(phone["phone"].to_numpy()).nunique()
    assert (per_phone == 1).all()
    assert phone.groupby("phone").size().max() <= RP.PHONE_GROUP
    persons = _truth(sample, "persons.csv").set_index("person_id")
    assert (persons.loc[acc.reindex(list(fake_acc)).unique(), "n_orders"] == "0").all()


def test_rings_are_cycles_of_the_referral_export(sample):
    cases = _truth(sample, "referral_abuse.csv")
    rings = cases[cases["kind"] == "ring"]
    assert len(rings) >= 2
    ref = _invites(sample)
    edges = set(
        zip("wechat:" + ref["inviter_openid"], "wechat:" + ref["invitee_openid"], strict=True)
    )
    campaign = ref.set_index(["inviter_openid", "invitee_openid"])["campaign"]
    for ring in rings.itertuples():
        a = ring.inviter_account_ids.split(";")
        b = ring.invitee_account_ids.split(";")
        assert b == a[1:] + a[:1]  # A→B, B→C, C→A
        assert all(e in edges for e in zip(a, b, strict=True))
        names = {
            campaign[(x.removeprefix("wechat:"), y.removeprefix("wechat:"))]
            for x, y in zip(a, b, strict=True)
        }
        assert len(names) == 3  # each invite in another campaign
        assert len(set(ring.person_ids.split(";"))) == 3


def test_self_referrals_link_one_person_by_phone(sample):
    root = sample
    cases = _truth(root, "referral_abuse.csv")
    selfs = cases[cases["kind"] == "self_referral"]
    assert len(selfs) >= 3
    acc = _truth(root, "accounts.csv").set_index("account_id")["person_id"]
    users = _jsonl(root / "exports" / "miniapp_users.jsonl")
    users = users.set_index("wechat:" + users["openid"])
    persons = _truth(root, "persons.csv").set_index("person_id")
    orders = _truth(root, "orders.csv")
    ref = _invites(root)
    for case in selfs.itertuples():
        first, second = case.inviter_account_ids, case.invitee_account_ids
        assert acc[first] == acc[second] == case.person_ids
        assert users.loc[second, "unionid"] != users.loc[first, "unionid"]
        # the second account shows the person's phone, as the first one's orders do
        assert "+86" + users.loc[second, "phone"] == persons.loc[case.person_ids, "phone"]
        mine = orders[orders["account_id"] == first]
        assert len(mine) > 0
        hit = (ref["inviter_openid"] == first.removeprefix("wechat:")) & (
            ref["invitee_openid"] == second.removeprefix("wechat:")
        )
        assert hit.sum() == 1


def test_acquisition_truth_counts_only_acquiring_invites(sample):
    acq = _truth(sample, "acquisition.csv").set_index("person_id")
    cases = _truth(sample, "referral_abuse.csv")
    fake_persons = _truth(sample, "referrals.csv").query("planted_fake == 'True'")["person_id"]
    assert (acq.loc[fake_persons, "channel_type"] == "referral").all()
    # a ring's invites came after each member's own acquisition, the first invite
    ref = _invites(sample).assign(ts=lambda d: d["ts"].astype("int64")).sort_values("ts")
    first = ref.drop_duplicates("b").set_index("b")["a"]
    members = {p for c in cases[cases["kind"] == "ring"]["person_ids"] for p in c.split(";")}
    for p in members:
        assert acq.loc[p, "channel_type"] == "referral"
        assert acq.loc[p, "inviter_person_id"] == first[p]
    for case in cases[cases["kind"] == "self_referral"].itertuples():
        assert acq.loc[case.person_ids, "inviter_person_id"] != case.person_ids


@pytest.mark.slow
def test_influential_persons_lead_on_the_demo_sample(tmp_path):
    generate(20_000, seed=42, out=tmp_path)
    truth = _truth(tmp_path, "referrals.csv")
    infl = set(truth.loc[truth["influential"] == "True", "person_id"])
    assert len(infl) == 10
    gmv = truth.set_index("person_id")["downstream_net_gmv"].astype(float)
    top = gmv.sort_values(ascending=False)
    assert set(top.index[: len(infl)]) == infl
    assert top.iloc[len(infl) - 1] > 1.1 * top.iloc[len(infl)]
