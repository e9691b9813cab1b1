"""``scrm triggers``: automation rules, runs, outboxes and their results.

Example
-------
.. code-block:: bash

    scrm triggers list --date 2026-12-01
    scrm triggers run --date 2026-12-01
    scrm triggers outbox --date 2026-12-01 --status suppressed
    scrm triggers outbox --date 2026-12-01 --export outbox.csv --user mark --role marketer
    scrm triggers results --since 2026-11-01 --json

Daily, an ``[[automation]]`` entry in ``schedules.toml`` does the run and the export
(``scrm report run-due``, see :mod:`scrm_lib.reports.schedule`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scrm_lib.cli_common import JsonOpt, WarehouseOpt, emit_json, out, records, show, sub_app

app = sub_app("Automation: rules, a daily outbox that respects consent, caps, quiet hours "
              "and quotas, and results against hold-outs.")  # fmt: skip

DateOpt = Annotated[str | None, typer.Option("--date", help="Run date YYYY-MM-DD.")]
RulesOpt = Annotated[
    Path | None, typer.Option("--rules", help="Rules TOML (default: configured or shipped).")
]


@app.command("list")
def list_cmd(
    date: DateOpt = None, rules: RulesOpt = None, warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """The rules; with --date, the persons each selects on that date (before suppression)."""
    from scrm_lib.social.automation.analysis import automation_rules

    df = automation_rules(warehouse, date=date, rules_file=rules)
    if as_json:
        emit_json({"rules": records(df)})
        return
    cols = ["rule", "title", "kind", "channels", "template", "priority", "holdout",
            "window_days", *(["audience"] if "audience" in df else [])]  # fmt: skip
    show(df[cols], f"automation rules (version {df['rules_version'].iloc[0] if len(df) else '-'})",
         {"holdout": ".0%"})  # fmt: skip


@app.command("run")
def run_cmd(
    date: Annotated[str, typer.Option("--date", help="Run date YYYY-MM-DD.")],
    rules: RulesOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, keep nothing.")] = False,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every rule for a date and keep its outbox (running a date again replaces it)."""
    import pandas as pd

    from scrm_lib.social.automation.outbox import run_triggers

    s = run_triggers(date, warehouse, rules_file=rules, persist=not dry_run)
    if as_json:
        emit_json(s)
        return
    out.print(f"run {s['run_date']} ({s['run_id']}): rows in {s['rows_in']} = planned "
              f"{s['planned']} (to send {s['to_send']}, hold-out {s['holdout']}) + suppressed "
              f"{s['suppressed']}")  # fmt: skip
    if s["by_rule"]:
        show(pd.DataFrame(s["by_rule"]), "by rule")
    if s["by_reason"]:
        out.print(f"suppressed by reason: {s['by_reason']}")
    if s["path"]:
        out.print(f"outbox: {s['path']}")


@app.command("outbox")
def outbox_cmd(
    date: DateOpt = None,
    status: Annotated[str | None, typer.Option(help="planned or suppressed.")] = None,
    rule: Annotated[str | None, typer.Option(help="One rule.")] = None,
    export: Annotated[
        Path | None, typer.Option(help="Write rows to send: .csv/.xlsx/.json")
    ] = None,
    user: Annotated[str, typer.Option(help="Who exports (audited).")] = "cli",
    role: Annotated[str, typer.Option(help="Role: viewer, marketer or admin.")] = "marketer",
    unmask: Annotated[bool, typer.Option(help="Admins: accounts in clear.")] = False,
    top: Annotated[int, typer.Option(help="Rows to print.")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """A kept outbox (default: the latest run), masked; or export its rows to send."""
    from scrm_lib.access.privacy import mask_frame
    from scrm_lib.social.automation.outbox import export_outbox, outbox

    if export is not None:
        info = export_outbox(date, out=export, username=user, role=role, unmask=unmask)
        if as_json:
            emit_json(info)
            return
        how = "masked" if info["masked"] else "UNMASKED"
        out.print(f"wrote {info['rows']} rows to {info['path']} ({how}, audit {info['audit_id']})")
        return
    df = mask_frame(outbox(date, status=status, rule=rule), table="automation_outbox")  # type: ignore[arg-type]
    if as_json:
        emit_json({"outbox": records(df)})
        return
    cols = ["rule", "person_id", "channel", "account_id", "arm", "status", "reason",
            "planned_at", "evidence"]  # fmt: skip
    show(df[cols].head(top), f"outbox ({len(df)} rows)")


@app.command("results")
def results_cmd(
    since: Annotated[str | None, typer.Option(help="First run date.")] = None,
    until: Annotated[str | None, typer.Option(help="Last run date.")] = None,
    rule: Annotated[str | None, typer.Option(help="One rule.")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per rule: sends, opens, clicks, conversion by arm, uplift against the hold-out."""
    from scrm_lib.social.automation.results import automation_results

    df = automation_results(warehouse, since=since, until=until, rule=rule)
    if as_json:
        emit_json({"results": records(df)})
        return
    if df.empty:
        out.print("no automation runs yet; run `scrm triggers run --date D`")
        return
    cols = ["rule", "send_units", "holdout_units", "maturing", "sent", "open_rate",
            "conversion_send", "conversion_holdout", "uplift", "uplift_lo", "uplift_hi",
            "p_value"]  # fmt: skip
    fmt = {c: ".1%" for c in ("open_rate", "conversion_send", "conversion_holdout", "uplift",
                              "uplift_lo", "uplift_hi")}  # fmt: skip
    show(df[cols], "automation results", fmt | {"p_value": ".3f"})
