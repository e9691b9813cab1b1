"""Each shipped rule on a hand-made warehouse: who it selects, and who it leaves out by
a minute or a day (see tests/social/automation_home.py for the persons)."""

from __future__ import annotations

import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError
from scrm_lib.social.automation.config import automation_config
from scrm_lib.social.automation.outbox import run_triggers
from scrm_lib.social.automation.rules import load_rules
from tests.social.automation_home import AT, DAY_, home, local

#: rule → exactly the persons it selects on the run day
EXPECTED = {
    "groupbuy_views_no_order": {"G3"},  # 3 group-buy views in 7 days; G2 has 2, GO ordered
    "cart_unpaid_24h": {"C1", "C3"},  # 24 h 01 and 24 h 30; C2 23 h 59; CP paid
    "welcome_referral": {"WR"},  # G3 came by referral 300 days ago
    "welcome_ad": {"WA"},
    "prechurn_care_30d": {"S30"},
    "dormant_180d": {"D180", "OPT", "NOACC"},  # D179: 179 days
    "live_buyers_recall_60d": {"L60"},
    "birthday": {"B0"},  # R14's is tomorrow
    "repurchase_day14": {"R14"},
    "high_intent_followup": {"HI"},
    "vip_negative_service": {"VN"},
    "churn_early_warning": set(),  # no churn scores in this warehouse
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    settings = load_settings(tmp_path_factory.mktemp("home"))
    con = home()
    summary = run_triggers(DAY_, con, settings=settings)
    out = pd.read_parquet(summary["path"])
    yield summary, out
    con.disconnect()


def test_every_shipped_rule_is_tested():
    assert set(load_rules().names()) == set(EXPECTED)


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_each_rule_selects_exactly_its_persons(run, rule):
    _, out = run
    assert set(out.loc[out["rule"] == rule, "person_id"]) == EXPECTED[rule]


def test_a_cart_at_2330_shanghai_is_sent_at_0900_the_next_day(run):
    _, out = run
    c3 = out[(out["rule"] == "cart_unpaid_24h") & (out["person_id"] == "C3")].iloc[0]
    # added 23:30 on 8 December: due 23:30 on the 9th, inside the quiet hours
    assert c3["due_at"] == pd.Timestamp(local("2026-12-09 23:30"))
    assert c3["planned_at"] == pd.Timestamp(local("2026-12-10 09:00"))
    assert c3["status"] == "planned"


def test_evidence_says_what_the_condition_saw(run):
    _, out = run
    ev = out.set_index(["rule", "person_id"])["evidence"]
    assert ev["groupbuy_views_no_order", "G3"] == "page_view=3; orders=0"
    assert ev["dormant_180d", "D180"] == "orders:days_since_last=180"
    assert ev["cart_unpaid_24h", "C1"] == "cart_unpaid_hours=24.0"


def test_reach_follows_channel_and_consent(run):
    _, out = run
    row = out.set_index(["rule", "person_id"])
    # no WeCom contact and no mini-program grant: the official account reaches them
    assert row.loc[("dormant_180d", "NOACC"), "channel"] == "official_account"
    assert row.loc[("dormant_180d", "NOACC"), "account_id"] == "wechat:noacc"
    # opted out of WeCom, nothing else to reach them on: kept, suppressed, with the reason
    assert row.loc[("dormant_180d", "OPT"), "reason"] == "opt_out"
    # a staff task goes to whoever served the VIP last
    assert row.loc[("vip_negative_service", "VN"), "channel"] == "staff_task"
    assert row.loc[("vip_negative_service", "VN"), "staff_id"] == "s7"


def test_replaying_an_earlier_date_reads_only_what_was_there(tmp_path):
    settings = load_settings(tmp_path)
    con = home()
    try:
        # a day earlier: C1's cart is 0 h 01 old, the referral newcomer not yet seen
        early = run_triggers("2026-12-09", con, settings=settings, persist=False)
    finally:
        con.disconnect()
    by_rule = {r["rule"]: r["rows_in"] for r in early["by_rule"]}
    assert "welcome_referral" not in by_rule
    assert by_rule.get("dormant_180d") == 2  # D180 is at 179 days that day; OPT, NOACC are past


def test_at_is_local_midnight():
    assert pd.Timestamp("2026-12-09T16:00:00Z") == AT


# ---------------------------------------------------------------- bad rules

GOOD = """
version = 1
[templates]
T1 = { channel = "wecom_1v1", text = "hi" }
[[rule]]
name = "r1"
channel = "wecom"
template = "T1"
"""


@pytest.mark.parametrize(
    ("when", "template", "needle"),
    [
        ('[{ column = "no_such", op = "==", value = 1 }]', "T1", "unknown column 'no_such'"),
        ('[{ orders = "count", op = "~=", value = 1 }]', "T1", "unknown op '~='"),
        ('[{ orders = "count", op = "==", value = 0 }]', "T9", "unknown template 'T9'"),
        ('[{ orders = "lifetime", op = "==", value = 0 }]', "T1", "unknown orders measure"),
        ('[{ tag = "no_tag", op = "has_tag" }]', "T1", "unknown tag 'no_tag'"),
        ('[{ orders = "count", where = { colour = "red" }, op = ">=", value = 1 }]', "T1",
         "unknown column 'colour'"),
    ],
)  # fmt: skip
def test_a_bad_rule_is_one_line_naming_the_rule_and_the_file(tmp_path, when, template, needle):
    path = tmp_path / "rules.toml"
    path.write_text(GOOD.replace('"T1"\n', f'"{template}"\n', 1).rstrip("\n").replace(
        'template = "T9"', 'template = "T9"') + f"\nwhen = {when}\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError) as err:
        load_rules(path, channels=automation_config()["channels"])
    msg = str(err.value)
    assert "\n" not in msg
    assert str(path) in msg and "rule 'r1'" in msg and needle in msg, msg


def scrm(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the ``scrm`` entry point as a user would: exit code, stdout, stderr."""
    from scrm_lib.cli import main

    monkeypatch.setattr("sys.argv", ["scrm", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_a_bad_rule_in_the_cli_is_one_line_and_no_traceback(tmp_path, monkeypatch, capsys):
    path = tmp_path / "rules.toml"
    path.write_text(GOOD + 'when = [{ column = "nope", op = "==", value = 1 }]\n', "utf-8")
    code, out, err = scrm(monkeypatch, capsys, "triggers", "list", "--rules", str(path))
    assert code == 2
    assert "Traceback" not in out + err
    assert err.strip().startswith("error:") and len(err.strip().splitlines()) == 1
    assert "rule 'r1'" in err and "nope" in err


def test_rules_need_a_version(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(GOOD.replace("version = 1\n", "") + 'when = [{ orders = "count", op = "==",'
                    ' value = 0 }]\n', "utf-8")  # fmt: skip
    with pytest.raises(ConfigError, match="needs a version"):
        load_rules(path, channels=automation_config()["channels"])


def test_a_send_pushed_too_far_by_quiet_hours_is_dropped_as_stale(tmp_path):
    con = home()
    try:
        s = run_triggers(DAY_, con, settings=load_settings(tmp_path), persist=False,
                         stale_hours=9)  # fmt: skip
    finally:
        con.disconnect()
    carts = next(r for r in s["by_rule"] if r["rule"] == "cart_unpaid_24h")
    # due 23:59 and 23:30 the evening before, sendable at 09:00: 9 h 01 and 9 h 30 late
    assert (carts["planned"], carts["suppressed"]) == (0, 2)
    assert s["by_reason"]["stale"] == 2
