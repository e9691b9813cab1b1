"""Which reports are due, from a TOML schedule and a small state file; no daemon.

A system scheduler (cron, Airflow, a CI timer) calls ``scrm report run-due``
as often as it likes; each call runs the reports whose most recent cron fire
time is later than the fire time they last ran for, then records it. Calling
it twice runs nothing the second time, and a report whose window was missed
(machine off for a week) runs once, for its latest fire time, not once per
missed fire.

The schedule file::

    timezone = "Asia/Shanghai"          # zone of the cron fields (default: settings)

    [[report]]
    name = "data_health"
    cron = "0 7 * * MON"                # Mondays 07:00
    parameters = { max_examples = 5 }

    [[report]]
    name = "weekly_kpis"
    id = "weekly_kpis_tmall"            # optional: two entries for one notebook
    cron = "0 8 * * MON"
    parameters = { week = "last_complete_week", platform = "tmall" }

Parameter values may be relative-date tokens, resolved at the run's
scheduled time (in the schedule's zone): ``today``, ``yesterday``,
``N_days_ago``, and the ranges ``last_complete_week`` (the Monday–Sunday ISO
week before the one holding the scheduled time) and ``last_complete_month``.
A range given to parameter ``week`` fills ``week_start`` and ``week_end``;
``last_complete_week.start`` / ``.end`` pick one end for a single parameter.

Example
-------
>>> import datetime as dt
>>> resolve_token("last_complete_week", dt.date(2026, 11, 25))
('2026-11-16', '2026-11-22')
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scrm_lib.config import Settings, load_settings
from scrm_lib.errors import ConfigError, ScrmError

logger = logging.getLogger(__name__)

STATE_FILE = "schedule_state.json"
_DAYS_AGO = re.compile(r"^(\d+)_days?_ago$")
RANGES = ("last_complete_week", "last_complete_month")
SINGLE = ("today", "yesterday")


@dataclass(frozen=True)
class ScheduledReport:
    """One ``[[report]]`` entry of the schedule file."""

    id: str
    name: str
    cron: str
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule file: the cron zone and its reports."""

    timezone: str
    reports: tuple[ScheduledReport, ...]
    path: Path | None = None


# --- relative dates ------------------------------------------------------------------


def resolve_token(token: str, on: dt.date) -> str | tuple[str, str] | None:
    """The date(s) a relative-date token means on day ``on``; None when not a token.

    Parameters
    ----------
    token
        ``today``, ``yesterday``, ``N_days_ago``, ``last_complete_week``,
        ``last_complete_month``, or a range token with ``.start`` / ``.end``.
    on
        The scheduled day (in the schedule's zone).

    Returns
    -------
    str, (str, str) or None
        An ISO date, a (first, last) pair for ranges, or None.

    Examples
    --------
    >>> resolve_token("yesterday", dt.date(2026, 3, 1))
    '2026-02-28'
    >>> resolve_token("last_complete_month", dt.date(2026, 3, 1))
    ('2026-02-01', '2026-02-28')
    >>> resolve_token("last_complete_week.end", dt.date(2026, 11, 23))
    '2026-11-22'
    """
    base, _, end = token.partition(".")
    if end and (base not in RANGES or end not in ("start", "end")):
        return None
    if base == "today":
        return on.isoformat()
    if base == "yesterday":
        return (on - dt.timedelta(days=1)).isoformat()
    match = _DAYS_AGO.match(base)
    if match:
        return (on - dt.timedelta(days=int(match.group(1)))).isoformat()
    if base == "last_complete_week":
        this_monday = on - dt.timedelta(days=on.weekday())
        first, last = this_monday - dt.timedelta(days=7), this_monday - dt.timedelta(days=1)
    elif base == "last_complete_month":
        last = on.replace(day=1) - dt.timedelta(days=1)
        first = last.replace(day=1)
    else:
        return None
    pair = (first.isoformat(), last.isoformat())
    if end:
        return pair[0] if end == "start" else pair[1]
    return pair


