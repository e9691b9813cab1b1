"""Adding a capability is a package plus one line in the step list and one in the CLI list.

The test writes a throwaway capability package, ``scrm_toy``, the way a new
capability is written: a build step writing the mart ``toy_scores(person_id,
toy_score)``, that mart declared in the schema registry by the package itself,
and a Typer ``app``. Then it appends the step to the step list and the app to
the CLI list (the two one-line edits, made here with monkeypatch), builds a
small home and checks that the mart is built, that its filter column is
offered by ``scrm segment columns``, that a segment filters on it, and that
``scrm toy`` runs. Nothing else in scrm is edited.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scrm_lib import cli, schema
from scrm_lib.config import load_settings
from scrm_lib.engine import using
from scrm_lib.warehouse import step_list
from scrm_lib.warehouse.build import build

SMALL = Path(__file__).parent / "data" / "small_exports"

TOY = {
    "__init__.py": '''
        """A toy capability: one score per person (the number of its accounts)."""

        import ibis

        from scrm_lib.schema import Mart, declare_mart

        MART = declare_mart(
            Mart(
                "toy_scores",
                owner="toy",
                description="one row per person: its toy score",
                schema=ibis.schema({"person_id": "string", "toy_score": "float64"}),
                key=("person_id",),
                meanings={"person_id": "person", "toy_score": "accounts of the person"},
                filters=("toy_score",),
            )
        )
    ''',
    "step.py": '''
        """The toy build step: writes toy_scores from person_accounts."""

        from scrm_lib.warehouse.steps import Step
        from scrm_toy import MART


        def run(ctx):
            pa = ctx.con.table("person_accounts")
            scores = pa.group_by("person_id").aggregate(toy_score=pa.count().cast("float64"))
            ctx.con.create_table(MART.name, scores, overwrite=True)
            return {MART.name: int(ctx.con.execute(scores.count()))}


        STEP = Step("toy", run)
    ''',
    "cli.py": '''
        """``scrm toy``: the persons with the highest toy score."""

        from scrm_lib.cli_common import JsonOpt, WarehouseOpt, emit_json, sub_app

        app = sub_app("Toy scores.")


        @app.command("top")
        def top_cmd(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
            """The top persons by toy score."""
            import ibis

            from scrm_lib.engine import using

            with using(warehouse) as con:
                t = con.table("toy_scores")
                df = con.execute(t.order_by([ibis.desc("toy_score"), "person_id"]).limit(3))
            emit_json({"top": df.to_dict(orient="records")})
    ''',
}


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy package, importable; the schema registry restored afterwards."""
    root = tmp_path / "plugins"
    (root / "scrm_toy").mkdir(parents=True)
    for name, text in TOY.items():
        (root / "scrm_toy" / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(schema, "MARTS", dict(schema.MARTS))
    importlib.invalidate_caches()
    yield importlib.import_module("scrm_toy.step"), importlib.import_module("scrm_toy.cli")
    for name in [m for m in sys.modules if m == "scrm_toy" or m.startswith("scrm_toy.")]:
        del sys.modules[name]


def test_a_toy_capability_needs_only_its_package_and_two_list_lines(toy, tmp_path, monkeypatch):
    step, toy_cli = toy
    # the two one-line edits a new capability makes
    monkeypatch.setattr(step_list, "STEPS", [*step_list.STEPS, step.STEP])
    monkeypatch.setattr(cli, "CAPABILITIES", [*cli.CAPABILITIES, ("toy", toy_cli.app)])

    home = tmp_path / "home"
    # a Youzan buyer is a mini-program user too (the same phone): one person, two accounts
    for rel in ("youzan_orders/youzan_orders_may.csv", "miniapp_users/miniapp_users_2025.jsonl"):
        (home / "data/raw" / rel).parent.mkdir(parents=True)
        shutil.copyfile(SMALL / rel, home / "data/raw" / rel)
    settings = load_settings(home)
    build(settings=settings)

    wh = settings.warehouse
    with using(wh) as con:
        # every declared warehouse mart, the toy's too, is built with its declared columns
        for mart in schema.MARTS.values():
            if mart.store == "warehouse":
                assert con.table(mart.name).columns == tuple(mart.schema.names), mart.name
        scores = con.execute(con.table("toy_scores")).set_index("person_id")["toy_score"]
        valued = con.execute(con.table("value_persons").select("person_id"))["person_id"]
    # every person has a score; the segment builder's persons are the value mart's
    assert len(valued) > 0 and set(valued) <= set(scores.index)
    persons, many = len(valued), int((scores[valued] > 1).sum())
    assert 0 < many < persons

    runner = CliRunner()
    env = {"SCRM_HOME": str(home)}

    def scrm(*args: str) -> dict:
        res = runner.invoke(cli.app, [*args, "--json"], env=env)
        assert res.exit_code == 0, res.output + repr(res.exception)
        return json.loads(res.output)

    columns = {c["column"]: c for c in scrm("segment", "columns")["columns"]}
    assert columns["toy_score"] == {
        "column": "toy_score", "meaning": "accounts of the person", "mart": "toy_scores"
    }  # fmt: skip
    assert columns["risk_band"]["mart"] == "churn_scores"  # the built-in filters are still there

    def preview(*filters: dict) -> int:
        return scrm("segment", "preview", "--filter", json.dumps(list(filters)))["persons"]

    assert preview({"column": "toy_score", "op": ">=", "value": 1}) == persons
    assert preview({"column": "toy_score", "op": ">", "value": 1}) == many
    assert preview({"column": "toy_score", "op": "is_null"}) == 0

    top = scrm("toy", "top", "--warehouse", str(wh))["top"]
    assert top and top[0]["toy_score"] == scores.max()
