"""The display catalogue: every column a page shows has a Chinese label, reasons and values
in words, an English fallback, and times in the configured time zone."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from scrm_lib import labels
from scrm_lib.errors import ConfigError

SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")


@pytest.fixture(autouse=True)
def _chinese(monkeypatch):
    monkeypatch.delenv("SCRM_LANGUAGE", raising=False)
    monkeypatch.delenv("SCRM_TIMEZONE", raising=False)
    labels.reset_missing()


def test_catalogue_is_versioned_and_every_entry_has_both_languages():
    data = labels.catalogue()
    assert labels.version() >= 1
    assert len(data["columns"]) > 150
    for name, entry in data["columns"].items():
        assert entry.get("zh") and entry.get("en"), name
        assert not SNAKE.match(entry["zh"]) and not SNAKE.match(entry["en"]), name
    for column, table in data["values"].items():
        for value, entry in table.items():
            assert entry.get("zh") and entry.get("en"), (column, value)
    for key, entry in data["messages"].items():
        assert entry.get("zh") and entry.get("en"), key
    for pattern, template in data["_patterns"]:
        assert pattern.pattern and template


def _page_columns() -> set[str]:
    """Columns of the tables the pages show, from the library's own declarations."""
    from scrm_lib.churn.plots import metrics_frame
    from scrm_lib.churn.scoring import COLUMNS as SCORE_COLUMNS
    from scrm_lib.schema import TABLES
    from scrm_lib.value.persons import COLUMNS as PERSON_COLUMNS
    from scrm_lib.value.rfm import RFM_COLUMNS
    from scrm_lib.warehouse.health import REFUSED_COLUMNS
    from scrm_lib.warehouse.steps import STEP_LOG_COLUMNS

    cols = {c for schema in TABLES.values() for c in schema}
    cols |= set(REFUSED_COLUMNS) | set(STEP_LOG_COLUMNS) | set(RFM_COLUMNS)
    cols |= set(PERSON_COLUMNS) | set(SCORE_COLUMNS)
    metrics = {"model": {"roc_auc": 0.7, "pr_auc": 0.8, "brier": 0.2, "top_decile_lift": 1.2,
                         "top_decile_capture": 0.1, "calibration_in_the_large": 0.0, "n": 10,
                         "positives": 5}}  # fmt: skip
    cols |= set(metrics_frame(metrics).columns)
    # computed frames the pages show (health, identity, experiments, segments, audit, reports)
    cols |= {
        "file", "format", "rows_in", "accepted", "rejected", "duplicates", "reject_rate",
        "reason", "rows", "files", "columns", "example_values", "example_lines", "table",
        "latest", "build_finished_at", "age_days", "line", "column", "raw_value",
        "build_id", "started_at", "finished_at", "library_version", "engine",
        "segment", "persons", "person_share", "gmv", "gmv_share", "actions", "phone",
        "name", "version", "author", "created_at", "description", "definition",
        "audit_id", "username", "role", "action", "what", "detail",
        "report", "run_id", "duration_s", "error",
        "arm", "units", "expected", "metric", "method", "n_control", "n_treatment",
        "control_mean", "treatment_mean", "absolute", "absolute_lo", "absolute_hi",
        "relative", "p_adjusted", "chance_to_beat_control", "expected_loss",
        "sequential_p_value", "sequential_lo", "sequential_hi", "n_units", "variants",
        "first_variant",
        "n_accounts", "platforms", "n_platforms", "last_seen", "acquisition_platform",
        "acquisition_channel", "phone_masked", "name_masked", "city", "hub_limit",
        "n_orders", "n_receiver_names", "n_receiver_phones", "n_addresses", "n_devices",
        "n_unattributed", "a", "b", "rule", "evidence", "used", "override_id", "account_a",
        "account_b", "amount", "ts", "type",
    }  # fmt: skip
    return cols


def test_every_column_of_every_table_pages_show_has_a_chinese_label():
    missing = sorted(c for c in _page_columns() if not labels.has_label(c, "zh"))
    assert not missing, f"add to scrm_lib/labels.toml [columns]: {missing}"


