"""The Channels & funnel page (渠道与旅程) on the built sample, checked against the warehouse.

Expected numbers are counted here with SQL on the person-level mart and the raw channels
table, not taken from the page's own library calls.
"""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from scrm_lib.labels import money, value_label
from tests.apptest import open_titled, page_home, sql, use_home

PAGE = "views/channels.py"
MIN_COHORT = 30  # the [channels] default: the sample's scrm.toml does not set it


@pytest.fixture(scope="module")
def project(built_sample, tmp_path_factory):
    """The sample's home with its own copy of the warehouse and three users."""
    return page_home(built_sample, tmp_path_factory, "channels_page")


@pytest.fixture
def env(project, monkeypatch):
    return use_home(project, monkeypatch)


def page(user: str = "mark", role: str = "marketer"):
    return open_titled(PAGE, "渠道与旅程 / Channels & funnel", user, role)


def value_table(at):
    return at.dataframe[0].value


def test_the_table_counts_each_channel_types_persons_and_ranks_only_big_groups(env):
    at = page()
    shown = value_table(at)
    assert {"渠道类型", "人数", "首单转化率", "90天人均GMV（元）", "成本（元）", "排名"} <= set(
        shown
    )
    counted = dict(sql(env, "select channel_type, count(*) from channel_acquisition group by 1"))
    labelled = {value_label("channel_type", k): n for k, n in counted.items()}
    assert dict(zip(shown["渠道类型"], shown["人数"], strict=True)) == labelled
    small = shown[shown["人数"] < MIN_COHORT]
    big = shown[shown["人数"] >= MIN_COHORT]
    assert small["排名"].str.startswith("未排名").all()
    assert sorted(big["排名"].astype(int)) == list(range(1, len(big) + 1))
    # an interval reads "estimate (low–high)", percentages for conversion
    assert shown["首单转化率"].str.fullmatch(r"\d+\.\d% \(\d+\.\d%–\d+\.\d%\)").any()


def test_a_code_without_a_cost_shows_an_empty_cost_not_zero(env):
    at = page()
    at.selectbox(key="ch_level").set_value("channel_code").run()
    assert not at.exception, at.exception
    shown = value_table(at).set_index("渠道码")
    costs = dict(sql(env, "select channel_id, cost from channels"))
    on_page = [c for c in costs if c in shown.index]
    without = [c for c in on_page if costs[c] is None]
    with_cost = [c for c in on_page if costs[c] is not None]
    assert without and with_cost, "the sample should have codes with and without a cost"
    assert (shown.loc[without, "成本（元）"] == "").all()
    assert (shown.loc[without, "ROI（GMV）"] == "").all()
    for code in with_cost:
        assert shown.loc[code, "成本（元）"] == money(float(costs[code]))
    # the chart: a bubble per code with a cost and a 90-day GMV, labelled with the code
    plotted = [c for c in with_cost if shown.loc[c, "90天人均GMV（元）"]]
    bubbles = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert sorted(bubbles["text"]) == sorted(plotted)


def test_the_funnel_marks_the_step_that_loses_the_most(env):
    rows = sql(
        env,
        "select step, persons, previous from journey_funnel "
        "where \"group\" = 'all' and cohort = 'all' and step_no > 1 and previous > 0",
    )
    worst = min(rows, key=lambda r: r[1] / r[2])[0]
    at = page()
    marked = [e.value for e in at.error if e.value.startswith("流失最多的一步")]
    assert len(marked) == 1 and f"**{value_label('step', worst)}**" in marked[0]
    steps = at.dataframe[1].value
    assert steps.loc[steps["流失最多"], "漏斗步骤"].tolist() == [value_label("step", worst)]
    # any order: step k needs steps 1..k, so no step has more persons than in strict order
    strict = steps.set_index("漏斗步骤")["人数"]
    at.radio(key="ch_mode").set_value("any").run()
    assert not at.exception, at.exception
    anyorder = at.dataframe[1].value.set_index("漏斗步骤")["人数"]
    assert (anyorder >= strict).all() and (anyorder > strict).any()


