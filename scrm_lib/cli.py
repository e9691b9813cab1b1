"""The ``scrm`` command: the build's own sub-commands, then one per capability.

Every command has ``--help`` and ``--json``; expected errors print one line
to stderr and exit non-zero; progress shows on a terminal and stays quiet
when output is not a TTY or ``CI`` is set.

A capability adds its Typer ``app`` to :data:`CAPABILITIES` (one line); its
``cli`` module imports heavy things inside the commands, so that ``scrm
--help`` stays quick.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from scrm_lib.churn.cli import app as churn_app
from scrm_lib.cli_common import JsonOpt, WarehouseOpt, emit_json, err, out
from scrm_lib.config import (
    Settings,
    check_master,
    check_memory,
    load_settings,
    normalize_engine,
)
from scrm_lib.errors import ScrmError
from scrm_lib.experiments.cli import app as experiments_app
from scrm_lib.identity.cli import app as identity_app
from scrm_lib.reports.cli import report_app
from scrm_lib.segments.cli import app as segments_app
from scrm_lib.social.automation.cli import app as triggers_app
from scrm_lib.social.channels.cli import app as channels_app
from scrm_lib.social.conversations.cli import app as messages_app
from scrm_lib.social.referrals.cli import app as referrals_app
from scrm_lib.tags.cli import app as tags_app
from scrm_lib.value.cli import app as value_app

#: The build's own commands: generate, ingest, build, status, audit, users.
core = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

#: Capability sub-commands, ``scrm <name> ...``: one line per capability.
CAPABILITIES: list[tuple[str, typer.Typer]] = [
    ("report", report_app),
    ("identity", identity_app),
    ("ab", experiments_app),
    ("value", value_app),
    ("segment", segments_app),
    ("churn", churn_app),
    ("tags", tags_app),
    ("channels", channels_app),
    ("messages", messages_app),
    ("referrals", referrals_app),
    ("triggers", triggers_app),
]


def scrm_app() -> typer.Typer:
    """The ``scrm`` command: the build's commands, then every app in :data:`CAPABILITIES`.

    Assembled when asked for (``scrm_lib.cli.app`` is this), so a capability
    appended to the list is a sub-command without another edit.
    """
    app = typer.Typer(
        name="scrm",
        help="scrm: social e-commerce CRM workbench (ingest, build, analyse).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.add_typer(core)
    for name, sub in CAPABILITIES:
        app.add_typer(sub, name=name)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return scrm_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


RawOpt = Annotated[Path | None, typer.Option("--raw", help="Raw area (default from config).")]


def interactive() -> bool:
    """Show progress only to a person at a terminal."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def settings(**overrides: Any) -> Settings:
    return load_settings().with_overrides(**overrides)


def _progress(total: int | None, label: str):
    from rich.progress import Progress

    progress = Progress(console=err, transient=True, disable=not interactive())
    task = progress.add_task(label, total=total)
    return progress, task


@core.command()
def generate(
    persons: Annotated[int, typer.Option(help="Number of persons to simulate.")] = 20000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 42,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("data/sample"),
    start: Annotated[str, typer.Option(help="First day of simulated activity.")] = "2024-11-01",
    end: Annotated[str, typer.Option(help="Last day of simulated activity.")] = "2026-10-31",
    as_json: JsonOpt = False,
) -> None:
    """Write realistic platform exports (OUT/exports) and their ground truth (OUT/truth)."""
    from scrm_lib.sample.generator import generate as run

    with err.status("generating sample data", spinner="dots") if interactive() else _null():
        summary = run(persons, seed=seed, out=out_dir, start=start, end=end)
    if as_json:
        emit_json(summary)
        return
    files = summary.get("files", {})
    table = Table("file", "rows", title=f"sample: {persons:,} persons, seed {seed}")
    for name, rows in files.items():
        table.add_row(str(name), f"{rows:,}" if isinstance(rows, int) else str(rows))
    out.print(table)
    out.print(f"exports in {out_dir / 'exports'}, ground truth in {out_dir / 'truth'}")


