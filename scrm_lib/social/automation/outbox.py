"""Run the rules for a date: the audiences, who to reach where, hold-outs, suppression,
and the outbox kept for the sending tool.

A run for date ``D`` reads only data before ``D``'s local midnight (the run's
instant ``at``), so a past date replays exactly. Every candidate row goes through
:func:`scrm_lib.social.automation.suppression.suppress` and is kept: planned (to send,
or held out) or suppressed with its reason; rows in = planned + suppressed.

Runs are kept as Parquet files in the project's state folder
(``data/state/automation/outbox/<D>.parquet``), not in the warehouse: a build
replaces the warehouse, and what was planned on a day must outlive it, both to count
the frequency cap and windows of later runs and to measure results once the touches
and orders come back. One file per run date makes a run idempotent by construction:
running ``D`` again replaces ``D``'s file, and a run never counts its own date's
earlier file towards caps. The state store's DuckDB file would do as well, but a
file per day is what a sending tool or an analyst picks up without scrm.

Example
-------
>>> from scrm_lib.social.automation import run_triggers, outbox
>>> run_triggers("2026-12-01")["planned"]  # doctest: +SKIP
1834
>>> outbox("2026-12-01", status="planned").head()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.errors import ConfigError, ScrmError
from scrm_lib.files import atomic_path
from scrm_lib.social.automation.conditions import Inputs, audience
from scrm_lib.social.automation.config import automation_config, parse_hhmm
from scrm_lib.social.automation.rules import RuleSet, load_rules
from scrm_lib.social.automation.suppression import suppress

logger = logging.getLogger(__name__)

#: Touches of the outbox come back with this campaign prefix (``auto:<rule>:<date>``);
#: they are counted through the outbox rows, not twice.
CAMPAIGN_PREFIX = "auto:"
ARMS = ("send", "holdout")

#: The outbox's columns, in order (declared as the ``automation_outbox`` mart).
COLUMNS = ["run_date", "run_id", "row_id", "rule", "title", "kind", "priority", "template",
           "campaign", "person_id", "channel", "platform", "account_id", "staff_id", "arm",
           "send", "status", "reason", "evidence", "due_at", "planned_at", "rules_version",
           "build_id"]  # fmt: skip


class AutomationError(ScrmError):
    """An automation run or read that cannot be done (no run for the date, no warehouse)."""


def run_instant(day: dt.date, tz: str) -> int:
    """Local midnight of ``day`` in ``tz`` as epoch seconds: the run's data cut-off.

    Examples
    --------
    >>> run_instant(dt.date(2026, 12, 1), "Asia/Shanghai")
    1796054400
    """
    return int(dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).timestamp())


def _local(day: dt.date, seconds: int, tz: str) -> int:
    t = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
    return int(t.replace(tzinfo=ZoneInfo(tz)).timestamp())


def parse_date(value: Any) -> dt.date:
    """A run date from ``YYYY-MM-DD`` text or a date; a bad one is named."""
    from scrm_lib.value._base import parse_date as parse

    return parse(value, "run date")


def _epoch(col: ir.TimestampValue) -> ir.IntegerValue:
    return col.epoch_seconds().cast("int64")


# ---------------------------------------------------------------- the state folder


def _outbox_dir(cfg: dict[str, Any]) -> Path:
    return Path(cfg["state_path"]) / "outbox"


def _run_file(cfg: dict[str, Any], day: dt.date) -> Path:
    return _outbox_dir(cfg) / f"{day.isoformat()}.parquet"


def read_runs(
    cfg: dict[str, Any],
    *,
    exclude: dt.date | None = None,
    planned_only: bool = False,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Every kept outbox row (all run dates but ``exclude``), or an empty outbox.

    ``planned_only`` and ``columns`` are read from the files as a filter and a
    projection: most rows of a long history are suppressed, and a run needs only the
    planned ones' few columns.
    """
    from scrm_lib.schema import MARTS

    folder = _outbox_dir(cfg)
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    if exclude is not None:
        files = [f for f in files if f.stem != exclude.isoformat()]
    empty = MARTS["automation_outbox"].typed(pd.DataFrame())
    if not files:
        return empty[columns] if columns else empty
    where = [("status", "==", "planned")] if planned_only else None
    parts = [pd.read_parquet(f, columns=columns, filters=where) for f in files]
    return pd.concat(parts, ignore_index=True)


