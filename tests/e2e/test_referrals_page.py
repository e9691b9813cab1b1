"""The Referrals & KOC page (推荐与KOC) on the built sample, checked against the warehouse.

Expected numbers are counted here with SQL on the referral marts and person_tags, not taken
from the page's own library calls.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from scrm_lib.labels import label
from tests.apptest import open_titled, page_home, sql, use_home

PAGE = "views/referrals.py"
TITLE = "推荐与KOC / Referrals & KOC"
ABUSE = "异常邀请 / Abuse flags (admins)"
MARTS = ("referral_edges", "referral_closure", "referral_persons", "referral_rewards",
         "referral_campaigns", "referral_abuse", "koc_scores", "referrals_meta")  # fmt: skip


PHONE = "13812345678"


@pytest.fixture(scope="module")
def project(built_sample, tmp_path_factory):
    """The sample's home with its own copy of the warehouse and three users.

    One more abuse flag, invitees sharing a recipient phone, so masking has something to hide
    (the small sample plants none).
    """
    project = page_home(built_sample, tmp_path_factory, "referrals_page")
    with duckdb.connect(str(project["warehouse"])) as con:
        (inviter,) = con.execute(
            "select person_id from referral_persons order by direct_invitees desc, person_id"
        ).fetchone()
        con.execute(
            "insert into referral_abuse (flag, person_id, persons, kind, value, evidence) "
            "values ('shared_phone', ?, 3, 'recipient_phone', ?,"
            " '3 invitees share one recipient_phone')",
            [inviter, f"+86{PHONE}"],
        )
    return project


@pytest.fixture
def env(project, monkeypatch):
    return use_home(project, monkeypatch)


def page(user: str = "mark", role: str = "marketer"):
    return open_titled(PAGE, TITLE, user, role)


def table(at, column: str):
    """The first table on the page with a column labelled like ``column``."""
    found = [d.value for d in at.dataframe if label(column) in d.value.columns]
    assert found, f"no table with {label(column)}"
    return found[0]


def chain_spec(at) -> str:
    charts = at.get("graphviz_chart")
    assert len(charts) == 1
    return charts[0].proto.spec


def test_the_sample_has_the_referral_marts(env):
    tables = {r[0] for r in sql(env, "show tables")}
    assert {"referral_edges", "referral_persons", "referral_campaigns", "referral_abuse",
            "koc_scores", "referrals_meta"} <= tables  # fmt: skip
    ((pool,),) = sql(env, "select count(*) from koc_scores where koc_tier is not null")
    assert pool > 0, "the sample should have a KOC pool"


@pytest.mark.parametrize(("user", "role"), [("vera", "viewer"), ("mark", "marketer"),
                                            ("ada", "admin")])  # fmt: skip
def test_the_page_opens_for_every_role_and_only_admins_see_abuse_flags(env, user, role):
    at = page(user, role)
    heads = [h.value for h in at.subheader]
    for title in ("推荐链 / Referral chain", "KOC池 / KOC pool", "裂变活动 / Fission campaigns",
                  "裂变获客 vs 其他渠道 / Did fission-acquired customers stay?"):  # fmt: skip
        assert title in heads
    assert len(at.get("plotly_chart")) == 1
    chain_spec(at)
    shows_abuse = any(label("flag") in d.value.columns for d in at.dataframe)
    assert (ABUSE in heads) == shows_abuse == (role == "admin")


def test_the_headline_numbers_are_the_marts(env):
    ((links,),) = sql(env, "select count(*) from referral_edges where not self_referral")
    ((inviters, invited),) = sql(
        env, "select count(*) filter (where direct_invitees > 0), "
        "count(*) filter (where invited_by is not null) from referral_persons"
    )  # fmt: skip
    tiers = dict(sql(env, "select koc_tier, count(*) from koc_scores "
                          "where koc_tier is not null group by 1"))  # fmt: skip
    tiles = {m.label: int(m.value.replace(",", "")) for m in page().metric if m.value[0].isdigit()}
    assert tiles["推荐关系 / Links"] == links > 0
    assert tiles["邀请人 / Inviters"] == inviters
    assert tiles["受邀客户 / Invited"] == invited
    assert tiles["核心KOC / Core KOC"] == tiers.get("核心KOC", 0)
    assert tiles["潜力KOC / Potential KOC"] == tiers.get("潜力KOC", 0)


def test_the_koc_pool_lists_the_tagged_persons_by_rank_and_filters_by_tier(env):
    tagged = dict(sql(env, "select person_id, value from person_tags where tag = 'koc_tier'"))
    at = page()
    pool = table(at, "koc_score")
    assert dict(zip(pool[label("person_id")], pool[label("koc_tier")], strict=True)) == tagged
    assert pool[label("koc_rank")].is_monotonic_increasing
    # what the parts added sums to the score
    parts = pool[[label(f"c_{p}") for p in ("downstream_gmv", "conversion", "engagement",
                                             "sentiment")]].sum(axis=1)  # fmt: skip
    assert (parts - pool[label("koc_score")]).abs().max() < 0.01
    tier = max(set(tagged.values()), key=list(tagged.values()).count)
    at.radio(key="ref_tier").set_value(tier).run()
    assert not at.exception, at.exception
    shown = table(at, "koc_score")
    assert set(shown[label("person_id")]) == {p for p, t in tagged.items() if t == tier}


def test_the_chain_draws_a_typed_person_with_their_inviter_and_invitees(env):
    ((who, n),) = sql(
        env, "select inviter_person_id, count(distinct invitee_person_id) from referral_edges "
        "where not self_referral and inviter_person_id in "
        "(select person_id from referral_persons where invited_by is not null) "
        "group by 1 order by 2 desc, 1 limit 1",
    )  # fmt: skip
    below = {r[0] for r in sql(
        env, "select invitee_person_id from referral_edges "
        "where inviter_person_id = ? and not self_referral", who,
    )}  # fmt: skip
    ((above,),) = sql(env, "select invited_by from referral_persons where person_id = ?", who)
    at = page()
    at.text_input(key="ref_person").input(who).run()
    assert not at.exception, at.exception
    spec = chain_spec(at)
    assert f'"{above}" -> "{who}"' in spec
    for pid in below:
        assert f'"{who}" -> "{pid}"' in spec
    nodes = table(at, "chain_level")
    levels = dict(zip(nodes[label("person_id")], nodes[label("chain_level")], strict=True))
    assert levels[who] == 0 and levels[above] == -1
    assert all(levels[p] == 1 for p in below if p != who) and len(below) == n


def test_an_unknown_person_is_a_warning(env):
    at = page()
    at.text_input(key="ref_person").input("P_NOBODY").run()
    assert not at.exception, at.exception
    assert any("P_NOBODY" in w.value for w in at.warning)
    assert not at.get("graphviz_chart")


def test_the_campaign_table_has_a_row_per_campaign(env):
    counted = dict(sql(env, "select key, invitees from referral_campaigns "
                            "where level = 'campaign'"))  # fmt: skip
    shown = table(page(), "k_factor")
    assert dict(zip(shown[label("campaign")], shown[label("invitees")], strict=True)) == counted
    types = table(page(), "matured_90")
    assert "老带新推荐" in set(types[label("channel_type")])  # referral, in the marketer's words


def test_an_admin_sees_every_abuse_flag_with_the_evidence_in_words(env):
    ((n,),) = sql(env, "select count(*) from referral_abuse")
    at = page("ada", "admin")
    if not n:
        assert any("没有异常邀请" in c.value for c in at.caption)
        return
    flags = table(at, "flag")
    assert len(flags) == n
    assert flags[label("evidence")].str.contains(r"[\u4e00-\u9fff]").all()
    assert not set(flags[label("flag")]) & {"ring", "burst", "self_referral", "never_buy"}
    assert "共用手机号" in set(flags[label("flag")])


def test_a_shared_phone_is_masked_until_an_admin_unmasks_it(env):
    at = page("ada", "admin")
    values = table(at, "flag")[label("value")].dropna().tolist()
    assert "138****5678" in values and not any(PHONE in v for v in values)
    at.toggle(key="unmask_ref_abuse").set_value(True).run()
    assert not at.exception, at.exception
    assert any(PHONE in v for v in table(at, "flag")[label("value")].dropna())


def test_a_viewer_cannot_save_a_segment(env):
    at = page("vera", "viewer")
    assert not [b for b in at.button if b.key == "ref_seg_save"]
    assert any("marketer or admin" in c.value for c in at.caption)


def test_a_marketer_saves_a_segment_of_one_tier(env):
    from scrm_lib.segments.definitions import segment_members, show_segment

    tagged = sql(env, "select value, person_id from person_tags where tag = 'koc_tier'")
    tier = max({t for t, _ in tagged}, key=[t for t, _ in tagged].count)
    at = page()
    at.selectbox(key="ref_seg_tier").set_value(tier).run()
    at.text_input(key="ref_seg_name").input("koc-tier").run()
    at.button(key="ref_seg_save").click().run()
    assert not at.exception, at.exception
    assert any("koc-tier" in s.value for s in at.success), [e.value for e in at.error]
    info = show_segment("koc-tier")
    assert info["definition"] == [{"tag": "koc_tier", "op": "has_tag", "value": [tier]}]
    assert set(segment_members("koc-tier")) == {p for t, p in tagged if t == tier}

    at.selectbox(key="ref_seg_tier").set_value("pool").run()
    at.text_input(key="ref_seg_name").input("koc-pool").run()
    at.button(key="ref_seg_save").click().run()
    assert not at.exception, at.exception
    assert set(segment_members("koc-pool")) == {p for _, p in tagged}


@pytest.mark.parametrize("drop", ["marts", "referrals"])
def test_a_warehouse_without_referrals_says_so_in_one_line(env, tmp_path, monkeypatch, drop):
    """An older build without the referral marts is answered on the spot; without a referrals
    table the page says there is nothing, in one line."""
    copy = tmp_path / "older.duckdb"
    shutil.copy(env["warehouse"], copy)
    with duckdb.connect(str(copy)) as con:
        for name in [*MARTS, *(["referrals"] if drop == "referrals" else [])]:
            con.execute(f"drop table if exists {name}")
    monkeypatch.setenv("SCRM_WAREHOUSE", str(copy))
    at = page()
    if drop == "marts":
        assert "KOC池 / KOC pool" in [h.value for h in at.subheader]
    else:
        assert [i.value for i in at.info] == [
            "没有推荐关系：导入邀请、团长或分销记录后运行 `scrm build` / No referral links: "
            "ingest invites, group-buy leaders or distributors, then run `scrm build`"
        ]
        assert not at.subheader and not at.dataframe
