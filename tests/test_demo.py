"""What `make demo` promises, on the session's sample built the same way: churn scores on the
Churn page and every segment example of the README returning members."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from scrm_lib.churn.scoring import scored_with
from scrm_lib.config import load_settings
from scrm_lib.segments.definitions import preview
from tests.apptest import open_page

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_segment_examples() -> dict[str, list[dict]]:
    """``scrm segment save NAME --filter '[...]'`` in the README, by name."""
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"scrm segment save (\S+) --filter '(\[.*?\])'", text, re.S)
    return {name: json.loads(filters) for name, filters in found}


def test_the_readme_has_segment_examples():
    assert {"vip", "save-the-vips"} <= set(readme_segment_examples())


def test_the_build_trained_and_scored_churn(built_sample):
    with duckdb.connect(str(built_sample["warehouse"]), read_only=True) as con:
        bands = dict(con.sql("SELECT risk_band, count(*) FROM churn_scores GROUP BY 1").fetchall())
        persons = con.sql("SELECT count(*) FROM churn_scores").fetchone()[0]
    assert persons > 100 and bands.get("high", 0) > 0, bands
    meta = scored_with(built_sample["warehouse"])
    # trained by the sample's own build (other tests may rebuild it later: that re-scores)
    assert meta["model_version"] == meta["card"]["version"]
    assert meta["card"]["build_id"] == built_sample["build"]["build_id"]
    assert meta["card"]["backtest"]["metrics"]["model"]["roc_auc"] > 0.5
    assert (built_sample["home"] / "data/models/churn/CURRENT").exists()


def test_every_readme_segment_example_has_members(built_sample):
    settings = load_settings(built_sample["home"])
    for name, filters in readme_segment_examples().items():
        got = preview(built_sample["warehouse"], filters, settings=settings)
        assert got["persons"] > 0, f"README segment {name!r} is empty on the demo sample"


def test_the_churn_page_shows_the_scores(built_sample, monkeypatch, tmp_path):

    from scrm_lib.access.users import add_user

    users = tmp_path / "users.yaml"
    add_user("mark", "demo-pass-123", role="marketer", path=users)
    monkeypatch.setenv("SCRM_HOME", str(built_sample["home"]))
    monkeypatch.setenv("SCRM_USERS_FILE", str(users))
    monkeypatch.setenv("SCRM_STATE_DB", str(tmp_path / "state.duckdb"))
    monkeypatch.setenv("SCRM_WAREHOUSE", str(built_sample["warehouse"]))
    at = open_page("views/churn.py", "mark", "marketer")
    assert not at.exception, at.exception
    texts = " ".join(str(e.value) for e in [*at.info, *at.warning, *at.markdown])
    assert "no churn model" not in texts
    high = next(m for m in at.metric if m.label.startswith("高风险"))
    assert int(str(high.value).replace(",", "").split()[0]) > 0