def _write(path: Path, df: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:  # readers see the old file or the new one, never half
        df.to_parquet(tmp, index=False)


# ---------------------------------------------------------------- the pieces of a run


def _candidates(inp: Inputs, rules: RuleSet, cfg: dict[str, Any]) -> pd.DataFrame:
    """One row per rule and selected person: ``rule, person_id, due_at, evidence``."""
    parts = []
    for rule in rules.rules:
        a = audience(inp, rule)
        if rule.send_at == "due":
            due = a.due_at
        else:
            secs = cfg["send_at_s"] if rule.send_at is None else parse_hhmm("send_at", rule.send_at)
            due = ibis.literal(_local(inp.day, secs, cfg["timezone"]), "int64")
        parts.append(a.select("person_id", rule=ibis.literal(rule.name), due_at=due,
                              evidence=a.evidence))  # fmt: skip
    if not parts:
        return pd.DataFrame(columns=["person_id", "rule", "due_at", "evidence"])
    df = inp.con.execute(ibis.union(*parts))
    return df.sort_values(["rule", "person_id"], kind="stable").reset_index(drop=True)


def person_consent(con: Any, pm: ir.Table) -> ir.Table:
    """``person_id, channel, granted, ts`` (epoch): consent rows by person."""
    if "consent" not in con.list_tables():
        none = pm.filter(ibis.literal(False))
        return none.select("person_id", channel=ibis.null("string"), granted=ibis.null("boolean"),
                           ts=ibis.null("int64"))  # fmt: skip
    c = con.table("consent")
    j = c.inner_join(pm, "account_id")
    return j.select("person_id", "channel", "granted", ts=_epoch(j.ts))


def _reach(inp: Inputs, cand: pd.DataFrame, rules: RuleSet, cfg: dict[str, Any]) -> pd.DataFrame:
    """Each candidate's channel and account: the first channel of the rule's list the
    person can be reached on with consent; else the first with an account (the
    suppression step then says why not); else the first."""
    if cand.empty:
        return cand.assign(channel=pd.Series(dtype="string"), account_id=None, platform=None)
    con, at = inp.con, inp.at
    c = ibis.memtable(cand[["row_id", "person_id", "rule"]])
    prefs = ibis.memtable(pd.DataFrame(
        [{"rule": r.name, "channel": ch, "pref": i} for r in rules.rules
         for i, ch in enumerate(r.channels)]))  # fmt: skip
    plats = pd.DataFrame([{"channel": ch, "platform": p} for ch, spec in cfg["channels"].items()
                          for p in spec["platforms"]], columns=["channel", "platform"])  # fmt: skip
    opt_in = [ch for ch, spec in cfg["channels"].items() if spec["opt_in"]] or [""]
    no_account = [ch for ch, spec in cfg["channels"].items() if not spec["platforms"]] or [""]
    acc = con.table("accounts")
    acc = acc.filter(_epoch(acc.first_seen) < at)
    acc = acc.inner_join(inp.pm(), "account_id").select(
        "person_id", "account_id", "platform", fs=_epoch(acc.first_seen)
    )
    acc = acc.inner_join(ibis.memtable(plats.astype("string")), "platform")
    from scrm_lib.social.automation.suppression import latest_consent

    last = latest_consent(person_consent(con, inp.pm()), at)
    opts = c.inner_join(prefs, "rule")
    opts = opts.left_join(acc, [opts.person_id == acc.person_id, opts.channel == acc.channel])
    opts = opts.drop("person_id_right", "channel_right")
    opts = opts.left_join(last, ["person_id", "channel"]).drop("person_id_right", "channel_right")
    reachable = opts.account_id.notnull() | opts.channel.isin(no_account)
    ok = (
        reachable
        & opts.granted.fill_null(True)
        & (~opts.channel.isin(opt_in) | opts.granted.fill_null(False))
    )
    opts = opts.mutate(_ok=ok.cast("int8"), _reach=reachable.cast("int8"))
    best = ibis.row_number().over(
        group_by="row_id",
        order_by=[ibis.desc("_ok"), ibis.desc("_reach"), "pref", ibis.desc("fs"), "account_id"],
    )
    opts = opts.mutate(_n=best)
    chosen = opts.filter(opts._n == 0).select("row_id", "channel", "account_id", "platform")
    df = con.execute(chosen)
    return cand.merge(df, on="row_id", how="left")


def _staff(inp: Inputs, person_ids: pd.Series) -> pd.DataFrame:
    """``person_id, staff_id``: who served the person last before the run, else who
    added them (``channel_acquisition``)."""
    sel = ibis.memtable(pd.DataFrame({"person_id": person_ids.astype(str).unique()}))
    m = inp.messages()
    m = m.filter(m.staff_id.notnull())
    last = m.group_by("person_id").aggregate(msg_staff=m.staff_id.argmax(m.ts))
    t = sel.left_join(last, "person_id").drop("person_id_right")
    if "channel_acquisition" in inp.tables():
        acq = inp.con.table("channel_acquisition").select("person_id", acq_staff="staff_id")
        t = t.left_join(acq, "person_id").drop("person_id_right")
        staff = ibis.coalesce(t.msg_staff, t.acq_staff)
    else:
        staff = t.msg_staff
    return inp.con.execute(t.select("person_id", staff_id=staff))


def _holdout(cand: pd.DataFrame, rules: RuleSet) -> np.ndarray:
    """Each row's arm from the experiments module's salted hash (salt ``automation:<rule>``)."""
    from scrm_lib.experiments.assignment import HOLDOUT, assign

    arm = np.full(len(cand), "send", dtype=object)
    for rule in rules.rules:
        sel = (cand["rule"] == rule.name).to_numpy()
        if rule.holdout <= 0 or not sel.any():
            continue
        a = assign(cand.loc[sel, "person_id"], experiment=holdout_salt(rule.name),
                   weights={"send": 1.0}, holdout=rule.holdout)  # fmt: skip
        arm[sel] = np.where(a["variant"].to_numpy() == HOLDOUT, "holdout", "send")
    return arm


def holdout_salt(rule: str) -> str:
    """The salt a rule's hold-out is drawn with: ``assign(person_ids, experiment=salt,
    weights={"send": 1.0}, holdout=share)`` reproduces it anywhere (a generator too).

    Examples
    --------
    >>> holdout_salt("birthday")
    'automation:birthday'
    """
    return f"automation:{rule}"


#: What a run reads of the kept runs (their planned rows).
HISTORY_COLUMNS = ["person_id", "channel", "kind", "rule", "status", "planned_at"]


def _history(inp: Inputs, kept: pd.DataFrame, cfg: dict[str, Any]) -> pd.DataFrame:
    """Messages sent or planned before: touches (marketing, the outbox's own left out,
    counted through their rows) and every planned row of other runs, both arms."""
    cols = ["person_id", "channel", "kind", "rule", "ts"]
    parts = []
    if "touches" in inp.tables():
        t = inp.con.table("touches")
        t = t.filter(~t.campaign.fill_null("").startswith(CAMPAIGN_PREFIX))
        # quotas look back a month at most, the cap cap_days; windows read outbox rows only
        since = inp.at - max(cfg["cap_days"], 32) * 86_400
        t = t.filter((_epoch(t.ts) < inp.at) & (_epoch(t.ts) >= since))
        t = t.inner_join(inp.pm(), "account_id")
        parts.append(inp.con.execute(t.select(
            "person_id", "channel", kind=ibis.literal("marketing"), rule=ibis.null("string"),
            ts=_epoch(t.ts))))  # fmt: skip
    if len(kept):
        k = kept[kept["status"] == "planned"]
        ts = pd.to_datetime(k["planned_at"], utc=True)
        parts.append(pd.DataFrame({
            "person_id": k["person_id"], "channel": k["channel"], "kind": k["kind"],
            "rule": k["rule"], "ts": (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1),
        }))  # fmt: skip
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "ts" else "string") for c in cols})
    return pd.concat(parts, ignore_index=True)[cols]


