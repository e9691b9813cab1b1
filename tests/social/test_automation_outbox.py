"""Runs kept per date: idempotent, counted once by later runs; exports masked, formula-safe
and audited; the ``scrm triggers`` commands with ``--json``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from scrm_lib.access.state import read_audit
from scrm_lib.config import load_settings
from scrm_lib.engine import duckdb_connect
from scrm_lib.segments.definitions import PermissionDenied
from scrm_lib.social.automation.outbox import export_outbox, list_runs, outbox, run_triggers
from tests.social.automation_home import DAY_, home, rows


def _outbox(summary) -> pd.DataFrame:
    return pd.read_parquet(summary["path"])


def test_running_a_date_twice_gives_the_same_outbox_and_later_runs_count_it_once(tmp_path):
    con = home()
    try:
        once, twice = load_settings(tmp_path / "a"), load_settings(tmp_path / "b")
        first = run_triggers(DAY_, con, settings=once)
        a = _outbox(first)
        again = run_triggers(DAY_, con, settings=once)
        pd.testing.assert_frame_equal(a, _outbox(again))
        assert {k: v for k, v in first.items()} == {k: v for k, v in again.items()}
        next_a = _outbox(run_triggers("2026-12-11", con, settings=once))
        run_triggers(DAY_, con, settings=twice)
        next_b = _outbox(run_triggers("2026-12-11", con, settings=twice))
    finally:
        con.disconnect()
    pd.testing.assert_frame_equal(next_a, next_b)
    assert list_runs(settings=once)["run_date"].tolist() == ["2026-12-10", "2026-12-11"]
    # the next day, the dormant and live-room persons are still selected, but their
    # rules' windows hold them: planned once, suppressed with the reason after
    row = next_a.set_index(["rule", "person_id"])
    assert row.loc[("dormant_180d", "D180"), "reason"] == "window"
    assert row.loc[("live_buyers_recall_60d", "L60"), "reason"] == "window"


def test_rows_in_equal_planned_plus_suppressed_and_holdouts_are_not_sent(tmp_path):
    con = home()
    try:
        s = run_triggers(DAY_, con, settings=load_settings(tmp_path))
    finally:
        con.disconnect()
    out = _outbox(s)
    assert s["rows_in"] == s["planned"] + s["suppressed"] == len(out)
    assert s["planned"] == s["to_send"] + s["holdout"]
    assert not out.loc[out["arm"] == "holdout", "send"].any()
    for r in s["by_rule"]:
        assert r["rows_in"] == r["planned"] + r["suppressed"]


def test_the_holdout_is_the_experiments_salted_hash(tmp_path):
    from scrm_lib.experiments.assignment import assign
    from scrm_lib.social.automation.outbox import holdout_salt

    con = home()
    try:
        out = _outbox(run_triggers(DAY_, con, settings=load_settings(tmp_path)))
    finally:
        con.disconnect()
    for rule, part in out.groupby("rule"):
        share = 0.0 if rule == "vip_negative_service" else 0.1
        if share == 0:
            assert (part["arm"] == "send").all()
            continue
        a = assign(part["person_id"], experiment=holdout_salt(rule), weights={"send": 1.0},
                   holdout=share)  # fmt: skip
        expected = a["variant"].where(a["variant"] == "holdout", "send").tolist()
        assert part["arm"].tolist() == expected


def test_a_dry_run_keeps_nothing(tmp_path):
    con = home()
    try:
        s = run_triggers(DAY_, con, settings=load_settings(tmp_path), persist=False)
    finally:
        con.disconnect()
    assert s["path"] is None and s["rows_in"] > 0
    assert list_runs(settings=load_settings(tmp_path)).empty


FORMULA_RULES = """
version = "t1"
[templates]
"=HYPERLINK(1)" = { channel = "wecom_1v1", text = "hi" }
[[rule]]
name = "dormant"
channel = "wecom"
template = "=HYPERLINK(1)"
when = [{ orders = "days_since_last", op = ">=", value = 180 }]
"""


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_export_sends_only_rows_to_send_masked_formula_safe_and_audited(tmp_path, fmt):
    settings = load_settings(tmp_path)
    rules = tmp_path / "rules.toml"
    rules.write_text(FORMULA_RULES, encoding="utf-8")
    con = home()
    try:
        s = run_triggers(DAY_, con, settings=settings, rules_file=rules)
    finally:
        con.disconnect()
    path = tmp_path / f"out.{fmt}"
    info = export_outbox(DAY_, out=path, username="mark", role="marketer", settings=settings)
    if fmt == "csv":
        df = pd.read_csv(path, encoding="utf-8-sig")
    elif fmt == "xlsx":
        df = pd.read_excel(path, engine="calamine", dtype=str)
    else:
        df = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    assert info["rows"] == len(df) == s["to_send"] == 1
    assert set(df["person_id"]) == {"D180"}
    assert s["by_reason"] == {"no_account": 1, "opt_out": 1}  # NOACC has no WeCom; OPT opted out
    assert (df["template"] == "'=HYPERLINK(1)").all()
    assert info["masked"]
    audit = read_audit(path=settings.state_db)
    assert audit.iloc[0]["what"] == "automation_outbox:2026-12-10"
    assert audit.iloc[0]["action"] == "export" and int(audit.iloc[0]["rows"]) == 1


def test_viewers_may_not_export_and_marketers_may_not_unmask(tmp_path):
    settings = load_settings(tmp_path)
    with pytest.raises(PermissionDenied):
        export_outbox(DAY_, out=tmp_path / "x.csv", username="v", role="viewer", settings=settings)
    with pytest.raises(PermissionDenied):
        export_outbox(DAY_, out=tmp_path / "x.csv", username="m", role="marketer", unmask=True,
                      settings=settings)  # fmt: skip


def test_a_phone_account_is_masked_in_the_outbox_export(tmp_path):
    from scrm_lib.access.privacy import mask_frame

    df = pd.DataFrame({"account_id": ["phone:+8613812345678", "wecom:wmABC"]})
    masked = mask_frame(df, table="automation_outbox")["account_id"].tolist()
    assert masked[1] == "wecom:wmABC" and "12345678" not in masked[0]


def test_no_run_for_a_date_is_one_line(tmp_path):
    from scrm_lib.errors import ScrmError

    with pytest.raises(ScrmError, match="no outbox for 2026-01-01"):
        outbox("2026-01-01", settings=load_settings(tmp_path))


# ---------------------------------------------------------------- the CLI


def test_the_triggers_commands_with_json(tmp_path, monkeypatch, capsys):
    from tests.social.test_automation_rules import scrm

    wh = tmp_path / "data" / "warehouse" / "scrm.duckdb"
    wh.parent.mkdir(parents=True)
    con = duckdb_connect(wh)
    rows(con)
    con.disconnect()
    monkeypatch.setenv("SCRM_HOME", str(tmp_path))
    code, out, _ = scrm(monkeypatch, capsys, "triggers", "list", "--date", "2026-12-10", "--json")
    assert code == 0
    listed = {r["rule"]: r["audience"] for r in json.loads(out)["rules"]}
    assert listed["cart_unpaid_24h"] == 2
    code, out, _ = scrm(monkeypatch, capsys, "triggers", "run", "--date", "2026-12-10", "--json")
    assert code == 0
    s = json.loads(out)
    assert s["rows_in"] == s["planned"] + s["suppressed"]
    code, out, _ = scrm(monkeypatch, capsys, "triggers", "outbox", "--status", "suppressed",
                        "--json")  # fmt: skip
    assert code == 0 and {r["reason"] for r in json.loads(out)["outbox"]} == {"opt_out"}
    code, out, _ = scrm(monkeypatch, capsys, "triggers", "results", "--json")
    assert code == 0 and json.loads(out)["results"][-1]["rule"] == "all"
    code, _, err = scrm(monkeypatch, capsys, "triggers", "run", "--date", "10/12/2026")
    assert code == 2 and err.strip() == "error: run date '10/12/2026' is not a date (YYYY-MM-DD)"
