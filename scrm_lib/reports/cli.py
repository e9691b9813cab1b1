"""``scrm report``: run report notebooks, list runs, run what a schedule says is due.

Registered in :mod:`scrm_lib.cli` as ``app.add_typer(report_app, name="report")``.
Expected errors (unknown report or parameter, bad schedule) raise
:class:`~scrm_lib.errors.ScrmError`, which ``scrm`` prints as one line; a
report that fails prints its error and exits 1.

Example
-------
.. code-block:: bash

    scrm report run data_health -p max_examples=3
    scrm report run-all                # every report, default parameters, a few at a time
    scrm report list --json
    scrm report run-due --schedule schedules.toml --now 2026-11-23T07:05   # reports and outboxes
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from scrm_lib.cli_common import JsonOpt, sub_app
from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError

report_app = sub_app("Run parameterized report notebooks (papermill) and schedule them.")
# Own consoles rather than scrm_lib.cli's: cli imports this module to register it.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

# Run and build ids are long; squeezed into 80 columns (cron mail, CI logs) a table is unreadable.
TABLE_WIDTH = 130
NotebooksOpt = Annotated[
    Path | None,
    typer.Option("--notebooks", help="Folder of report notebooks (default: ./notebooks)."),
]


def _emit_json(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def parse_pairs(pairs: list[str] | None) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``; a pair without ``=`` is an error."""
    params: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"-p {pair!r}: write parameters as key=value")
        params[key.strip()] = value
    return params


@report_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="Report: a notebook name in notebooks/.")],
    param: Annotated[
        list[str] | None,
        typer.Option("-p", "--param", help="Parameter as key=value (repeat for more)."),
    ] = None,
    show_code: Annotated[
        bool, typer.Option("--show-code", help="Keep code cells in the HTML.")
    ] = False,
    notebooks: NotebooksOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Execute notebooks/NAME.ipynb and write notebook, HTML and manifest to the reports folder."""
    from scrm_lib.reports.runner import run_report

    cfg = load_settings()
    with err.status(f"running report {name}", spinner="dots") if _tty() else _null():
        manifest = run_report(
            name, parse_pairs(param), settings=cfg, notebooks_dir=notebooks, show_code=show_code
        )
    folder = cfg.reports_dir / name / manifest["run_id"]
    if as_json:
        _emit_json({**manifest, "path": str(folder)})
    elif manifest["status"] == "ok":
        out.print(
            f"report {name} ok in {manifest['duration_s']:.1f} s "
            f"(build {manifest['build_id']}): {folder / (manifest['html'] or '')}",
            highlight=False,
        )
    if manifest["status"] != "ok":
        err.print(
            f"error: report {name} failed: {manifest['error']} (notebook kept in {folder})",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(1)


@report_app.command("run-all")
def run_all(
    names: Annotated[
        list[str] | None, typer.Argument(help="Reports to run (default: every notebook).")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Reports at the same time (default: cores).")
    ] = None,
    notebooks: NotebooksOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every report notebook (or NAMES) with its default parameters, a few at a time."""
    import time

    from scrm_lib.reports.runner import run_reports

    cfg = load_settings()
    started = time.perf_counter()

    def done(m: dict[str, Any]) -> None:
        if as_json:
            return
        folder = cfg.reports_dir / m["report"] / m["run_id"]
        if m["status"] == "ok":
            out.print(f"report {m['report']} ok in {m['duration_s']:.1f} s: "
                      f"{folder / (m['html'] or '')}", highlight=False)  # fmt: skip
        else:
            err.print(f"error: report {m['report']} failed: {m['error']} (notebook kept in "
                      f"{folder})", highlight=False, markup=False)  # fmt: skip

    manifests = run_reports(names, jobs=jobs, settings=cfg, notebooks_dir=notebooks, on_done=done)
    failed = [m for m in manifests if m["status"] != "ok"]
    if as_json:
        _emit_json(manifests)
    else:
        out.print(f"{len(manifests) - len(failed)} of {len(manifests)} reports ok in "
                  f"{time.perf_counter() - started:.1f} s", highlight=False)  # fmt: skip
    if failed:
        raise typer.Exit(1)


@report_app.command("list")
def list_(
    report: Annotated[str | None, typer.Option(help="Only this report's runs.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Report runs, newest first: report, run id, status, started, duration, build."""
    from scrm_lib.reports.runner import list_runs

    df = list_runs(load_settings(), report=report).head(limit)
    if as_json:
        df = df.assign(started_at=df["started_at"].map(_iso)).astype(object)
        _emit_json(df.where(df.notna(), None).to_dict(orient="records"))
        return
    if df.empty:
        out.print("no report runs yet")
        return
    table = Table(box=box.SIMPLE_HEAD)
    # report and run id are what people copy into a path: never wrapped
    table.add_column("report", no_wrap=True)
    for title in ("status", "started (UTC)", "duration", "build"):
        table.add_column(title)
    table.add_column("run id", no_wrap=True)
    for r in df.itertuples():
        status = "[green]ok[/green]" if r.status == "ok" else f"[red]{r.status}[/red]"
        duration = "" if pd.isna(r.duration_s) else f"{r.duration_s:.1f} s"
        started = _iso(r.started_at)[:16].replace("T", " ")
        table.add_row(
            r.report,
            status,
            started,
            duration,
            "" if pd.isna(r.build_id) else str(r.build_id),
            r.run_id,
        )
    _print_table(table)


@report_app.command("run-due")
def run_due(
    schedule: Annotated[
        Path | None, typer.Option(help="Schedule file (default: schedules.toml in the home).")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(help="Clock as ISO date-time (naive = schedule's zone); default: now."),
    ] = None,
    notebooks: NotebooksOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run each scheduled report and automation outbox whose latest cron time has not been
    run yet (then record it)."""
    from scrm_lib.reports.schedule import run_due as run

    results = run(schedule, now=now, settings=load_settings(), notebooks_dir=notebooks)
    failed = [r for r in results if r["status"] != "ok"]
    if as_json:
        _emit_json(results)
    elif not results:
        out.print("nothing due")
    else:
        table = Table("job", "kind", "scheduled for", "status", "run id", "file", "error")
        for r in results:
            table.add_row(r["id"], r["kind"], r["scheduled_for"], r["status"], r["run_id"] or "",
                          r.get("path") or "", r["error"] or "")  # fmt: skip
        _print_table(table)
    for r in failed:
        err.print(f"error: {r['kind']} {r['id']} failed: {r['error']}", highlight=False,
                  markup=False)  # fmt: skip
    if failed:
        raise typer.Exit(1)


def _print_table(table: Table) -> None:
    if out.is_terminal:
        out.print(table)
    else:
        Console(soft_wrap=True, width=TABLE_WIDTH).print(table)


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


def _tty() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