def test_labels_in_both_languages_and_a_readable_fallback(monkeypatch):
    assert labels.label("value_at_risk") == "风险价值（元）"
    assert labels.label("gmv_share", lang="en") == "Share of GMV"
    assert labels.label("no_such_column", lang="en") == "No such column"
    assert labels.missing() == []  # English falls back quietly: the source names are English
    assert labels.label("no_such_column", lang="zh") == "No such column"
    assert labels.missing() == [("column", "no_such_column")]
    monkeypatch.setenv("SCRM_LANGUAGE", "en")
    assert labels.label("persons") == "Persons"
    monkeypatch.setenv("SCRM_LANGUAGE", "fr")
    with pytest.raises(ConfigError, match="fr"):
        labels.label("persons")


def test_language_from_scrm_toml(tmp_path, monkeypatch):
    (tmp_path / "scrm.toml").write_text('[display]\nlanguage = "en"\n', encoding="utf-8")
    monkeypatch.setenv("SCRM_HOME", str(tmp_path))
    assert labels.language() == "en"
    assert labels.label("risk_band") == "Risk"


def test_labelled_renames_translates_values_and_reasons_and_keeps_the_input():
    df = pd.DataFrame({
        "risk_band": ["high", "low"], "platform": ["tmall", "elsewhere"],
        "reasons": ["no order for 47 days, usually buys every 21; 2 refunded order(s)", None],
        "value_at_risk": [10.0, 2.0],
    })  # fmt: skip
    out = labels.labelled(df)
    assert list(out.columns) == ["风险等级", "平台", "流失原因", "风险价值（元）"]
    assert out["风险等级"].tolist() == ["高", "低"]
    assert out["平台"].tolist() == ["天猫", "elsewhere"]  # unknown values stay as they are
    assert out["流失原因"].iloc[0] == "47天未下单（平时每21天买一次）；2笔退款订单"
    assert df.columns[0] == "risk_band" and df["risk_band"].iloc[0] == "high"
    en = labels.labelled(df, lang="en")
    assert list(en.columns) == ["Risk", "Platform", "Reasons", "Value at risk (CNY)"]
    assert en["Reasons"].iloc[0] == df["reasons"].iloc[0]
    assert labels.missing() == []


def test_reject_reasons_in_chinese():
    from scrm_lib.ingest.plausibility import (
        PlausibilityRules,
        implausible_orders,
        implausible_times,
    )

    ts = pd.Series(pd.to_datetime(["1970-01-02", "2030-01-01"], utc=True))
    why = implausible_times(ts, PlausibilityRules(), pd.Timestamp("2025-06-01", tz="UTC"))
    orders = pd.DataFrame({"amount": [-35.0, 1e14], "status": ["paid"] * 2,
                           "refund_amount": [0.0] * 2, "quantity": [0, 10**9]})  # fmt: skip
    found = list(why.dropna())
    for _, reasons in implausible_orders(orders, PlausibilityRules()):
        found += list(reasons.dropna())
    found += ["missing value", "unparseable timestamp", "unparseable amount",
              "invalid phone number", "masked phone cannot key an account"]  # fmt: skip
    for text in found:
        shown = labels.reason(text)
        assert shown != text and not re.search(r"[a-z]{4,}", shown), (text, shown)
    assert labels.reason("timestamp before 2000-01-01") == "时间早于 2000-01-01"
    assert labels.missing() == []


def test_every_churn_reason_sentence_is_translated():
    from scrm_lib.churn.features import FEATURE_NAMES
    from scrm_lib.churn.reasons import sentence

    row = pd.Series({
        **{f: 3.0 for f in FEATURE_NAMES},
        "recency_days": 47.0, "cycle_days": 21.0, "orders": 1.0, "spend_total": 1884.0,
        "refund_share": 0.25, "promo_share": 0.5, "groups_now": 0.0,
    })  # fmt: skip
    for feature in FEATURE_NAMES:
        text = sentence(feature, row)
        shown = labels.reason(text)
        assert shown != text, (feature, text)
        assert not re.search(r"\b(days|orders?|spent|in the last)\b", shown), (feature, shown)
    assert labels.missing() == []


def test_values_cover_the_segments_layers_and_stages():
    from scrm_lib.value import layers, lifecycle, rfm

    for seg in rfm.SEGMENTS:
        assert labels.value_label("rfm_segment", seg.code) == seg.zh
    for code, (zh, _) in layers.LAYERS.items():
        assert labels.value_label("layer", code) == zh
    for code, (zh, _) in lifecycle.STAGES.items():
        assert labels.value_label("stage", code) == zh


# ---------------------------------------------------------------- time zone


