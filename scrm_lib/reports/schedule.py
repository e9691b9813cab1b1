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

An ``[[automation]]`` entry runs the automation rules (:mod:`scrm_lib.social.automation`)
for the fire time's date and writes the rows to send for the sending tool, masked as a
marketer's export is, formula-escaped and audited (user ``scheduler``)::

    [[automation]]
    name = "daily_outbox"
    cron = "30 6 * * *"                 # after the morning build, before quiet hours end
    export = "xlsx"                     # csv | xlsx | json (default xlsx)
    rules = []                          # optional: only these rules' rows; empty = every rule
    folder = "outbox"                   # optional, from the home (default <reports_dir>/outbox)

It writes ``<folder>/<date>/<name>.<export>`` and ``<name>.manifest.json`` beside it.
The run itself is always every rule (caps and priorities are decided across rules;
running a date again replaces its outbox); ``rules`` picks which rules' rows the file
carries.

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
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scrm_lib.config import Settings, load_settings
from scrm_lib.errors import ConfigError, ScrmError
from scrm_lib.files import write_atomically

logger = logging.getLogger(__name__)

STATE_FILE = "schedule_state.json"
#: Where scheduled outbox exports go under ``reports_dir`` (not ``automation/``: the
#: automation report's runs live there).
OUTBOX_FOLDER = "outbox"
EXPORT_FORMATS = ("csv", "xlsx", "json")
#: Who a scheduled export is audited as, and the role it is masked for (never unmasked).
SCHEDULER_USER, SCHEDULER_ROLE = "scheduler", "marketer"
_ENTRY_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
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
class ScheduledAutomation:
    """One ``[[automation]]`` entry: run the automation rules, export the rows to send."""

    name: str
    cron: str
    export: str = "xlsx"
    rules: tuple[str, ...] = ()
    folder: str | None = None

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule file: the cron zone, its reports and its automation entries."""

    timezone: str
    reports: tuple[ScheduledReport, ...]
    path: Path | None = None
    automations: tuple[ScheduledAutomation, ...] = ()


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
    automations = _automation_entries(data.get("automation", []), file, settings)
    return Schedule(tz, tuple(reports), file, automations)


def _automation_entries(
    entries: Any, file: Path, settings: Settings | None
) -> tuple[ScheduledAutomation, ...]:
    """The ``[[automation]]`` entries, each checked; a bad one is one line naming it."""
    from croniter import croniter

    if not isinstance(entries, list):
        raise ConfigError(f"{file}: write each automation entry as an [[automation]] table")
    out: list[ScheduledAutomation] = []
    for i, entry in enumerate(entries, start=1):
        where = f"{file}: automation #{i}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: write it as an [[automation]] table")
        name = entry.get("name")
        if not isinstance(name, str) or not _ENTRY_NAME.match(name):
            raise ConfigError(f"{where}: name {name!r}: letters, digits, _ or - (it names a file)")
        where = f"{where} ({name})"
        unknown = set(entry) - {"name", "cron", "export", "rules", "folder"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        cron = entry.get("cron")
        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise ConfigError(f"{where}: cron {cron!r} is not a valid cron expression")
        export = entry.get("export", "xlsx")
        if export not in EXPORT_FORMATS:
            raise ConfigError(f"{where}: export {export!r}: use {', '.join(EXPORT_FORMATS)}")
        rules = entry.get("rules", [])
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise ConfigError(f"{where}: rules must be a list of rule names")
        folder = entry.get("folder")
        if folder is not None and (not isinstance(folder, str) or not folder.strip()):
            raise ConfigError(f"{where}: folder must be a path")
        if any(a.name == name for a in out):
            raise ConfigError(f"{where}: name {name!r} used twice")
        if rules:
            path, known = _rule_names(settings)
            if missing := [r for r in rules if r not in known]:
                raise ConfigError(f"{where}: unknown rule(s) {', '.join(missing)} (not in {path})")
        out.append(ScheduledAutomation(name, cron, export, tuple(rules), folder))
    return tuple(out)


def _rule_names(settings: Settings | None) -> tuple[Path, set[str]]:
    """The configured rules file and the names of its rules (read, not checked: a rule's
    clauses are checked against the warehouse when the entry runs)."""
    from scrm_lib.social.automation.config import automation_config

    path = Path(automation_config(settings or load_settings())["rules_path"])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the automation rules ({exc})") from None
    rules = data.get("rule", [])
    rules = rules if isinstance(rules, list) else []
    return path, {r.get("name") for r in rules if isinstance(r, dict)}


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
        return {"reports": {}, "automation": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScrmError(f"{path}: unreadable schedule state ({exc}); fix or delete it") from None
    data.setdefault("reports", {})
    data.setdefault("automation", {})
    return data


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(state, ensure_ascii=False, indent=2))


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
    return _due(schedule.reports, state.get("reports", {}), schedule.timezone, now)


def due_automations(
    schedule: Schedule, state: dict[str, Any], now: dt.datetime
) -> list[tuple[ScheduledAutomation, dt.datetime]]:
    """Automation entries due at ``now``: the same rule as :func:`due_reports`, kept apart
    in the state file (``automation``), so an entry and a report may share a name.

    Examples
    --------
    >>> s = Schedule("Asia/Shanghai", (), automations=(ScheduledAutomation("o", "30 6 * * *"),))
    >>> now = dt.datetime(2026, 12, 10, 7, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> [(a.id, t.isoformat()) for a, t in due_automations(s, {}, now)]
    [('o', '2026-12-10T06:30:00+08:00')]
    """
    return _due(schedule.automations, state.get("automation", {}), schedule.timezone, now)


def _due(entries: Any, seen_by_id: dict[str, Any], tz: str, now: dt.datetime) -> list[Any]:
    local = now.astimezone(_zone(tz, "schedule"))
    out = []
    for entry in entries:
        fire = last_fire(entry.cron, local)
        seen = seen_by_id.get(entry.id, {}).get("last_fire")
        if seen is None or fire > dt.datetime.fromisoformat(seen):
            out.append((entry, fire))
    return out


# --- automation entries --------------------------------------------------------------


def export_folder(entry: ScheduledAutomation, settings: Settings) -> Path:
    """Where an entry's files go (a date folder below): its ``folder``, relative to the
    home, else ``<reports_dir>/outbox``."""
    if entry.folder is None:
        return settings.reports_dir / OUTBOX_FOLDER
    folder = Path(entry.folder).expanduser()
    return folder if folder.is_absolute() else settings.home / folder


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    return text if isinstance(exc, ScrmError) else f"{type(exc).__name__}: {text}".rstrip(": ")


def _counts(summary: dict[str, Any], rules: tuple[str, ...]) -> dict[str, int]:
    keys = ("planned", "to_send", "holdout", "suppressed")
    if not rules:
        return {k: int(summary[k]) for k in keys}
    parts = [r for r in summary["by_rule"] if r["rule"] in rules]
    return {k: sum(int(r[k]) for r in parts) for k in keys}


def run_automation(
    entry: ScheduledAutomation,
    fire: dt.datetime,
    *,
    settings: Settings | None = None,
    warehouse: Any = None,
    runs: dict[dt.date, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run the automation rules for ``fire``'s date and export its rows to send; never raises.

    The export is the library's (:func:`scrm_lib.social.automation.outbox.export_outbox`):
    rows to send only, masked for the ``marketer`` role, formula-escaped, audited as
    user ``scheduler``. A manifest (the returned dict) is written beside the file as
    ``<name>.manifest.json``.

    Parameters
    ----------
    entry
        From :func:`load_schedule`.
    fire
        The fire time; its date (in the schedule's zone) is the run date.
    warehouse
        A path or an open connection; default: the configured warehouse.
    runs
        Run summaries by date, shared by the entries of one ``run_due`` call so a date
        runs once however many entries export it.

    Returns
    -------
    dict
        ``id, kind, scheduled_for, run_date, rules, format, run_id, status, error, path,
        rows`` (exported), ``planned, to_send, holdout, suppressed`` (of the entry's
        rules), ``masked, audit_id, user, role, duration_s``.
    """
    import time

    from scrm_lib.social.automation.outbox import export_outbox, run_triggers

    cfg = settings or load_settings()
    runs = {} if runs is None else runs
    day = fire.date()
    folder = export_folder(entry, cfg) / day.isoformat()
    started = time.perf_counter()
    result: dict[str, Any] = {
        "id": entry.id, "kind": "automation", "scheduled_for": fire.isoformat(),
        "run_date": day.isoformat(), "rules": list(entry.rules), "format": entry.export,
        "run_id": None, "status": "failed", "error": None, "path": None, "rows": None,
        "planned": None, "to_send": None, "holdout": None, "suppressed": None,
        "masked": True, "audit_id": None, "user": SCHEDULER_USER, "role": SCHEDULER_ROLE,
        "duration_s": None,
    }  # fmt: skip
    try:
        if day not in runs:
            wh = cfg.warehouse if warehouse is None else warehouse
            runs[day] = run_triggers(day, wh, settings=cfg)
        summary = runs[day]
        info = export_outbox(
            day, out=folder / f"{entry.name}.{entry.export}", username=SCHEDULER_USER,
            role=SCHEDULER_ROLE, fmt=entry.export, rules=entry.rules, settings=cfg,  # type: ignore[arg-type]
        )  # fmt: skip
        result.update(
            run_id=summary["run_id"], status="ok", path=info["path"], rows=info["rows"],
            masked=info["masked"], audit_id=info["audit_id"], **_counts(summary, entry.rules),
        )  # fmt: skip
    except Exception as exc:  # one entry's failure is recorded; the others still run
        result["error"] = _one_line(exc)
        if not isinstance(exc, ScrmError):
            logger.exception("run-due: automation %s failed", entry.id)
    result["duration_s"] = round(time.perf_counter() - started, 3)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        manifest = folder / f"{entry.name}.manifest.json"
        manifest.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    except OSError as exc:
        logger.warning("run-due: no manifest for automation %s (%s)", entry.id, exc)
    return result


Runner = Callable[..., dict[str, Any]]


def run_due(
    schedule: str | Path | Schedule | None = None,
    *,
    now: str | dt.datetime | None = None,
    settings: Settings | None = None,
    notebooks_dir: str | Path | None = None,
    runner: Runner | None = None,
    warehouse: Any = None,
) -> list[dict[str, Any]]:
    """Run every due automation entry and report once and record it in
    ``<reports_dir>/schedule_state.json``.

    A run counts when it was attempted: a failed report waits for its next
    fire time rather than being retried on every call (run it by hand with
    ``scrm report run`` once fixed; an automation entry with ``scrm triggers run``
    and ``scrm triggers outbox --export``). Automation entries run first: the
    sends wait on them, and they take seconds where a report takes minutes.

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
    warehouse
        What automation entries read (a path or an open connection); default: the
        configured warehouse.

    Returns
    -------
    list of dict
        One per run. A report: ``id, kind`` ("report"), ``report, scheduled_for,
        parameters, run_id, status, error``; an automation entry: the manifest of
        :func:`run_automation` (``kind`` "automation").

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
        runs: dict[dt.date, dict[str, Any]] = {}
        for entry, fire in due_automations(schedule, state, clock):
            logger.info("run-due: automation %s for %s", entry.id, fire.isoformat())
            result = run_automation(entry, fire, settings=cfg, warehouse=warehouse, runs=runs)
            state["automation"][entry.id] = {
                "last_fire": fire.isoformat(),
                "attempted_at": clock.isoformat(),
                **{k: result[k] for k in ("run_date", "run_id", "status", "error", "path")},
            }
            _write_state(path, state)
            results.append(result)
        for report, fire in due_reports(schedule, state, clock):
            params = resolve_parameters(report.parameters, fire.date())
            logger.info("run-due: %s for %s", report.id, fire.isoformat())
            result = {
                "id": report.id,
                "kind": "report",
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
