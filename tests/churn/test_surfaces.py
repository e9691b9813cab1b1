"""Train, save, score (library, CLI, build step, page); bad inputs say what to do."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from scrm_lib.churn.config import ChurnError, churn_config
from scrm_lib.churn.model import CARD_FILE, load_model, models_dir
from scrm_lib.churn.scoring import early_warning, score, segment_filter
from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError
from tests.apptest import open_page
from tests.sample_project import scrm


@pytest.fixture(scope="module")
def trained(built_sample, tmp_path_factory):
    """A project home with the sample's warehouse and a model trained through the CLI."""
    home = tmp_path_factory.mktemp("churn_trained")
    wh = home / "data/warehouse/scrm.duckdb"
    wh.parent.mkdir(parents=True)
    shutil.copy(built_sample["warehouse"], wh)
    card = json.loads(scrm("churn", "train", "--json", cwd=home).stdout)
    return {"home": home, "warehouse": wh, "card": card}


def test_train_writes_a_model_card(trained):
    card = trained["card"]
    folder = trained["home"] / "data/models/churn" / card["version"]
    assert (folder / CARD_FILE).exists() and (folder / "model.joblib").exists()
    assert set(card["backtest"]["metrics"]) == {"model", "recency", "p_alive"}
    assert card["features"][0] == "recency_days" and card["build_id"]
    assert card["cutoffs"]["score"] == card["cutoffs"]["data_end"]


def test_score_cli_lists_the_costliest_first(trained):
    out = trained["home"] / "warn.csv"
    args = ("churn", "score", "--top", "5", "--out", str(out), "--json")
    data = json.loads(scrm(*args, cwd=trained["home"]).stdout)
    assert data["model_version"] == trained["card"]["version"]
    top = data["top"]
    assert len(top) == 5 and [t["value_at_risk"] for t in top] == sorted(
        (t["value_at_risk"] for t in top), reverse=True
    )
    assert all(t["reasons"] for t in top)
    assert out.exists() and data["early_warning"] >= data["pre_churn_silent"]


def test_scores_rules_and_reasons(trained):
    settings = load_settings(trained["home"])
    df = score(trained["warehouse"], settings=settings)
    assert df["churn_probability"].between(0, 1).all()
    assert (df["pre_churn_silent"] == (df["silent_days"] >= 30)).all()
    assert (df.loc[df["risk_band"] == "high", "churn_probability"] >= 0.7).all()
    assert df.loc[~df["early_warning"], "reasons"].isna().all()
    warn = early_warning(df)
    assert warn["early_warning"].all() and warn["value_at_risk"].is_monotonic_decreasing
    assert df["build_id"].notna().all()
    f = segment_filter(warn.head(3)["person_id"])
    assert f[0]["column"] == "person_id" and len(f[0]["value"]) == 3


def test_build_step_writes_churn_scores(trained, tmp_path):
    from scrm_lib.churn.scoring import run
    from scrm_lib.engine import duckdb_connect
    from scrm_lib.warehouse.steps import StepContext

    copy = tmp_path / "w.duckdb"
    shutil.copy(trained["warehouse"], copy)
    con = duckdb_connect(copy)
    try:
        ctx = StepContext(con=con, settings=load_settings(trained["home"]), build_id="b-1")
        assert run(ctx)["churn_scores"] > 100
        ctx_none = StepContext(con=con, settings=load_settings(tmp_path), build_id="b-2")
        assert run(ctx_none) == {"churn_scores": 0}
    finally:
        con.disconnect()
    with duckdb.connect(str(copy), read_only=True) as raw:
        note = raw.sql("select value from churn_meta where key = 'note'").fetchone()[0]
    assert "scrm churn train" in note


def test_a_model_of_another_feature_set_is_refused(trained, tmp_path):
    home = tmp_path / "h"
    shutil.copytree(trained["home"] / "data/models", home / "data/models")
    settings = load_settings(home)
    card_path = models_dir(settings) / trained["card"]["version"] / CARD_FILE
    card = json.loads(card_path.read_text())
    card["features"] = [*card["features"][:-1], "sentiment_30"]
    card_path.write_text(json.dumps(card))
    with pytest.raises(ChurnError, match=r"another feature set.*sentiment_30"):
        load_model(settings=settings)
    proc = scrm("churn", "score", "--warehouse", str(trained["warehouse"]), cwd=home, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "another feature set" in proc.stderr


def test_too_few_churners_to_train(built_sample, tmp_path):
    (tmp_path / "scrm.toml").write_text("[churn]\nmin_class = 100000\n")
    proc = scrm("churn", "backtest", "--warehouse", str(built_sample["warehouse"]), cwd=tmp_path,
                check=False)  # fmt: skip
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode != 0 and len(lines) == 1 and "at least 100000" in lines[0]


def test_not_enough_history_and_no_model(built_sample, tmp_path):
    proc = scrm("churn", "backtest", "--warehouse", str(built_sample["warehouse"]),
                "--horizon-days", "400", cwd=tmp_path, check=False)  # fmt: skip
    assert proc.returncode != 0 and "not enough history" in proc.stderr
    proc = scrm("churn", "score", "--warehouse", str(built_sample["warehouse"]), cwd=tmp_path,
                check=False)  # fmt: skip
    assert proc.returncode != 0 and "scrm churn train" in proc.stderr


def test_config_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="calibration"):
        churn_config(load_settings(tmp_path), calibration="platt")
    with pytest.raises(ConfigError, match="horizon_dayz"):
        churn_config(load_settings(tmp_path), horizon_dayz=3)


def test_dashboard_page(trained, monkeypatch, tmp_path):
    from scrm_lib.access.users import add_user

    home = trained["home"]
    users = home / "users.yaml"
    add_user("mark", "demo-pass-123", role="marketer", path=users)
    monkeypatch.setenv("SCRM_HOME", str(home))
    monkeypatch.setenv("SCRM_USERS_FILE", str(users))
    monkeypatch.setenv("SCRM_STATE_DB", str(home / "state.duckdb"))
    monkeypatch.setenv("SCRM_WAREHOUSE", str(trained["warehouse"]))
    at = open_page("views/churn.py", "mark", "marketer")
    assert not at.exception, at.exception
    assert "流失预警 / Churn" in [t.value for t in at.title]
    assert any(m.label.startswith("高风险") for m in at.metric)
    at.button[0].click()  # the form's save button: "make a segment of these"
    at = at.run()
    assert not at.exception, at.exception
    assert any("churn-early-warning" in s.value for s in at.success)
    # the segment builder filters on the build's churn scores: rebuild's scoring step on a copy
    from scrm_lib.churn.scoring import run as score_step
    from scrm_lib.engine import duckdb_connect
    from scrm_lib.warehouse.steps import StepContext

    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copy(trained["warehouse"], rebuilt)
    con = duckdb_connect(rebuilt)
    score_step(StepContext(con, load_settings(home), "rescored"))
    con.disconnect()
    monkeypatch.setenv("SCRM_WAREHOUSE", str(rebuilt))
    at.switch_page("views/segments.py")
    at = at.run()
    assert not at.exception, at.exception

    def persons(at) -> int:
        shown = next(m for m in at.metric if m.label.startswith("人数"))
        return int(shown.value.replace(",", ""))

    everyone = persons(at)
    risk = next(m for m in at.multiselect if m.label.startswith("流失风险"))
    at = risk.select("high").run()
    assert not at.exception, at.exception
    assert 0 < persons(at) < everyone
