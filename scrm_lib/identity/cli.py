"""``scrm identity``: explain merges, record overrides, score against a truth, report.

Listed in :data:`scrm_lib.cli.CAPABILITIES`. Overrides go to the state
store and take effect at the next ``scrm build``.

Example
-------
.. code-block:: bash

    scrm identity explain youzan:+8613812345678
    scrm identity split tmall:tb_x --reason "shared account" --user ann
    scrm identity split tmall:tb_x douyin:d1 --reason "two people" --user ann   # never link
    scrm identity link wechat:o1 tmall:tb_x --reason "confirmed by phone" --user ann
    scrm identity evaluate --truth sample/truth --json
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from scrm_lib.cli_common import JsonOpt, WarehouseOpt, sub_app
from scrm_lib.errors import ScrmError

app = sub_app("OneID: why accounts are one person, overrides, evaluation and reports.")
out = Console(soft_wrap=True)

ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept with the override).")]
UserOpt = Annotated[
    str | None, typer.Option("--user", help="Who decides (default: $USER).", show_default=False)
]


def _emit(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def _con(warehouse: Path | None) -> Any:
    from scrm_lib.engine import open_warehouse

    return open_warehouse(warehouse)


def _table(df: pd.DataFrame, title: str) -> None:
    t = Table(title=title)
    for c in df.columns:
        t.add_column(str(c))
    shown = df.astype(object).where(df.notna(), "")
    for row in shown.itertuples(index=False):
        t.add_row(*(str(v) for v in row))
    out.print(t)


def _user(user: str | None) -> str:
    name = user or os.environ.get("USER") or os.environ.get("USERNAME")
    if not name:
        raise ScrmError("who decides? pass --user")
    return name


@app.command()
def explain(
    key: Annotated[str, typer.Argument(help="Account id, person id, phone or name.")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print why the accounts of a person were joined (rule and identifier, or probability)."""
    from scrm_lib.identity.ledger import explain as _explain

    res = _explain(_con(warehouse), key)
    if as_json:
        _emit(res)
        return
    out.print(f"person [bold]{res['person_id']}[/bold]: {len(res['accounts'])} account(s)")
    _table(pd.DataFrame(res["accounts"]), "accounts")
    if not res["edges"]:
        out.print("no edge: a single account")
        return
    from scrm_lib.access.privacy import mask_text
    from scrm_lib.identity.ledger import edge_evidence

    e = pd.DataFrame(res["edges"])
    e["evidence"] = edge_evidence(e)
    for col in ("a", "b"):  # Youzan account ids are phones
        e[col] = mask_text(e[col].astype("string"))
    _table(e[["a", "b", "stage", "rule", "evidence", "used"]], "edges (ledger)")


@app.command()
def split(
    account: Annotated[str, typer.Argument(help="Account to detach from its person.")],
    other: Annotated[
        str | None, typer.Argument(help="With a second account: never link the two.")
    ] = None,
    reason: ReasonOpt = "",
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a split (one account) or a never-link pair (two); applied at the next build."""
    from scrm_lib.identity.overrides import add_override

    action = "never_link" if other else "split"
    oid = add_override(action, account, other, reason=reason, username=_user(user))
    res = {"override_id": oid, "action": action, "account_a": account, "account_b": other}
    _emit(res) if as_json else out.print(f"{action} recorded ({oid}); run `scrm build`")


@app.command()
def link(
    account_a: Annotated[str, typer.Argument(help="First account.")],
    account_b: Annotated[str, typer.Argument(help="Second account.")],
    reason: ReasonOpt = "",
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a force-link of two accounts; applied at the next build."""
    from scrm_lib.identity.overrides import add_override

    oid = add_override("force_link", account_a, account_b, reason=reason, username=_user(user))
    res = {
        "override_id": oid,
        "action": "force_link",
        "account_a": account_a,
        "account_b": account_b,
    }
    _emit(res) if as_json else out.print(f"force_link recorded ({oid}); run `scrm build`")


@app.command()
def overrides(as_json: JsonOpt = False) -> None:
    """List recorded overrides (never-link, force-link, split)."""
    from scrm_lib.identity.overrides import read_overrides

    df = read_overrides()
    if as_json:
        _emit(df.to_dict(orient="records"))
    else:
        _table(df, "identity overrides")


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="Ground-truth folder (accounts.csv).")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score the persons against a ground truth: pairwise P/R/F1 and B-cubed."""
    from scrm_lib.identity.evaluate import evaluate as _evaluate

    res = _evaluate(_con(warehouse), truth)
    if as_json:
        _emit(res)
        return
    _table(pd.DataFrame({"metric": list(res), "value": list(res.values())}), "evaluation")


@app.command()
def report(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """Recognition rate, platform-pair overlap, hubs, merges and splits since the last build."""
    from scrm_lib.identity import ledger
    from scrm_lib.identity.evaluate import stage_report

    con = _con(warehouse)
    res = {
        "summary": ledger.summary(con),
        "recognition": ledger.recognition(con).to_dict(orient="records"),
        "changes": ledger.changes(con).to_dict(orient="records"),
        "stages": stage_report(con),
    }
    if as_json:
        _emit(res)
        return
    s = res["summary"]
    out.print(
        f"{s['persons']:,} persons from {s['platform_accounts']:,} platform accounts; "
        f"recognition rate {s['recognition_rate']:.1%}; hubs {s['hubs']}; "
        f"merges {s['merges']}, splits {s['splits']} since the last build"
    )
    for st in res["stages"]:
        why = st["reason"] or f"{st['records']:,} records"
        out.print(f"{st['stage']} stage: {st['mode']} ({why})")
    rec = pd.DataFrame(res["recognition"])
    if len(rec):
        rec["rate"] = rec["rate"].map("{:.1%}".format)
        _table(rec, "recognition by platform pair")


@app.command()
def hubs(
    scope: Annotated[
        str | None,
        typer.Option(
            "--scope",
            help="account_key (one account, many buyers: a counter phone) or identifier "
            "(a value on too many accounts); default both.",
            show_default=False,
        ),
    ] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hubs, flagged and never linking: shared account keys and shared identifiers."""
    from scrm_lib.identity import ledger

    con = _con(warehouse)
    if as_json:
        _emit(ledger.hubs(con, scope).to_dict(orient="records"))
        return
    titles = {
        "account_key": "account keys shared by many buyers (orders go to their recipients)",
        "identifier": "hub identifiers (shared by more accounts than the hub limit)",
    }
    for name in [scope] if scope else list(titles):
        df = ledger.hubs(con, name)
        if len(df) or scope:
            _table(df, titles[name])