def _build_id(con: Any) -> str | None:
    from scrm_lib.segments.definitions import _build_id as latest

    return latest(con)


def _ts(s: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.to_numeric(s), unit="s", utc=True).astype("datetime64[us, UTC]")


def _plan(inp: Inputs, *, cfg: dict[str, Any], rules: RuleSet, kept: pd.DataFrame) -> pd.DataFrame:
    """Candidates, reach, staff, arms and suppression of one run (see :func:`plan`)."""
    con, at, day = inp.con, inp.at, inp.day
    cand = _candidates(inp, rules, cfg)
    cand["row_id"] = day.isoformat() + ":" + cand["rule"] + ":" + cand["person_id"].astype(str)
    cand = _reach(inp, cand, rules, cfg)
    staff = _staff(inp, cand["person_id"]) if len(cand) else pd.DataFrame(
        columns=["person_id", "staff_id"])  # fmt: skip
    cand = cand.merge(staff, on="person_id", how="left")
    by_name = {r.name: r for r in rules.rules}
    cand["kind"] = cand["rule"].map(lambda n: by_name[n].kind)
    cand["priority"] = cand["rule"].map(lambda n: by_name[n].priority).astype("int64")
    cand["window_days"] = cand["rule"].map(lambda n: by_name[n].window_days).astype("int64")
    cand["template"] = cand["rule"].map(lambda n: by_name[n].template)
    cand["title"] = cand["rule"].map(lambda n: by_name[n].title)
    cand["arm"] = _holdout(cand, rules)
    return suppress(cand, _history(inp, kept, cfg), person_consent(con, inp.pm()), at=at, cfg=cfg)