def test_a_10_oclock_beijing_order_shows_10_00():
    paid = pd.Timestamp("2026-11-11 10:00", tz="Asia/Shanghai").tz_convert("UTC")  # 02:00 UTC
    df = pd.DataFrame({
        "ts": [paid], "naive_utc": [paid.tz_localize(None)],
        "iso": [paid.isoformat()], "amount": [99.0],
    })  # fmt: skip
    out = labels.local_times(df)
    for col in ("ts", "naive_utc", "iso"):
        assert out[col].iloc[0] == pd.Timestamp("2026-11-11 10:00"), col
    assert out["amount"].iloc[0] == 99.0
    assert labels.labelled(df[["ts"]])["时间"].iloc[0].hour == 10
    assert labels.fmt_time(paid) == "2026-11-11 10:00"
    assert labels.fmt_time("2026-11-11T02:00:00.000Z", seconds=True) == "2026-11-11 10:00:00"
    assert labels.fmt_time(None) == "-"


def test_time_zone_follows_the_setting(monkeypatch):
    monkeypatch.setenv("SCRM_TIMEZONE", "UTC")
    assert labels.fmt_time("2026-11-11T02:00:00Z") == "2026-11-11 02:00"
    monkeypatch.setenv("SCRM_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        labels.fmt_time("2026-11-11T02:00:00Z")


def test_money():
    assert labels.money(1234567.8) == "¥1,234,568"
    assert labels.money(-35.5, 2) == "-¥35.50"
    assert labels.money(None) == "-" and labels.money(float("nan")) == "-"


# ---------------------------------------------------------------- charts


def test_label_figure_names_axes_legend_hover_and_categories():
    import plotly.express as px

    df = pd.DataFrame({"platform": ["tmall", "douyin"], "rows": [3, 4],
                       "outcome": ["accepted", "rejected"]})  # fmt: skip
    fig = labels.label_figure(px.bar(df, x="platform", y="rows", color="outcome"))
    assert fig.layout.xaxis.title.text == "平台" and fig.layout.yaxis.title.text == "行数"
    assert fig.layout.legend.title.text == "结果"
    assert {t.name for t in fig.data} == {"接收", "拒绝"}
    assert fig.data[0].hovertemplate.startswith("结果=接收<br>平台=%{x}<br>行数=%{y}")


def test_sequential_chart_starts_where_the_interval_is_finite():
    from scrm_lib.experiments.plots import plot_sequential

    looks = pd.DataFrame({
        "day": pd.to_datetime(["2025-03-01", "2025-03-02", "2025-03-13", "2025-03-20"]),
        "arm": "B", "estimate": [0.5, 0.4, 0.1, 0.05],
        "ci_lo": [-np.inf, -np.inf, -0.8, -0.3], "ci_hi": [np.inf, np.inf, 0.9, 0.4],
    })  # fmt: skip
    fig = plot_sequential(looks)
    ys = [y for t in fig.data for y in t.y]
    assert all(math.isfinite(y) for y in ys) and max(abs(y) for y in ys) < 1
    assert len(fig.data[0].x) == 2
    assert any("2025-03-13" in a.text for a in fig.layout.annotations)
    empty = plot_sequential(looks.iloc[:2])
    assert not empty.data and "样本还太少" in empty.layout.annotations[0].text


def test_churn_colours_red_is_high_risk():
    from scrm_lib.churn.plots import RISK_COLORS, plot_risk_distribution

    scores = pd.DataFrame({"churn_probability": [0.9, 0.5, 0.1],
                           "risk_band": ["high", "medium", "low"]})  # fmt: skip
    fig = plot_risk_distribution(scores)
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours == {"高": RISK_COLORS["high"], "中": RISK_COLORS["medium"],
                       "低": RISK_COLORS["low"]}  # fmt: skip
    assert RISK_COLORS["high"] == "#d62728"  # red
    assert fig.layout.xaxis.title.text == "流失概率"


def test_experiment_messages_in_chinese():
    shown = labels.reason(
        "66 persons had units in more than one arm (excluded); see `scrm ab contamination`"
    )
    assert shown == "66 位客户的单元在不止一个实验组（已排除）；详见 `scrm ab contamination`"
    assert labels.reason("GUARDRAIL revenue: B is significantly worse than A").startswith(
        "护栏指标 收入"
    )
    assert labels.missing() == []
