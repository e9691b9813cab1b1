"""``scrm segment``: list, show, save and export saved segments.

Example
-------
.. code-block:: bash

    scrm segment save vip --filter '[{"column": "rfm_segment", "op": "in", "value": ["champions"]}]'
    scrm segment columns                  # what a filter can name: columns and tags
    scrm segment preview --filter '[{"tag": "dormant", "op": "has_tag", "value": "lost"}]'
    scrm segment list --json
    scrm segment export vip --out vip.xlsx
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from scrm_lib.cli_common import JsonOpt, WarehouseOpt, emit_json, out, records, show, sub_app

app = sub_app("Saved segments: definitions, versions, membership and audited exports.")
UserOpt = Annotated[
    str | None, typer.Option("--user", help="Who acts (default: $SCRM_USER or the login name).")
]
RoleOpt = Annotated[str, typer.Option("--role", help="viewer, marketer or admin.")]


def _user(user: str | None) -> str:
    return user or os.environ.get("SCRM_USER") or getpass.getuser()


def _state() -> Path:
    from scrm_lib.config import load_settings

    return load_settings().state_db


@app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """Saved segments (latest version of each)."""
    from scrm_lib.segments.definitions import list_segments

    df = list_segments(state_path=_state())
    if as_json:
        emit_json(records(df))
        return
    if df.empty:
        out.print("no saved segments yet: `scrm segment save NAME --filter JSON`")
        return
    show(df[["name", "version", "author", "created_at", "persons", "build_id"]], "segments")


@app.command("show")
def show_cmd(
    name: str,
    version: Annotated[int | None, typer.Option(help="Version (default: latest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """A saved segment's definition, author, build and size."""
    from scrm_lib.segments.definitions import show_segment

    info = show_segment(name, version=version, state_path=_state())
    if as_json:
        emit_json(info)
        return
    for key in ("name", "version", "author", "created_at", "build_id", "persons", "versions"):
        out.print(f"{key}: {info[key]}")
    for f in info["definition"]:
        what = f"tag {f['tag']}" if "tag" in f else f["column"]
        out.print(f"  {what} {f['op']} {f.get('value', '')}")


@app.command("columns")
def columns_cmd(as_json: JsonOpt = False) -> None:
    """What a filter may name: the person marts' filter columns, with their meaning, and the
    person tags (name, source, rule, values) with the tag ops."""
    import pandas as pd

    from scrm_lib.segments.definitions import OPS, TAG_OPS, filter_columns, tag_filters

    df = pd.DataFrame(filter_columns(), columns=["column", "meaning", "mart"])
    tags = tag_filters()
    if as_json:
        emit_json({"columns": records(df), "ops": list(OPS), "tags": tags,
                   "tag_ops": list(TAG_OPS)})  # fmt: skip
        return
    show(df, "segment columns")
    out.print("ops: " + ", ".join(OPS))
    shown = pd.DataFrame(tags, columns=["tag", "source", "rule", "values"])
    shown["values"] = shown["values"].map(lambda v: ", ".join(v) if v else "")
    show(shown, 'segment tags ({"tag": NAME, "op": "has_tag", "value": ...})')
    out.print("tag ops: " + ", ".join(TAG_OPS))


@app.command("preview")
def preview_cmd(
    filters: Annotated[str, typer.Option("--filter", help="Definition: a JSON list of filters.")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Size and value of a definition without saving it."""
    from scrm_lib.segments.definitions import preview

    data = preview(warehouse, filters)
    emit_json(data) if as_json else out.print(data)


@app.command("save")
def save_cmd(
    name: str,
    filters: Annotated[str, typer.Option("--filter", help="Definition: a JSON list of filters.")],
    description: Annotated[str, typer.Option(help="What the segment is for.")] = "",
    user: UserOpt = None,
    role: RoleOpt = "marketer",
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Save a new version of a segment and materialize its members."""
    from scrm_lib.segments.definitions import save_segment

    data = save_segment(name, filters, author=_user(user), role=role, description=description,
                        warehouse=warehouse, state_path=_state())  # fmt: skip
    if as_json:
        emit_json(data)
    else:
        out.print(f"saved {name} v{data['version']}: {data['persons']:,} persons "
                  f"(build {data['build_id']})")  # fmt: skip


@app.command("export")
def export_cmd(
    name: str,
    out_path: Annotated[Path, typer.Option("--out", help="File to write (.csv or .xlsx).")],
    version: Annotated[int | None, typer.Option(help="Version (default: latest).")] = None,
    unmask: Annotated[bool, typer.Option(help="Admins: personal data in clear.")] = False,
    user: UserOpt = None,
    role: RoleOpt = "marketer",
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a saved segment's members: masked unless an admin unmasks; audited."""
    from scrm_lib.segments.definitions import export_segment

    data = export_segment(name, out=out_path, username=_user(user), role=role, version=version,
                          unmask=unmask, warehouse=warehouse, state_path=_state())  # fmt: skip
    if as_json:
        emit_json(data)
    else:
        masked = "masked" if data["masked"] else "UNMASKED"
        out.print(f"wrote {data['rows']:,} rows ({masked}) to {data['path']}")