def resolve_parameters(parameters: dict[str, Any], on: dt.date) -> dict[str, Any]:
    """Replace relative-date tokens in ``parameters`` by dates as of day ``on``.

    A range token under ``key`` becomes ``key_start`` and ``key_end``; other
    values pass through unchanged.

    Examples
    --------
    >>> resolve_parameters({"week": "last_complete_week", "n": 3}, dt.date(2026, 11, 23))
    {'week_start': '2026-11-16', 'week_end': '2026-11-22', 'n': 3}
    """
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        resolved = resolve_token(value, on) if isinstance(value, str) else None
        if isinstance(resolved, tuple):
            out[f"{key}_start"], out[f"{key}_end"] = resolved
        elif resolved is not None:
            out[key] = resolved
        else:
            out[key] = value
    return out


# --- schedule file -------------------------------------------------------------------


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown time zone {name!r}") from None


def load_schedule(path: str | Path, *, settings: Settings | None = None) -> Schedule:
    """Read and check a schedule file (cron expressions, names, parameter tables).

    Raises
    ------
    ConfigError
        Missing file, bad TOML, a report without ``name`` or ``cron``, a cron
        expression croniter cannot read, two entries with one id.

    Examples
    --------
    >>> load_schedule("schedules.toml").reports[0].cron  # doctest: +SKIP
    '0 7 * * MON'
    """
    from croniter import croniter

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"no schedule file at {file}")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    tz = data.get("timezone") or (settings or load_settings()).timezone
    _zone(tz, str(file))
    entries = data.get("report", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{file}: write each report as a [[report]] table")
    reports: list[ScheduledReport] = []
    for i, entry in enumerate(entries, start=1):
        where = f"{file}: report #{i}"
        name, cron = entry.get("name"), entry.get("cron")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: missing name")
        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise ConfigError(f"{where} ({name}): cron {cron!r} is not a valid cron expression")
        params = entry.get("parameters", {})
        if not isinstance(params, dict):
            raise ConfigError(f"{where} ({name}): parameters must be a table")
        unknown = set(entry) - {"name", "id", "cron", "parameters"}
        if unknown:
            raise ConfigError(f"{where} ({name}): unknown key(s) {', '.join(sorted(unknown))}")
        rid = str(entry.get("id") or name)
        if any(r.id == rid for r in reports):
            raise ConfigError(f"{where}: id {rid!r} used twice; give one entry an `id`")
        reports.append(ScheduledReport(rid, name, cron, dict(params)))
    return Schedule(tz, tuple(reports), file)


def last_fire(cron: str, now: dt.datetime) -> dt.datetime:
    """The most recent time ``cron`` fired at or before ``now`` (aware, in ``now``'s zone).

    Examples
    --------
    >>> tz = ZoneInfo("Asia/Shanghai")
    >>> last_fire("0 7 * * MON", dt.datetime(2026, 11, 25, 9, 0, tzinfo=tz)).isoformat()
    '2026-11-23T07:00:00+08:00'
    """
    from croniter import croniter

    # Cron has minute resolution: a fire at exactly this minute counts as "at or
    # before now", which croniter's get_prev (strictly before) would skip.
    minute = now.replace(second=0, microsecond=0)
    if croniter.match(cron, minute):
        return minute
    return croniter(cron, minute).get_prev(dt.datetime)


def parse_now(value: str | dt.datetime | None, timezone: str) -> dt.datetime:
    """An aware datetime for ``value`` (ISO text or datetime; naive means ``timezone``).

    Examples
    --------
    >>> parse_now("2026-11-23T07:00", "Asia/Shanghai").isoformat()
    '2026-11-23T07:00:00+08:00'
    """
    zone = _zone(timezone, "schedule")
    if value is None:
        return dt.datetime.now(zone)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"now: {value!r} is not an ISO date-time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(zone)


# --- state ---------------------------------------------------------------------------


def state_path(settings: Settings | None = None) -> Path:
    """``<reports_dir>/schedule_state.json``."""
    return (settings or load_settings()).reports_dir / STATE_FILE


def read_state(path: Path) -> dict[str, Any]:
    """The state file's content (empty when there is none yet)."""
    if not path.exists():
        return {"reports": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScrmError(f"{path}: unreadable schedule state ({exc}); fix or delete it") from None
    data.setdefault("reports", {})
    return data


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    # Two overlapping run-due calls (a slow report, a cron every minute) must
    # not both run the same report.
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScrmError(f"another `scrm report run-due` holds {path}; try later") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- due logic -----------------------------------------------------------------------


def due_reports(
    schedule: Schedule, state: dict[str, Any], now: dt.datetime
) -> list[tuple[ScheduledReport, dt.datetime]]:
    """Reports whose latest fire time at or before ``now`` is newer than the one they last ran for.

    Parameters
    ----------
    schedule
        From :func:`load_schedule`.
    state
        From :func:`read_state`.
    now
        An aware datetime.

    Returns
    -------
    list of (ScheduledReport, fire time)
        In schedule order; the fire time is aware, in the schedule's zone.

    Examples
    --------
    >>> s = Schedule("UTC", (ScheduledReport("r", "r", "0 7 * * MON"),))
    >>> now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    >>> [(r.id, t.isoformat()) for r, t in due_reports(s, {"reports": {}}, now)]
    [('r', '2026-11-23T07:00:00+00:00')]
    """
    local = now.astimezone(_zone(schedule.timezone, "schedule"))
    out = []
    for report in schedule.reports:
        fire = last_fire(report.cron, local)
        seen = state.get("reports", {}).get(report.id, {}).get("last_fire")
        if seen is None or fire > dt.datetime.fromisoformat(seen):
            out.append((report, fire))
    return out


Runner = Callable[..., dict[str, Any]]


def run_due(
    schedule: str | Path | Schedule | None = None,
    *,
    now: str | dt.datetime | None = None,
    settings: Settings | None = None,
    notebooks_dir: str | Path | None = None,
    runner: Runner | None = None,
) -> list[dict[str, Any]]:
    """Run every due report once and record it in ``<reports_dir>/schedule_state.json``.

    A run counts when it was attempted: a failed report waits for its next
    fire time rather than being retried on every call (run it by hand with
    ``scrm report run`` once fixed).

    Parameters
    ----------
    schedule
        A schedule file (default ``<home>/schedules.toml``) or a parsed :class:`Schedule`.
    now
        The clock (ISO text or datetime; naive means the schedule's zone); default: now.
    settings
        Paths; default: :func:`load_settings`.
    notebooks_dir
        Where the notebooks are.
    runner
        Runs one report (default :func:`scrm_lib.reports.runner.run_report`); tests inject one.

    Returns
    -------
    list of dict
        One per report run: ``id, report, scheduled_for, parameters, run_id,
        status, error``.

    Examples
    --------
    >>> run_due("schedules.toml", now="2026-11-23T07:05")  # doctest: +SKIP
    [{'id': 'data_health', 'report': 'data_health', 'status': 'ok', ...}]
    """
    cfg = settings or load_settings()
    if not isinstance(schedule, Schedule):
        schedule = load_schedule(schedule or cfg.home / "schedules.toml", settings=cfg)
    if runner is None:
        from scrm_lib.reports.runner import run_report as runner
    clock = parse_now(now, schedule.timezone)
    path = state_path(cfg)
    results = []
    with _lock(path.with_suffix(".lock")):
        state = read_state(path)
        for report, fire in due_reports(schedule, state, clock):
            params = resolve_parameters(report.parameters, fire.date())
            logger.info("run-due: %s for %s", report.id, fire.isoformat())
            result = {
                "id": report.id,
                "report": report.name,
                "scheduled_for": fire.isoformat(),
                "parameters": params,
                "run_id": None,
                "status": "failed",
                "error": None,
            }
            try:
                manifest = runner(
                    report.name,
                    params,
                    settings=cfg,
                    notebooks_dir=notebooks_dir,
                    scheduled_for=fire.isoformat(),
                )
                result.update(
                    run_id=manifest.get("run_id"),
                    status=manifest.get("status"),
                    error=manifest.get("error"),
                )
            except ScrmError as exc:  # bad parameters in the schedule: record, go on with the rest
                result["error"] = str(exc)
            state["reports"][report.id] = {
                "report": report.name,
                "last_fire": fire.isoformat(),
                "attempted_at": clock.isoformat(),
                "run_id": result["run_id"],
                "status": result["status"],
                "error": result["error"],
            }
            _write_state(path, state)  # after each run, so a crash loses at most one record
            results.append(result)
    return results
