"""``[[automation]]`` entries of ``schedules.toml``: run by ``scrm report run-due`` once per
fire time (a missed window once), the export masked and audited, a failure recorded
without stopping the others, a bad entry a one-line error naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from scrm_lib.access.state import read_audit
from scrm_lib.config import load_settings
from scrm_lib.engine import duckdb_connect, register_arrow
from scrm_lib.errors import ConfigError
from scrm_lib.reports.cli import report_app
from scrm_lib.reports.schedule import STATE_FILE, load_schedule, run_due
from tests.social.automation_home import at, local, rows
from tests.value.conftest import order, put

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+8613812345678"
NAME = "欧阳娜娜"

#: Two rules without hold-outs, so who is in the export does not depend on the hash.
RULES = """
version = "s1"
[templates]
T_DORMANT = { channel = "wecom_1v1", text = "老朋友回归礼" }
T_CART = { channel = "wecom_1v1", text = "购物车还在等你" }
[[rule]]
name = "dormant"
channel = ["wecom", "sms"]
template = "T_DORMANT"
holdout = 0
when = [{ orders = "days_since_last", op = ">=", value = 180 }]
[[rule]]
name = "cart"
channel = "wecom"
template = "T_CART"
holdout = 0
when = [{ cart = "unpaid_hours", op = ">=", value = 24 }]
"""

SCHEDULE = """timezone = "Asia/Shanghai"
[[automation]]
name = "daily"
cron = "30 6 * * *"
export = "{fmt}"
[[automation]]
name = "carts"
cron = "30 6 * * *"
export = "json"
rules = ["cart"]
"""


def add_phone_person(con) -> None:
    """The hand-made home plus PHN: a phone account only (SMS granted), a name on file,
    last order 204 days before the run, so the dormant rule reaches them by SMS."""
    acc = f"phone:{PHONE}"
    new = {
        "accounts": [{"account_id": acc, "platform": "phone", "native_id": PHONE,
                      "first_seen": "2025-01-01T00:00:00Z"}],
        "orders": [order(acc, "o-phn", local("2026-05-20 15:00"), 120.0)],
        "identifiers": [{"account_id": acc, "kind": "name", "value": NAME},
                        {"account_id": acc, "kind": "phone", "value": PHONE}],
        "consent": [{"account_id": acc, "channel": "sms", "granted": True, "ts": at(days=30)}],
    }  # fmt: skip
    for table, extra in new.items():
        put(con, table, pd.concat([con.table(table).to_pandas(), pd.DataFrame(extra)]))
    pm = con.table("person_accounts").to_pandas()[["account_id", "person_id"]]
    pm = pd.concat([pm, pd.DataFrame([{"account_id": acc, "person_id": "PHN"}])])
    register_arrow(con, "person_accounts", pa.Table.from_pandas(pm, preserve_index=False))


def home_with(tmp_path, fmt: str = "csv"):
    """A project folder: scrm.toml pointing at RULES, a schedule, settings."""
    (tmp_path / "rules.toml").write_text(RULES, encoding="utf-8")
    (tmp_path / "scrm.toml").write_text('[automation]\nrules_file = "rules.toml"\n', "utf-8")
    schedule = tmp_path / "schedules.toml"
    schedule.write_text(SCHEDULE.format(fmt=fmt), encoding="utf-8")
    return schedule, load_settings(tmp_path)


@pytest.fixture
def con():
    c = duckdb_connect()
    rows(c)
    add_phone_person(c)
    yield c
    c.disconnect()


def read_export(path: Path, fmt: str) -> tuple[pd.DataFrame, str]:
    """The export as a frame and as the text of every cell (for the personal-data check)."""
    if fmt == "csv":
        df = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    elif fmt == "xlsx":
        df = pd.read_excel(path, engine="calamine", dtype=str)
    else:
        df = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    text = path.read_text(encoding="utf-8", errors="ignore") if fmt != "xlsx" else ""
    return df, text + "\n".join(map(str, df.to_numpy().ravel()))


def test_run_due_runs_an_entry_once_per_fire_time_and_json_shows_its_manifest(
    tmp_path, monkeypatch
):
    schedule, _ = home_with(tmp_path)
    wh = tmp_path / "data" / "warehouse" / "scrm.duckdb"
    wh.parent.mkdir(parents=True)
    file_con = duckdb_connect(wh)
    rows(file_con)
    add_phone_person(file_con)
    file_con.disconnect()
    monkeypatch.setenv("SCRM_HOME", str(tmp_path))
    for var in ("SCRM_REPORTS_DIR", "SCRM_WAREHOUSE", "SCRM_STATE_DB"):
        monkeypatch.delenv(var, raising=False)

    def due(now: str) -> list[dict]:
        args = ["run-due", "--schedule", str(schedule), "--now", now, "--json"]
        got = CliRunner().invoke(report_app, args)
        assert got.exit_code == 0, got.output
        return json.loads(got.stdout)

    daily, carts = due("2026-12-10T06:45")
    assert (daily["id"], daily["kind"], daily["status"], daily["error"]) == (
        "daily", "automation", "ok", None)  # fmt: skip
    assert daily["scheduled_for"] == "2026-12-10T06:30:00+08:00"
    assert daily["run_date"] == "2026-12-10" and daily["run_id"] == carts["run_id"]
    reports = tmp_path / "data" / "reports"
    assert daily["path"] == str(reports / "outbox" / "2026-12-10" / "daily.csv")
    assert daily["rows"] == daily["to_send"] == daily["planned"] > carts["rows"] > 0
    assert daily["suppressed"] >= 1 and daily["masked"] and daily["user"] == "scheduler"
    sent = pd.DataFrame(json.loads(Path(carts["path"]).read_text(encoding="utf-8")))
    assert set(sent["rule"]) == {"cart"} and len(sent) == carts["rows"] == carts["to_send"]
    manifest = reports / "outbox" / "2026-12-10" / "daily.manifest.json"
    assert json.loads(manifest.read_text(encoding="utf-8")) == daily
    # called again in the same window, or just before the next: nothing is due
    assert due("2026-12-10T08:00") == []
    assert due("2026-12-11T06:29") == []
    state = json.loads((reports / STATE_FILE).read_text(encoding="utf-8"))
    assert state["automation"]["daily"]["last_fire"] == "2026-12-10T06:30:00+08:00"
    assert state["automation"]["daily"]["status"] == "ok"


def test_a_missed_window_runs_once_for_the_latest_fire_time(tmp_path, con):
    schedule, settings = home_with(tmp_path)
    run_due(schedule, now="2026-12-10T07:00", settings=settings, warehouse=con)
    # the machine was off for three mornings
    done = run_due(schedule, now="2026-12-14T12:00", settings=settings, warehouse=con)
    assert [(r["id"], r["status"]) for r in done] == [("daily", "ok"), ("carts", "ok")]
    assert {r["scheduled_for"] for r in done} == {"2026-12-14T06:30:00+08:00"}
    assert {r["run_date"] for r in done} == {"2026-12-14"}
    days = sorted(p.name for p in (settings.reports_dir / "outbox").iterdir())
    assert days == ["2026-12-10", "2026-12-14"]
    assert run_due(schedule, now="2026-12-14T12:05", settings=settings, warehouse=con) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_the_scheduled_export_is_masked_and_audited(tmp_path, con, fmt):
    schedule, settings = home_with(tmp_path, fmt)
    daily, _ = run_due(schedule, now="2026-12-10T06:30", settings=settings, warehouse=con)
    assert daily["status"] == "ok", daily["error"]
    df, text = read_export(Path(daily["path"]), fmt)
    assert len(df) == daily["rows"]
    # PHN is in the file, reached by SMS, with the phone number and name nowhere in it
    phn = df[df["person_id"] == "PHN"]
    assert phn["channel"].tolist() == ["sms"]
    assert "12345678" not in text and PHONE not in text and NAME not in text
    assert "wecom:d180" in set(df["account_id"])  # opaque ids pass, for the sending tool
    audit = read_audit(path=settings.state_db)
    assert len(audit) == 2  # one per entry
    row = audit[audit["rows"].astype(int) == daily["rows"]].iloc[0]
    assert (row["username"], row["role"], row["action"], row["what"]) == (
        "scheduler", "marketer", "export", "automation_outbox:2026-12-10")  # fmt: skip
    assert row["audit_id"] == daily["audit_id"]


def test_a_failing_entry_is_recorded_and_the_others_still_run(tmp_path, con):
    schedule, settings = home_with(tmp_path)
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    text = schedule.read_text(encoding="utf-8").replace(
        'name = "daily"\n', 'name = "daily"\nfolder = "taken"\n'
    )
    schedule.write_text(text, encoding="utf-8")
    done = run_due(schedule, now="2026-12-10T07:00", settings=settings, warehouse=con)
    assert [(r["id"], r["status"]) for r in done] == [("daily", "failed"), ("carts", "ok")]
    error = done[0]["error"]
    assert (
        error.startswith(("FileExistsError", "NotADirectoryError"))
        and "\n" not in error
        and done[0]["path"] is None
    )
    # attempted counts: a failed entry waits for its next fire time
    assert run_due(schedule, now="2026-12-10T08:00", settings=settings, warehouse=con) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('name = "o"\ncron = "30 6 * * *"\nexprot = "csv"\n', r"\(o\): unknown key\(s\) exprot"),
        ('name = "o"\ncron = "30 25 * * *"\n', r"\(o\): cron '30 25 \* \* \*' is not a valid"),
        ('name = "o"\ncron = "30 6 * * *"\nexport = "pdf"\n', r"\(o\): export 'pdf': use csv"),
        ('name = "o"\ncron = "30 6 * * *"\nrules = ["cart", "nope"]\n',
         r"\(o\): unknown rule\(s\) nope \(not in .*rules.toml\)"),
        ('name = "o"\ncron = "30 6 * * *"\nrules = "cart"\n', r"\(o\): rules must be a list"),
        ('name = "o/../x"\ncron = "30 6 * * *"\n', r"automation #1: name 'o/../x'"),
        ('cron = "30 6 * * *"\n', r"automation #1: name None"),
    ],
)  # fmt: skip
def test_a_bad_automation_entry_is_one_line_naming_it(tmp_path, entry, message):
    _, settings = home_with(tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text(f"[[automation]]\n{entry}", encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as exc:
        load_schedule(path, settings=settings)
    assert "\n" not in str(exc.value) and str(exc.value).startswith(str(path))


def test_two_entries_with_one_name_are_refused(tmp_path):
    _, settings = home_with(tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text('[[automation]]\nname = "o"\ncron = "30 6 * * *"\n' * 2, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"automation #2 \(o\): name 'o' used twice"):
        load_schedule(path, settings=settings)


def test_the_shipped_schedule_exports_the_daily_outbox(tmp_path):
    schedule = load_schedule(ROOT / "schedules.toml", settings=load_settings(tmp_path))
    (entry,) = schedule.automations
    assert (entry.name, entry.cron, entry.export, entry.rules) == (
        "daily_outbox", "30 6 * * *", "xlsx", ())  # fmt: skip