def plan(
    con: Any, day: dt.date, *, cfg: dict[str, Any], rules: RuleSet, kept: pd.DataFrame
) -> pd.DataFrame:
    """The outbox of ``day`` on an open warehouse: every candidate row, planned or
    suppressed (the computation :func:`run_triggers` keeps)."""
    from scrm_lib.schema import MARTS

    at = run_instant(day, cfg["timezone"])
    with Inputs(con, at, day) as inp:
        out = _plan(inp, cfg=cfg, rules=rules, kept=kept)
    out["send"] = (out["status"] == "planned") & (out["arm"] == "send")
    out["campaign"] = CAMPAIGN_PREFIX + out["rule"] + ":" + day.isoformat()
    out["run_date"] = day.isoformat()
    out["rules_version"] = rules.version
    out["build_id"] = _build_id(con)
    out["due_at"] = _ts(out["due_at"].fillna(at))
    out["planned_at"] = _ts(out["planned_at"])
    key = json.dumps(
        [day.isoformat(), rules.version, out["build_id"].iloc[0] if len(out) else None]
    )
    out["run_id"] = hashlib.sha256(key.encode()).hexdigest()[:12]
    out = out.sort_values(["priority", "rule", "person_id"], kind="stable")
    return MARTS["automation_outbox"].typed(out.reset_index(drop=True))


