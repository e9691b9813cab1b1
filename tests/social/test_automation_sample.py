"""The automation results against the generator's planted truth (issue acceptance).

The sample plants the audiences of ``groupbuy_views_no_order`` (true effect +20
points) and ``cart_unpaid_24h`` (+10 points) on fourteen run dates, with each unit's
arm drawn as scrm draws it; every other shipped rule has a true effect of exactly
zero (``truth/automation_effects.csv``). The test runs the triggers for the planted
dates through the library, measures ``automation_results()`` and checks each planted
rule's 95% interval holds its true effect, and that the large effect is told from
zero. The zero-effect rules with at least ``MIN_HOLDOUT`` held-out units are
judged the same way (their true effect is 0). About 50 s on the shared test sample.
"""

from __future__ import annotations

import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.social.automation import automation_results, run_triggers

#: below this many held-out units an interval is not worth judging
MIN_HOLDOUT = 20


@pytest.fixture(scope="module")
def measured(built_sample) -> pd.DataFrame:
    settings = load_settings(built_sample["home"])
    effects = pd.read_csv(built_sample["truth"] / "automation_effects.csv")
    dates = sorted({d for ds in effects["run_dates"].dropna() for d in ds.split(";")})
    for day in dates:
        run_triggers(day, built_sample["warehouse"], settings=settings)
    got = automation_results(built_sample["warehouse"], settings=settings)
    table = effects.merge(got, on="rule", how="left")
    table["contains"] = (table["uplift_lo"] <= table["true_effect"]) & (
        table["true_effect"] <= table["uplift_hi"]
    )
    cols = ["rule", "true_effect", "send_units", "holdout_units", "uplift", "uplift_lo",
            "uplift_hi", "contains"]  # fmt: skip
    print("automation results against the truth (test sample):\n", table[cols].to_string())
    return table.set_index("rule")


def _line(r: pd.Series) -> str:
    return (f"{r.name}: true {r['true_effect']:+.3f}, measured {r['uplift']:+.3f} "
            f"[{r['uplift_lo']:+.3f}, {r['uplift_hi']:+.3f}] ({r['send_units']:.0f} sent, "
            f"{r['holdout_units']:.0f} held out)")  # fmt: skip


def test_each_planted_rule_interval_holds_its_true_effect(measured):
    planted = measured[measured["planted_audience"]]
    assert len(planted) == 2
    assert (planted["holdout_units"] >= MIN_HOLDOUT).all(), planted
    missed = [_line(r) for _, r in planted.iterrows() if not r["contains"]]
    assert not missed, "intervals missing the true effect:\n" + "\n".join(missed)


def test_the_large_planted_effect_is_told_from_zero(measured):
    big = measured.loc["groupbuy_views_no_order"]
    assert big["true_effect"] >= 0.15
    assert big["uplift_lo"] > 0, _line(big)


def test_planted_touches_come_back_on_the_planned_rows(measured):
    for rule in ("groupbuy_views_no_order", "cart_unpaid_24h"):
        r = measured.loc[rule]
        # every planted send unit has its touch; natural cart units have none
        assert r["sent"] >= 0.9 * r["send_units"], _line(r)
        assert 0 < r["opened"] < r["sent"]


def test_each_zero_effect_rule_interval_holds_zero(measured):
    judged = measured[~measured["planted_audience"] & (measured["holdout_units"] >= MIN_HOLDOUT)]
    assert len(judged) >= 2, measured
    assert (judged["true_effect"] == 0).all()
    missed = [_line(r) for _, r in judged.iterrows() if not r["contains"]]
    assert not missed, "intervals missing a zero effect:\n" + "\n".join(missed)