def test_the_period_counts_persons_acquired_from_that_local_day(env):
    (since,) = sql(
        env,
        "select quantile_disc((acquired_at at time zone 'Asia/Shanghai')::date, 0.5) "
        "from channel_acquisition",
    )[0]
    ((expected,),) = sql(
        env,
        "select count(*) from channel_acquisition "
        "where (acquired_at at time zone 'Asia/Shanghai')::date >= ?",
        since,
    )
    at = page()
    ((everyone,),) = sql(env, "select count(*) from channel_acquisition")
    assert value_table(at)["人数"].sum() == everyone
    at.date_input(key="ch_since").set_value(since).run()
    assert not at.exception, at.exception
    assert 0 < expected < everyone
    assert value_table(at)["人数"].sum() == expected


def test_a_viewer_cannot_save_a_segment(env):
    at = page("vera", "viewer")
    assert not [b for b in at.button if b.key == "ch_seg_save"]
    assert any("marketer or admin" in c.value for c in at.caption)


def test_a_marketer_saves_a_segment_of_one_codes_customers(env):
    from scrm_lib.segments.definitions import segment_members, show_segment

    ((code, n),) = sql(
        env,
        "select channel_code, count(*) from channel_acquisition where channel_code is not null "
        "group by 1 order by 2 desc, 1 limit 1",
    )
    at = page()
    at.selectbox(key="ch_level").set_value("channel_code").run()
    at.selectbox(key="ch_seg_key").set_value(code).run()
    at.text_input(key="ch_seg_name").input("code-customers").run()
    at.button(key="ch_seg_save").click().run()
    assert not at.exception, at.exception
    assert any("code-customers" in s.value for s in at.success), [e.value for e in at.error]
    info = show_segment("code-customers")
    assert info["definition"] == [{"column": "channel_code", "op": "==", "value": code}]
    members = set(segment_members("code-customers"))
    acquired = {r[0] for r in sql(
        env, "select person_id from channel_acquisition where channel_code = ?", code
    )}  # fmt: skip
    assert members and members <= acquired and len(acquired) == n


def test_unknown_codes_are_a_warning_with_their_count(env, tmp_path, monkeypatch):
    """A code dropped from the channels table: its scans are unknown, the page says so."""
    ((code,),) = sql(
        env,
        "select channel_code from channel_acquisition where channel_type = '海报' "
        "group by 1 order by count(*) desc limit 1",
    )
    copy = tmp_path / "dropped.duckdb"
    shutil.copy(env["warehouse"], copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("delete from channels where channel_id = ?", [code])
    assert not [w for w in page().warning if "不在渠道表中" in w.value]  # none in the sample
    monkeypatch.setenv("SCRM_WAREHOUSE", str(copy))
    at = page()
    warned = [w.value for w in at.warning if "不在渠道表中" in w.value]
    assert len(warned) == 1 and warned[0].startswith("1 个渠道码")
    assert code in at.dataframe[-1].value["渠道码"].tolist()


def test_a_larger_minimum_group_size_ranks_only_the_groups_that_reach_it(env):
    counted = sorted(n for (n,) in sql(
        env, "select count(*) from channel_acquisition group by channel_type"
    ))  # fmt: skip
    floor = counted[-2]  # only the two largest channel types reach it
    at = page()
    at.number_input(key="ch_min_cohort").set_value(floor).run()
    assert not at.exception, at.exception
    shown = value_table(at)
    ranked = shown[~shown["排名"].str.startswith("未排名")]
    assert sorted(ranked["人数"]) == [n for n in counted if n >= floor]
    assert sorted(ranked["排名"].astype(int)) == list(range(1, len(ranked) + 1))
    assert shown.loc[shown["人数"] < floor, "排名"].str.contains(f"少于{floor}人").all()