def run_triggers(
    date: str | dt.date,
    warehouse: Warehouse = None,
    *,
    settings: Settings | None = None,
    rules_file: str | Path | None = None,
    persist: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Run every rule for ``date``: the outbox, kept in the state folder, and its counts.

    Parameters
    ----------
    date
        The run date (``YYYY-MM-DD``): data before its local midnight is read, sends
        are planned from then on. Running a date again replaces its outbox.
    warehouse
        A path, an open connection, or None for the configured warehouse.
    rules_file
        A rules TOML (default: ``[automation] rules_file``, else the shipped rules).
    persist
        False: compute and return the counts without keeping the outbox (a dry run).
    overrides
        ``[automation]`` settings for this run (``cap_messages=3``).

    Returns
    -------
    dict
        ``run_date, run_id, rows_in, planned, to_send, holdout, suppressed``, counts
        ``by_rule`` and ``by_reason``, the outbox ``path``.

    Raises
    ------
    ConfigError
        A bad date, setting or rule (one line naming the rule and the file).

    Examples
    --------
    >>> run_triggers("2026-12-01", persist=False)["rows_in"]  # doctest: +SKIP
    2410
    """
    day = parse_date(date)
    settings = settings or load_settings()
    cfg = automation_config(settings, rules_file=str(rules_file) if rules_file else None,
                            **overrides)  # fmt: skip
    with using(warehouse) as con:
        rules = load_rules(cfg["rules_path"], channels=cfg["channels"], con=con)
        kept = read_runs(cfg, exclude=day, planned_only=True, columns=HISTORY_COLUMNS)
        out = plan(con, day, cfg=cfg, rules=rules, kept=kept)
    path = _run_file(cfg, day)
    if persist:
        _write(path, out)
    return summarize(out) | {"path": str(path) if persist else None,
                             "rules_version": rules.version}  # fmt: skip


def summarize(out: pd.DataFrame) -> dict[str, Any]:
    """Counts of an outbox: rows in = planned + suppressed; planned = to send + hold-out."""
    planned = out["status"] == "planned"
    by_rule = []
    for rule, g in out.groupby("rule", sort=True):
        p = g["status"] == "planned"
        by_rule.append({"rule": str(rule), "rows_in": len(g), "planned": int(p.sum()),
                        "to_send": int(g["send"].sum()),
                        "holdout": int((p & (g["arm"] == "holdout")).sum()),
                        "suppressed": int((~p).sum())})  # fmt: skip
    reasons = out.loc[~planned, "reason"].value_counts().sort_index()
    return {
        "run_date": str(out["run_date"].iloc[0]) if len(out) else None,
        "run_id": str(out["run_id"].iloc[0]) if len(out) else None,
        "rows_in": len(out),
        "planned": int(planned.sum()),
        "to_send": int(out["send"].sum()),
        "holdout": int((planned & (out["arm"] == "holdout")).sum()),
        "suppressed": int((~planned).sum()),
        "by_rule": by_rule,
        "by_reason": {str(k): int(v) for k, v in reasons.items()},
    }


def outbox(
    date: str | dt.date | None = None,
    *,
    status: Literal["planned", "suppressed"] | None = None,
    rule: str | None = None,
    to_send: bool = False,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """A kept outbox (default: the latest run date), unmasked: mask before showing.

    Parameters
    ----------
    status
        Only planned or only suppressed rows.
    to_send
        Only the rows the sending tool should send (planned, not held out).

    Examples
    --------
    >>> outbox("2026-12-01", to_send=True)[["person_id", "channel", "planned_at"]]  # doctest: +SKIP
    """
    cfg = automation_config(settings)
    if date is None:
        runs = list_runs(settings=settings)
        if runs.empty:
            raise AutomationError("no automation runs yet; run `scrm triggers run --date D`")
        date = runs["run_date"].iloc[-1]
    day = parse_date(date)
    path = _run_file(cfg, day)
    if not path.exists():
        raise AutomationError(f"no outbox for {day}; run `scrm triggers run --date {day}`")
    df = pd.read_parquet(path)
    if status is not None:
        if status not in ("planned", "suppressed"):
            raise ConfigError(f"status {status!r}: planned or suppressed")
        df = df[df["status"] == status]
    if rule is not None:
        df = df[df["rule"] == rule]
    if to_send:
        df = df[df["send"].astype(bool)]
    return df.reset_index(drop=True)


def list_runs(*, settings: Settings | None = None) -> pd.DataFrame:
    """One row per kept run date: counts, rules version and build (oldest first).

    Examples
    --------
    >>> list_runs()[["run_date", "planned", "suppressed"]]  # doctest: +SKIP
    """
    cfg = automation_config(settings)
    folder = _outbox_dir(cfg)
    rows = []
    for f in sorted(folder.glob("*.parquet")) if folder.exists() else []:
        df = pd.read_parquet(f)
        s = summarize(df)
        rows.append({"run_date": f.stem, "run_id": s["run_id"], "rows_in": s["rows_in"],
                     "planned": s["planned"], "to_send": s["to_send"], "holdout": s["holdout"],
                     "suppressed": s["suppressed"],
                     "rules_version": df["rules_version"].iloc[0] if len(df) else None,
                     "build_id": df["build_id"].iloc[0] if len(df) else None})  # fmt: skip
    cols = ["run_date", "run_id", "rows_in", "planned", "to_send", "holdout", "suppressed",
            "rules_version", "build_id"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


#: What an export for the sending tool carries (the evidence stays in scrm).
EXPORT_COLUMNS = ["row_id", "campaign", "rule", "template", "channel", "platform", "account_id",
                  "staff_id", "person_id", "planned_at", "priority", "reason_sent"]  # fmt: skip


def export_outbox(
    date: str | dt.date | None = None,
    *,
    out: str | Path,
    username: str,
    role: str,
    fmt: Literal["csv", "xlsx", "json"] | None = None,
    unmask: bool = False,
    rules: list[str] | tuple[str, ...] | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Write the rows to send of a kept outbox as CSV, XLSX or JSON: masked, formula-safe,
    audited.

    Only rows to send (planned, not held out) go out; ``rules`` keeps those of some
    rules only (a team's share of the outbox; empty or None: every rule). Accounts are
    masked as everywhere (opaque WeCom and WeChat ids pass, so the sending tool can
    address them; a phone account is masked unless an admin unmasks, audited as such).

    Raises
    ------
    PermissionDenied
        The role may not export, or may not unmask.

    Examples
    --------
    >>> export_outbox("2026-12-01", out="o.csv", username="mark", role="marketer")  # doctest: +SKIP
    {'rows': 1650, 'path': 'outbox.csv', 'masked': True, ...}
    """
    from scrm_lib.access import privacy
    from scrm_lib.access.state import record_audit
    from scrm_lib.segments.definitions import check_export

    check_export(role, unmask=unmask)
    path = Path(out)
    kind = fmt or path.suffix.lstrip(".").lower()
    privacy.check_format(kind)
    rows = outbox(date, to_send=True, settings=settings)
    run_date = str(rows["run_date"].iloc[0]) if len(rows) else str(date)
    if rules:
        rows = rows[rows["rule"].isin(list(rules))]
    df = rows.assign(reason_sent=rows["evidence"])[EXPORT_COLUMNS]
    privacy.write_export(df, path, fmt=kind, unmask=unmask, table="automation_outbox")
    detail = {"format": kind, "unmasked": bool(unmask), "path": str(path)}
    audit_id = record_audit(
        username, "export", f"automation_outbox:{run_date}", rows=len(df), role=role,
        detail=detail | ({"rules": sorted(rules)} if rules else {}),
        path=settings.state_db if settings is not None else None,
    )  # fmt: skip
    return {"rows": len(df), "path": str(path), "format": kind, "masked": not unmask,
            "audit_id": audit_id}  # fmt: skip


def outbox_summary(
    date: str | dt.date | None = None, *, settings: Settings | None = None
) -> dict[str, Any]:
    """Counts of a kept outbox (default: the latest run): rows in, planned, to send,
    hold-out, suppressed, per rule and per suppression reason.

    Examples
    --------
    >>> outbox_summary("2026-12-01")["by_reason"]  # doctest: +SKIP
    {'frequency_cap': 120, 'no_account': 2418, 'opt_out': 134, 'quota': 299}
    """
    return summarize(outbox(date, settings=settings))
