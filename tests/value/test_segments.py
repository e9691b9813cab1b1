"""Saved segments: preview, versions, masked + formula-safe + audited exports."""

from __future__ import annotations

import json

import ibis
import pandas as pd
import pytest

from scrm_lib import schema
from scrm_lib.access.state import read_audit
from scrm_lib.engine import duckdb_connect
from scrm_lib.errors import ConfigError
from scrm_lib.segments import definitions as S
from scrm_lib.value.persons import MART, typed

from .conftest import put


def mart_rows() -> pd.DataFrame:
    rows = [
        # person, segment, stage, monetary, p_alive, clv
        ("P1", "champions", "mature", 1000.0, 0.9, 500.0),
        ("P2", "champions", "growing", 400.0, 0.4, 100.0),
        ("P3", "lost", "lost", 50.0, 0.1, 2.0),
    ]
    df = pd.DataFrame(rows, columns=["person_id", "rfm_segment", "stage", "monetary",
                                     "p_alive", "clv"])  # fmt: skip
    df["frequency"] = df["actions"] = 0
    return typed(df)


@pytest.fixture
def wh(duck, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRM_STATE_DB", str(tmp_path / "state.duckdb"))
    duck.create_table(MART, mart_rows())
    put(duck, "accounts", [
        {"account_id": "t:1", "platform": "tmall", "display_name": "=HYPERLINK(\"http://x\")"},
        {"account_id": "w:1", "platform": "wechat", "display_name": "张三丰"},
        {"account_id": "t:2", "platform": "tmall", "display_name": "李四"},
        {"account_id": "t:3", "platform": "tmall", "display_name": "王五"},
    ])  # fmt: skip
    duck.create_table(
        "person_accounts",
        {"account_id": ["t:1", "w:1", "t:2", "t:3"], "person_id": ["P1", "P1", "P2", "P3"]},
    )
    put(duck, "identifiers", [{"account_id": "w:1", "kind": "phone", "value": "+8613812345678"}])
    duck.create_table("builds", {"build_id": ["b-1"], "finished_at": [pd.Timestamp("2026-11-01")]})
    return duck


CHAMPS = [{"column": "rfm_segment", "op": "in", "value": ["champions"]}]


def test_preview_by_hand(wh):
    p = S.preview(wh, CHAMPS)
    assert p["persons"] == 2 and p["share"] == pytest.approx(2 / 3, abs=1e-4)
    assert p["gmv"] == 1400.0 and p["clv"] == 600.0 and p["avg_p_alive"] == pytest.approx(0.65)
    p = S.preview(wh, [*CHAMPS, {"column": "p_alive", "op": ">=", "value": 0.5}])
    assert p["persons"] == 1
    assert (
        S.preview(wh, [{"column": "monetary", "op": "between", "value": [40, 400]}])["persons"] == 2
    )


def test_churn_scores_of_the_build_are_filterable(wh):
    risky = [{"column": "risk_band", "op": "==", "value": "high"}]
    # no churn step on this build: the columns exist and match nobody
    assert S.preview(wh, risky)["persons"] == 0
    assert S.preview(wh, [{"column": "churn_probability", "op": "is_null"}])["persons"] == 3
    wh.create_table(
        "churn_scores",
        {
            "person_id": ["P1", "P3"],
            "churn_probability": [0.8, 0.2],
            "risk_band": ["high", "low"],
            "early_warning": [True, False],
            "value_at_risk": [400.0, 0.4],
            "silent_days": [40, 3],
        },
    )
    assert S.members(wh, [*CHAMPS, *risky])["person_id"].tolist() == ["P1"]
    got = S.preview(wh, [{"column": "value_at_risk", "op": ">", "value": 100}])
    assert got["persons"] == 1 and got["gmv"] == 1000.0
    # P2 was not scored: null, neither early warning nor not
    warn = [{"column": "early_warning", "op": "==", "value": False}]
    assert S.members(wh, warn)["person_id"].tolist() == ["P3"]


def test_a_declared_person_mart_offers_its_filters(wh, monkeypatch):
    monkeypatch.setattr(schema, "MARTS", dict(schema.MARTS))
    schema.declare_mart(
        schema.Mart(
            "tag_scores", owner="tags", description="one row per tagged person",
            schema=ibis.schema({"person_id": "string", "koc": "boolean", "note": "string"}),
            key=("person_id",), filters=("koc",), meanings={"koc": "a key opinion consumer"},
        )
    )  # fmt: skip
    assert S.columns()["koc"] == "a key opinion consumer" and "note" not in S.columns()
    koc = [{"column": "koc", "op": "==", "value": True}]
    # not built yet: the column exists, empty
    assert S.preview(wh, koc)["persons"] == 0
    wh.create_table("tag_scores", {"person_id": ["P2", "P3"], "koc": [True, False]})
    assert S.members(wh, [*CHAMPS, *koc])["person_id"].tolist() == ["P2"]
    with pytest.raises(ValueError, match="already churn_scores'"):
        schema.declare_mart(
            schema.Mart("dup", owner="x", description="", key=("person_id",),
                        schema=ibis.schema({"person_id": "string", "risk_band": "string"}),
                        filters=("risk_band",))
        )  # fmt: skip


def test_unknown_column_and_bad_filters_are_named(wh):
    with pytest.raises(ConfigError, match="unknown column 'churn_risk'; known: person_id"):
        S.preview(wh, [{"column": "churn_risk", "op": ">", "value": 0.5}])
    with pytest.raises(ConfigError, match="unknown op '~'"):
        S.preview(wh, [{"column": "clv", "op": "~", "value": 1}])
    with pytest.raises(ConfigError, match="in needs a list"):
        S.preview(wh, [{"column": "stage", "op": "in", "value": "lost"}])


def test_save_versions_and_membership(wh, tmp_path):
    first = S.save_segment("vip", CHAMPS, author="mark", warehouse=wh)
    assert first == {"name": "vip", "version": 1, "persons": 2, "build_id": "b-1"}
    second = S.save_segment("vip", [*CHAMPS, {"column": "clv", "op": ">", "value": 200}],
                            author="ada", role="admin", warehouse=wh)  # fmt: skip
    assert second["version"] == 2 and second["persons"] == 1
    listed = S.list_segments()
    assert listed[["name", "version", "author", "persons"]].values.tolist() == [
        ["vip", 2, "ada", 1]
    ]
    shown = S.show_segment("vip", version=1)
    assert shown["definition"] == CHAMPS and shown["versions"] == [1, 2]
    assert S.segment_members("vip", version=1).tolist() == ["P1", "P2"]
    with pytest.raises(S.PermissionDenied, match="viewer"):
        S.save_segment("x", CHAMPS, author="vera", role="viewer", warehouse=wh)
    with pytest.raises(ConfigError, match="no saved segment 'nope'"):
        S.show_segment("nope")
    assert (read_audit()["action"] == "save_segment").sum() == 2


def test_the_state_tables_are_the_declared_ones(wh, tmp_path):
    S.save_segment("vip", CHAMPS, author="mark", warehouse=wh)
    con = duckdb_connect(tmp_path / "state.duckdb", read_only=True)
    try:
        for name in ("segments", "segment_members"):
            got, declared = con.table(name).schema(), schema.MARTS[name].schema
            # columns, type family and NOT NULL (timestamp precision aside)
            assert [(c, type(t).__name__, t.nullable) for c, t in got.items()] == [
                (c, type(t).__name__, t.nullable) for c, t in declared.items()
            ], name
    finally:
        con.disconnect()


def test_export_is_masked_formula_safe_and_audited(wh, tmp_path):
    S.save_segment("vip", CHAMPS, author="mark", warehouse=wh)
    out = tmp_path / "vip.csv"
    res = S.export_segment("vip", out=out, username="mark", role="marketer", warehouse=wh)
    assert res["rows"] == 3 and res["persons"] == 2 and res["masked"]
    df = pd.read_csv(out, dtype=str, encoding="utf-8-sig").set_index("account_id")
    assert df.loc["w:1", "phone"] == "138****5678"
    assert df.loc["w:1", "display_name"] == "张**"
    # the spreadsheet formula is neutralized (masked and quoted)
    assert not df.loc["t:1", "display_name"].startswith(("=", "+", "-", "@"))
    audit = read_audit().iloc[0]
    assert (audit["username"], audit["action"], audit["what"], audit["rows"]) == (
        "mark",
        "export",
        "vip@v1".join(["segment:", ""]),
        3,
    )
    assert audit["build_id"] == "b-1" and json.loads(audit["detail"])["unmasked"] is False


def test_unmask_is_for_admins_and_still_formula_safe(wh, tmp_path):
    S.save_segment("vip", CHAMPS, author="mark", warehouse=wh)
    with pytest.raises(S.PermissionDenied, match="unmask"):
        S.export_segment("vip", out=tmp_path / "x.csv", username="mark", role="marketer",
                         unmask=True, warehouse=wh)  # fmt: skip
    with pytest.raises(S.PermissionDenied, match="may not export"):
        S.export_segment(
            "vip", out=tmp_path / "x.csv", username="vera", role="viewer", warehouse=wh
        )
    out = tmp_path / "vip.xlsx"
    S.export_segment("vip", out=out, username="ada", role="admin", unmask=True, warehouse=wh)
    df = pd.read_excel(out, engine="calamine", dtype=str).set_index("account_id")
    # clear text, yet a leading "+" is quoted: a spreadsheet would read it as a formula
    assert df.loc["w:1", "phone"] == "'+8613812345678"
    assert df.loc["t:1", "display_name"] == '\'=HYPERLINK("http://x")'
    assert json.loads(read_audit().iloc[0]["detail"])["unmasked"] is True
