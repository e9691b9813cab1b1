"""``scrm tags``: which tags exist, how many persons carry each, and one person's tags.

Example
-------
.. code-block:: bash

    scrm tags list                # tag, value, source, rule, persons, share
    scrm tags list --json
    scrm tags person P000123 --json
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from scrm_lib.cli_common import JsonOpt, WarehouseOpt, emit_json, out, records, show, sub_app

if TYPE_CHECKING:
    import pandas as pd

app = sub_app("Person tags: every capability's tags, persons per tag, one person's tags.")


@app.command("list")
def list_cmd(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """Every tag and value: its source, rule and version, persons and share of all persons."""
    from scrm_lib.tags.registry import tag_summary

    df = _plain(tag_summary(warehouse))
    if as_json:
        emit_json({"tags": records(df)})
        return
    show(df, "person tags", {"person_share": ".1%", "persons": ","})


@app.command("person")
def person_cmd(
    person_id: Annotated[str, typer.Argument(help="The person id (see `scrm identity`).")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One person's tags: tag, value, source, rule, since."""
    import pandas as pd

    from scrm_lib.tags.registry import person_tags

    df = person_tags(warehouse, person_id=person_id)
    cols = ["tag", "value", "source", "rule", "rule_version", "since", "build_id"]
    df = _plain(df[cols].assign(since=df["since"].map(lambda t: None if pd.isna(t) else str(t))))
    if as_json:
        emit_json({"person_id": person_id, "tags": records(df)})
        return
    if df.empty:
        out.print(f"person {person_id} carries no tags")
        return
    show(df, f"tags of {person_id}")


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Missing values as ``None`` (JSON null, an empty cell), not pandas' ``<NA>``."""
    return df.astype(object).where(df.notna(), None)
