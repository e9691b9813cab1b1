"""Schedules: relative dates checked by hand, due logic on an injected clock, run-due end to end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pytest
from typer.testing import CliRunner

from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError, ScrmError
from scrm_lib.reports.cli import report_app
from scrm_lib.reports.runner import coerce_parameters, notebook_parameters
from scrm_lib.reports.schedule import (
    STATE_FILE,
    Schedule,
    ScheduledReport,
    last_fire,
    load_schedule,
    resolve_parameters,
    resolve_token,
    run_due,
)

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")

# --- relative dates (calendar checked by hand: 2026-01-01 is a Thursday, 2026-11-23 a Monday) ---


@pytest.mark.parametrize(
    ("on", "week"),
    [
        (dt.date(2026, 11, 25), ("2026-11-16", "2026-11-22")),  # Wednesday
        (dt.date(2026, 11, 23), ("2026-11-16", "2026-11-22")),  # Monday: last week is complete
        (dt.date(2026, 11, 22), ("2026-11-09", "2026-11-15")),  # Sunday: this week is not
        (dt.date(2026, 1, 1), ("2025-12-22", "2025-12-28")),  # across the year end
        (dt.date(2024, 3, 4), ("2024-02-26", "2024-03-03")),  # across a leap February
    ],
)
def test_last_complete_week(on, week):
    assert resolve_token("last_complete_week", on) == week
    assert resolve_token("last_complete_week.start", on) == week[0]
    assert resolve_token("last_complete_week.end", on) == week[1]


@pytest.mark.parametrize(
    ("on", "month"),
    [
        (dt.date(2026, 3, 1), ("2026-02-01", "2026-02-28")),
        (dt.date(2024, 3, 31), ("2024-02-01", "2024-02-29")),
        (dt.date(2026, 1, 10), ("2025-12-01", "2025-12-31")),
    ],
)
def test_last_complete_month(on, month):
    assert resolve_token("last_complete_month", on) == month


def test_single_day_tokens():
    on = dt.date(2026, 3, 1)
    assert resolve_token("today", on) == "2026-03-01"
    assert resolve_token("yesterday", on) == "2026-02-28"
    assert resolve_token("7_days_ago", on) == "2026-02-22"
    assert resolve_token("1_day_ago", on) == "2026-02-28"
    for not_a_token in ("tmall", "next_week", "last_complete_week.middle", "today.start", ""):
        assert resolve_token(not_a_token, on) is None


def test_resolve_parameters_expands_ranges():
    got = resolve_parameters(
        {"week": "last_complete_week", "day": "yesterday", "platform": "tmall", "n": 3},
        dt.date(2026, 11, 23),
    )
    assert got == {
        "week_start": "2026-11-16",
        "week_end": "2026-11-22",
        "day": "2026-11-22",
        "platform": "tmall",
        "n": 3,
    }


def test_last_fire_counts_the_current_minute():
    at_seven = dt.datetime(2026, 11, 23, 7, 0, 30, tzinfo=SHANGHAI)
    assert last_fire("0 7 * * MON", at_seven) == dt.datetime(2026, 11, 23, 7, 0, tzinfo=SHANGHAI)
    before = dt.datetime(2026, 11, 23, 6, 59, 59, tzinfo=SHANGHAI)
    assert last_fire("0 7 * * MON", before) == dt.datetime(2026, 11, 16, 7, 0, tzinfo=SHANGHAI)


# --- due logic with an injected clock and runner --------------------------------------


class FakeRunner:
    """Records calls instead of starting a kernel."""

    def __init__(self, status: str = "ok") -> None:
        self.calls: list[tuple[str, dict, str]] = []
        self.status = status

    def __call__(self, name, parameters, *, settings, notebooks_dir, scheduled_for):
        self.calls.append((name, dict(parameters), scheduled_for))
        return {"run_id": f"run-{len(self.calls)}", "status": self.status, "error": None}


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path).with_overrides(reports_dir=tmp_path / "reports")


WEEKLY = Schedule(
    "Asia/Shanghai",
    (ScheduledReport("weekly", "weekly", "0 7 * * MON", {"week": "last_complete_week"}),),
)


def test_run_due_twice_runs_nothing_the_second_time(settings):
    runner = FakeRunner()
    now = "2026-11-23T07:05"  # naive: the schedule's zone
    first = run_due(WEEKLY, now=now, settings=settings, runner=runner)
    assert [r["status"] for r in first] == ["ok"]
    assert runner.calls == [
        (
            "weekly",
            {"week_start": "2026-11-16", "week_end": "2026-11-22"},
            "2026-11-23T07:00:00+08:00",
        )
    ]
    assert run_due(WEEKLY, now=now, settings=settings, runner=runner) == []
    assert run_due(WEEKLY, now="2026-11-29T23:59", settings=settings, runner=runner) == []
    assert len(runner.calls) == 1
    state = json.loads((settings.reports_dir / STATE_FILE).read_text())
    assert state["reports"]["weekly"]["last_fire"] == "2026-11-23T07:00:00+08:00"
    assert state["reports"]["weekly"]["run_id"] == "run-1"


def test_missed_weeks_run_once_for_the_latest_window(settings):
    runner = FakeRunner()
    run_due(WEEKLY, now="2026-11-02T08:00", settings=settings, runner=runner)
    # the machine was off for three Mondays
    done = run_due(WEEKLY, now="2026-11-25T12:00", settings=settings, runner=runner)
    assert len(done) == 1
    assert runner.calls[-1][1] == {"week_start": "2026-11-16", "week_end": "2026-11-22"}
    assert done[0]["scheduled_for"] == "2026-11-23T07:00:00+08:00"
    assert run_due(WEEKLY, now="2026-11-25T12:01", settings=settings, runner=runner) == []
    assert len(runner.calls) == 2


def test_dates_resolve_in_the_schedule_zone(settings):
    runner = FakeRunner()
    # Sunday 23:30 UTC is Monday 07:30 in Shanghai: Monday's run, last week = 16–22 Nov
    run_due(WEEKLY, now="2026-11-22T23:30:00+00:00", settings=settings, runner=runner)
    assert runner.calls[0][1] == {"week_start": "2026-11-16", "week_end": "2026-11-22"}


def test_failed_runs_count_as_attempted(settings):
    runner = FakeRunner(status="failed")
    assert (
        run_due(WEEKLY, now="2026-11-23T07:05", settings=settings, runner=runner)[0]["status"]
        == "failed"
    )
    assert run_due(WEEKLY, now="2026-11-23T08:05", settings=settings, runner=runner) == []


def test_a_report_with_bad_parameters_does_not_stop_the_others(settings):
    def runner(name, parameters, **kwargs):
        if name == "broken":
            raise ConfigError("report broken: unknown parameter 'x'")
        return {"run_id": "r", "status": "ok", "error": None}

    both = Schedule(
        "UTC",
        (
            ScheduledReport("broken", "broken", "0 * * * *", {"x": 1}),
            ScheduledReport("fine", "fine", "0 * * * *"),
        ),
    )
    done = run_due(both, now="2026-11-23T07:05", settings=settings, runner=runner)
    assert [(r["id"], r["status"]) for r in done] == [("broken", "failed"), ("fine", "ok")]
    assert "unknown parameter" in done[0]["error"]


# --- schedule files --------------------------------------------------------------------


def write(tmp_path, text):
    path = tmp_path / "schedules.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[report]]\nname = "a"\ncron = "61 * * * *"\n', "not a valid cron"),
        ('[[report]]\ncron = "0 7 * * MON"\n', "missing name"),
        ('[[report]]\nname = "a"\ncron = "0 7 * * *"\n' * 2, "used twice"),
        ('[[report]]\nname = "a"\ncron = "0 7 * * *"\nparams = {}\n', "unknown key"),
        ('timezone = "Mars/Olympus"\n', "unknown time zone"),
        ("[[report]\n", "not valid TOML"),
    ],
)
def test_bad_schedule_files(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_schedule(write(tmp_path, text))


def test_repo_schedule_names_real_notebooks_with_valid_parameters(settings):
    schedule = load_schedule(ROOT / "schedules.toml", settings=settings)
    assert schedule.reports, "the example schedule lists at least one report"
    for report in schedule.reports:
        notebook = ROOT / "notebooks" / f"{report.name}.ipynb"
        assert notebook.exists(), notebook
        params = resolve_parameters(report.parameters, dt.date(2026, 11, 23))
        coerce_parameters(report.name, notebook_parameters(notebook), params)  # raises if not


def test_run_due_end_to_end_through_the_command(tmp_path, monkeypatch):
    """A real notebook through `scrm report run-due`: runs once, then nothing is due."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell('week_start = "2026-01-05"\nweek_end = "2026-01-11"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(week_start, week_end)")]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, str(tmp_path / "notebooks" / "weekly.ipynb"))
    schedule = write(
        tmp_path,
        'timezone = "Asia/Shanghai"\n[[report]]\nname = "weekly"\ncron = "0 7 * * MON"\n'
        'parameters = { week = "last_complete_week" }\n',
    )
    monkeypatch.setenv("SCRM_HOME", str(tmp_path))
    monkeypatch.setenv("SCRM_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("SCRM_WAREHOUSE", str(tmp_path / "none.duckdb"))
    args = ["run-due", "--schedule", str(schedule), "--now", "2026-11-24T09:00", "--json"]
    first = CliRunner().invoke(report_app, args)
    assert first.exit_code == 0, first.output
    (result,) = json.loads(first.stdout)
    assert result["status"] == "ok"
    manifest = json.loads(
        (tmp_path / "reports" / "weekly" / result["run_id"] / "manifest.json").read_text()
    )
    assert manifest["parameters"] == {"week_start": "2026-11-16", "week_end": "2026-11-22"}
    assert manifest["scheduled_for"] == "2026-11-23T07:00:00+08:00"
    second = CliRunner().invoke(report_app, args)
    assert second.exit_code == 0 and json.loads(second.stdout) == []
    assert len(list((tmp_path / "reports" / "weekly").iterdir())) == 1


def test_now_must_be_iso(settings):
    with pytest.raises(ScrmError, match="not an ISO date-time"):
        run_due(WEEKLY, now="next monday", settings=settings, runner=FakeRunner())