@app.command()
def timeline(
    key: Annotated[str, typer.Argument(help="Person id, account id, phone or name.")],
    limit: Annotated[int, typer.Option("--limit", help="Newest rows to show.")] = 50,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One person's journey across platforms, in time order."""
    from scrm_lib.access.privacy import mask_text
    from scrm_lib.identity.person360 import timeline as _timeline

    df = _timeline(key, warehouse=warehouse, limit=limit)
    df["detail"] = mask_text(df["detail"].astype("string"))
    if as_json:
        _emit(df.to_dict(orient="records"))
    else:
        _table(df, "timeline")


def _read_list(path: Path) -> pd.DataFrame:
    """A customer list from CSV (UTF-8 or GBK) or Excel, every column as text."""
    from scrm_lib.errors import InputFileError

    if not path.is_file():
        raise InputFileError(path, "no such file")
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            return pd.read_excel(path, dtype=str)
        try:
            return pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        except UnicodeDecodeError:
            return pd.read_csv(path, dtype=str, encoding="gbk")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise InputFileError(path, f"cannot read as a table ({first})") from exc


def _field_map(spec: str | None) -> dict[str, str] | None:
    """``name=姓名,phone=手机`` → ``{"name": "姓名", "phone": "手机"}``."""
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        field, sep, col = part.partition("=")
        if not sep or not field.strip() or not col.strip():
            raise ScrmError(f"--columns: {part!r} is not field=column (e.g. name=姓名)")
        out[field.strip()] = col.strip()
    return out


@app.command("link-files")
def link_files(
    left: Annotated[Path, typer.Argument(help="First list (CSV or Excel), e.g. the CRM.")],
    right: Annotated[Path, typer.Argument(help="Second list, e.g. a shop export.")],
    columns: Annotated[
        str | None,
        typer.Option(help="Fields of the left list: name=姓名,phone=手机,city=…,address=…"),
    ] = None,
    right_columns: Annotated[
        str | None, typer.Option(help="Fields of the right list (default: as --columns).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="Row id column (default: the row number).")
    ] = None,
    threshold: Annotated[float, typer.Option(help="Least match probability.")] = 0.8,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the pairs to this CSV.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Link two customer lists (link only): pairs of rows that are probably one person.

    (``scrm identity link`` records a force-link override; this compares files.)
    """
    from scrm_lib.identity.records import link_records

    pairs = link_records(
        _read_list(left),
        _read_list(right),
        columns=_field_map(columns),
        right_columns=_field_map(right_columns),
        id_column=id_column,
        threshold=threshold,
    )
    if out_path is not None:
        from scrm_lib.access.privacy import write_export

        write_export(pairs, out_path, fmt="csv")  # row ids may be phones: masked like any export
    if as_json:
        _emit(pairs.to_dict(orient="records"))
        return
    _table(pairs, f"{len(pairs)} linked pairs")