@core.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders to add.", show_default=False)
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Force a format (preset name or TOML path).")
    ] = None,
    raw: RawOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; copy nothing.")] = False,
    suggest: Annotated[
        Path | None,
        typer.Option(
            "--suggest-preset",
            metavar="FILE",
            help="Draft a preset TOML for FILE from its header and first rows (nothing added).",
        ),
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="With --suggest-preset: write the draft here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check export files and add them to the raw area (rows accepted / rejected per file)."""
    from scrm_lib.ingest.raw_area import add_files

    cfg = settings(raw_dir=raw)
    if suggest is not None:
        _suggest_preset(suggest, out_path, as_json, cfg)
        return
    if not paths:
        raise ScrmError("ingest: give files or folders to add, or --suggest-preset FILE")
    progress, task = _progress(None, "checking files")
    with progress:
        results = add_files(
            paths,
            raw_dir=cfg.raw_dir,
            preset=preset,
            dry_run=dry_run,
            settings=cfg,
            on_file=lambda c: progress.update(task, advance=1, description=Path(c.file).name),
        )
    failed = [r for r in results if r.status == "error"]
    if as_json:
        emit_json({"raw_dir": str(cfg.raw_dir), "files": [r.to_dict() for r in results]})
    else:
        table = Table("file", "format", "status", "rows in", "accepted", "rejected")
        for r in results:
            table.add_row(
                Path(r.file).name,
                r.format or "-",
                r.status,
                f"{r.rows_in:,}",
                f"{r.accepted:,}",
                f"{r.rejected:,}",
            )
        out.print(table)
        for r in failed:
            err.print(f"error: {r.error}", highlight=False)
            if "matches no preset" in str(r.error):
                err.print(
                    f"hint: `scrm ingest --suggest-preset {r.file}` drafts a preset for it",
                    highlight=False,
                    markup=False,
                )
    if not results:
        raise ScrmError("no input files found in " + ", ".join(map(str, paths)))
    if failed:
        raise typer.Exit(1)


def _suggest_preset(path: Path, out_path: Path | None, as_json: bool, cfg: Settings) -> None:
    from scrm_lib.ingest.suggest import suggest_preset

    if out_path is not None and out_path.exists():
        raise ScrmError(f"{out_path} already exists: remove it or choose another --out")
    s = suggest_preset(path, settings=cfg)
    if out_path is not None:
        out_path.write_text(s.toml, encoding="utf-8")
    if as_json:
        emit_json({**s.to_dict(), "out": str(out_path) if out_path else None})
        return
    if out_path is None:
        typer.echo(s.toml, nl=False)  # plain text: rich would read [columns] as markup
    guesses = sum(1 for c in s.columns if c.field and c.how != "alias")
    err.print(
        f"draft from preset {s.base} ({s.overlap} of {len(s.columns)} headers shared); "
        f"{guesses} column guesses and {sum(1 for c in s.columns if not c.field)} unmapped "
        f"columns to check (CONFIRM)" + (f"; written to {out_path}" if out_path else ""),
        highlight=False,
        markup=False,
    )


@core.command()
def build(
    raw: RawOpt = None,
    warehouse: WarehouseOpt = None,
    engine: Annotated[
        str | None, typer.Option(help="duckdb (default) or spark (alias pyspark).")
    ] = None,
    master: Annotated[
        str | None,
        typer.Option(
            help="Spark master for --engine spark: local[N] (default local[2]) or a "
            "cluster's URL, e.g. spark://HOST:7077."
        ),
    ] = None,
    executor_memory: Annotated[
        str | None,
        typer.Option(help="Memory per Spark executor for --engine spark, e.g. 4g."),
    ] = None,
    steps: Annotated[
        str | None,
        typer.Option(help="Build steps after the tables, comma-separated (default all; 'none')."),
    ] = None,
    train_churn: Annotated[
        bool,
        typer.Option(
            "--train-churn",
            help="Train the churn model on this build's data, then score with it "
            "(what `scrm churn train` and a second build would do).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build the warehouse from the raw area and publish it atomically.

    With --engine spark the canonical tables are made on Spark and the build
    publishes a Parquet warehouse folder ([engine] warehouse_path, default
    data/warehouse/spark); the steps that run on Spark (`scrm status` lists them
    under runs) run there too, the others on DuckDB on this machine.
    """
    from scrm_lib.warehouse.build import build as run

    chosen = None if engine is None else normalize_engine(engine)
    cfg = settings(
        raw_dir=raw,
        warehouse=warehouse,
        spark_master=None if master is None else check_master(master),
        spark_executor_memory=None
        if executor_memory is None
        else check_memory(executor_memory, "--executor-memory"),
    )
    spark_only = {"--master": master, "--executor-memory": executor_memory}
    for flag, given in spark_only.items():
        if given is not None and (chosen or cfg.engine) != "pyspark":
            raise ScrmError(f"{flag} {given} is for the Spark engine: add --engine spark")
    if train_churn:
        churn = {**cfg.extra.get("churn", {}), "train_in_build": True}
        cfg = cfg.with_overrides(extra={**cfg.extra, "churn": churn})
    progress, task = _progress(None, "building")
    with progress:
        result = run(
            raw_dir=cfg.raw_dir,
            # unset: the build picks the engine's warehouse (a file, or the Spark folder)
            warehouse=None if warehouse is None else cfg.warehouse,
            settings=cfg,
            engine=chosen,
            progress=lambda msg: progress.update(task, description=str(msg)),
            steps=None if steps is None else [s for s in steps.split(",") if s not in ("", "none")],
        )
    data = result.to_dict() if hasattr(result, "to_dict") else dict(vars(result))
    if as_json:
        emit_json(data)
        return
    where = data.get("warehouse")
    version = f" (version {data['version']})" if data.get("version") else ""
    out.print(f"published build {data.get('build_id')} to {where}{version}", highlight=False)
    if where is not None and Path(where) != cfg.warehouse:
        err.print(
            f"note: readers open {cfg.warehouse}; to read this build, pass --warehouse {where} "
            'or set the engine in scrm.toml ([engine] name = "spark")',
            highlight=False,
            markup=False,
        )


@core.command()
def status(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """Last build, rows per table, per input file, refused files and rejects by reason."""
    from scrm_lib.warehouse.build import status as run

    cfg = settings(warehouse=warehouse)
    data = run(cfg.warehouse, state_db=cfg.state_db)
    if as_json:
        emit_json(data)
        return
    _print_status(data)


FILE_COLUMNS = ("file", "format", "rows_in", "accepted", "rejected", "duplicates")
REFUSED_COLUMNS = ("file", "by", "reason", "refused_at")


users_app = typer.Typer(help="Dashboard users and their roles (viewer, marketer, admin).")
core.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="viewer, marketer or admin.")] = "viewer",
    password: Annotated[
        str | None,
        typer.Option(help="Password (asked for when omitted; or set SCRM_PASSWORD)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user (or change their password and role); passwords are stored bcrypt-hashed."""
    from scrm_lib.access.users import add_user

    secret = password or os.environ.get("SCRM_PASSWORD")
    if secret is None:
        if not sys.stdin.isatty():
            raise ScrmError("no password: pass --password or set SCRM_PASSWORD")
        secret = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    user = add_user(username, secret, role=role, name=name, path=settings().users_file)
    emit_json(user) if as_json else out.print(f"user {username} ({role}) saved")


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """List users and roles."""
    from scrm_lib.access.users import list_users

    users = list_users(path=settings().users_file)
    if as_json:
        emit_json(users)
        return
    table = Table("username", "name", "role")
    for u in users:
        table.add_row(u["username"], u["name"], u["role"])
    out.print(table)


@users_app.command("remove")
def users_remove(username: str, as_json: JsonOpt = False) -> None:
    """Remove a user."""
    from scrm_lib.access.users import remove_user

    remove_user(username, path=settings().users_file)
    emit_json({"removed": username}) if as_json else out.print(f"user {username} removed")


@core.command()
def audit(
    limit: Annotated[int, typer.Option(help="How many rows, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Show the audit log: exports and admin edits (who, when, what, rows)."""
    from scrm_lib.access.state import read_audit

    df = read_audit(limit=limit, path=settings().state_db)
    if as_json:
        emit_json(df.to_dict(orient="records"))
        return
    table = Table("ts", "username", "role", "action", "what", "rows", "build_id")
    for row in df.itertuples():
        table.add_row(
            str(row.ts)[:19],
            row.username,
            str(row.role),
            row.action,
            row.what,
            _fmt(row.rows),
            str(row.build_id),
        )
    out.print(table)


def _print_status(data: dict) -> None:
    last = data.get("last_build") or {}
    out.print(f"[bold]warehouse[/bold] {data.get('warehouse')}  build {last.get('build_id')}")
    if data.get("storage") == "parquet":
        out.print(
            f"parquet folder, version {data.get('version')}; engine {data.get('engine')} "
            f"on {data.get('master')}",
            highlight=False,
        )
    for part, where in (data.get("runs") or {}).items():
        out.print(f"  {part}: {where}", highlight=False, markup=False)
    for title, key, cols in (
        ("tables", "tables", None),
        ("input files", "inputs", FILE_COLUMNS),
        ("refused files (not in the warehouse)", "refused", REFUSED_COLUMNS),
        ("rejects by reason", "rejects", None),
        ("build steps (notes: what was skipped and why)", "steps", ("step", "status", "notes")),
    ):
        rows = data.get(key) or []
        if isinstance(rows, dict):
            rows = [{"name": k, "rows": v} for k, v in rows.items()]
        if not rows:
            continue
        names = list(cols or rows[0].keys())
        table = Table(*names, title=title)
        for row in rows:
            table.add_row(
                *(_tail(_fmt(row.get(n))) if n == "file" else _fmt(row.get(n)) for n in names)
            )
        out.print(table)


def _tail(path: str, width: int = 48) -> str:
    # a file outside the raw area is shown by its full path: keep its name, not its root
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(map(str, value))
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main() -> None:
    """Entry point: run the app, turning expected errors into one line and an exit code."""
    logging.basicConfig(level=os.environ.get("SCRM_LOG_LEVEL", "WARNING"), format="%(message)s")
    try:
        scrm_app()()
    except ScrmError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
