"""Acceptance: Hillstrom reproduced, the sample's true effects recovered per person after
OneID, the contamination report checked against the generator's truth, bad input refused."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from scrm_lib.experiments import analyze, analyze_experiment, assign, load_hillstrom
from scrm_lib.experiments.messages import ExperimentInputError
from tests.e2e.conftest import scrm

# ---------------------------------------------------------------- Hillstrom


@pytest.fixture(scope="module")
def hillstrom():
    df = load_hillstrom()
    res = analyze(
        df[["segment", "visit", "conversion", "spend"]], arm="segment", control="No E-Mail"
    )
    return df, res


def test_hillstrom_rates_match_published_and_scipy(hillstrom):
    """Source: Hillstrom's challenge results (visit 18.3% / 15.1% / 10.6%, conversion
    1.25% / 0.88% / 0.57%, spend $1.42 / $1.08 / $0.65 per customer), and per-arm counts
    recomputed with pandas; intervals from statsmodels confint_proportions_2indep (wald)."""
    df, res = hillstrom
    assert res.srm["srm"] is False and res.srm["p_value"] > 0.5
    assert res.srm["observed"] == [21307, 21306, 21387]
    r = res.results.set_index(["metric", "arm"])
    assert r.loc[("visit", "Mens E-Mail"), "treatment_mean"] == pytest.approx(0.18276, abs=5e-5)
    assert r.loc[("visit", "Womens E-Mail"), "treatment_mean"] == pytest.approx(0.15140, abs=5e-5)
    assert r.loc[("visit", "Mens E-Mail"), "control_mean"] == pytest.approx(0.10617, abs=5e-5)
    assert r.loc[("conversion", "Mens E-Mail"), "treatment_mean"] == pytest.approx(
        0.01253, abs=5e-5
    )
    assert r.loc[("spend", "Mens E-Mail"), "treatment_mean"] == pytest.approx(1.4226, abs=5e-4)
    g = df.groupby("segment")
    for metric in ("visit", "conversion"):
        for arm in ("Mens E-Mail", "Womens E-Mail"):
            x1, n1 = g[metric].sum()[arm], g.size()[arm]
            x0, n0 = g[metric].sum()["No E-Mail"], g.size()["No E-Mail"]
            lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
            row = r.loc[(metric, arm)]
            assert row["absolute_lo"] == pytest.approx(lo, rel=1e-4)
            assert row["absolute_hi"] == pytest.approx(hi, rel=1e-4)
            assert row["relative"] == pytest.approx((x1 / n1) / (x0 / n0) - 1, rel=1e-6)
    spend = r.loc[("spend", "Mens E-Mail")]
    ref = stats.ttest_ind(
        df.spend[df.segment == "Mens E-Mail"], df.spend[df.segment == "No E-Mail"], equal_var=False
    )
    assert spend["p_value"] == pytest.approx(ref.pvalue, rel=1e-4)
    assert res.results["significant"].all()  # every e-mail lift survives Holm


# ---------------------------------------------------------------- the generated sample


def test_true_effects_inside_the_95_intervals_per_person(ab_sample):
    """The generator's true effect (truth/experiments.json) lies inside the 95% interval
    of the per-person analysis after OneID, for both experiments."""
    for name, window in (("birthday_msg", 7), ("group_buy_post", 3)):
        res = analyze_experiment(ab_sample["warehouse"], name, metrics=["conversion"],
                                 window_days=window)  # fmt: skip
        row = res.results.iloc[0]
        true = ab_sample["experiments"][name]["true_effect"]
        assert row["absolute_lo"] <= true <= row["absolute_hi"], (name, row.to_dict())
        assert res.srm["error"] is None
        if name == "group_buy_post":
            assert row["method"].startswith("cluster-robust")
            assert row["clusters_control"] + row["clusters_treatment"] > 4


def _truth_mixed(ab_sample):
    truth = ab_sample["truth"]
    acc = pd.read_csv(truth / "accounts.csv", usecols=["account_id", "person_id"])
    return acc, ab_sample["experiments"]["birthday_msg"]["n_persons_in_both_arms"]


def test_contamination_exact_with_true_persons(ab_sample, tmp_path):
    """With the true account → person map, the report finds exactly the generator's
    persons in both arms (truth n_persons_in_both_arms)."""
    acc, expected = _truth_mixed(ab_sample)
    copy = tmp_path / "wh.duckdb"
    copy.write_bytes(ab_sample["warehouse"].read_bytes())
    con = duckdb.connect(str(copy))
    con.execute("DROP TABLE IF EXISTS person_accounts")
    con.register("acc", acc)
    con.execute("CREATE TABLE person_accounts AS SELECT account_id, person_id FROM acc")
    con.close()
    from scrm_lib.experiments import contamination_report

    found = contamination_report(copy, "birthday_msg")
    assert len(found) == expected > 0
    assert (found["variants"] == "A+B").all()


def test_contamination_after_oneid_is_precise(ab_sample):
    """After OneID, persons flagged really are true persons with accounts in both arms."""
    acc, expected = _truth_mixed(ab_sample)
    from scrm_lib.experiments import contamination_report

    report = contamination_report(ab_sample["warehouse"], "birthday_msg")
    out = {"persons": len(report), "rows": report.to_dict(orient="records")}
    con = duckdb.connect(str(ab_sample["warehouse"]), read_only=True)
    pa = con.execute("SELECT account_id, person_id FROM person_accounts").df()
    assigned = con.execute(
        "SELECT unit_id AS account_id, variant FROM assignments WHERE experiment='birthday_msg'"
    ).df()
    con.close()
    flagged = {r["person_id"] for r in out["rows"]}
    m = assigned.merge(pa, on="account_id").merge(acc, on="account_id", suffixes=("", "_true"))
    true_mixed = set(m.groupby("person_id_true")["variant"].nunique().loc[lambda s: s > 1].index)
    hit = (
        m[m.person_id.isin(flagged)]
        .groupby("person_id")["person_id_true"]
        .apply(lambda s: bool(set(s) & true_mixed))
    )
    assert out["persons"] > 0.5 * expected  # recall bounded by OneID's
    assert hit.mean() >= 0.95


def test_cli_lists_and_analyses_with_json(ab_sample):
    home = ab_sample["home"]
    from scrm_lib.experiments import list_experiments

    assert set(list_experiments(ab_sample["warehouse"])["experiment"]) == {
        "birthday_msg",
        "group_buy_post",
    }
    res = json.loads(
        scrm("ab", "analyze", "birthday_msg", "--metric", "conversion", "--json", cwd=home).stdout
    )
    assert res["srm"]["arms"] == ["A", "B"] and res["results"][0]["metric"] == "conversion"


def test_cli_user_error_is_one_line(ab_sample):
    proc = scrm("ab", "analyze", "nope", cwd=ab_sample["home"], check=False)
    assert proc.returncode != 0
    assert "no experiment 'nope'" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["analyze", "birthday_msg", "--metric", "likes"], "unknown metrics"),
        (["power", "--baseline", "1.5", "--mde", "0.1"], "baseline rate"),
        (["power", "--baseline", "0.1"], "exactly one of"),
    ],
)
def test_cli_user_errors_raise_scrm_errors(ab_sample, monkeypatch, args, message):
    """In-process (fast): the command raises a ScrmError, which `scrm` prints as one line."""
    from typer.testing import CliRunner

    from scrm_lib.errors import ScrmError
    from scrm_lib.experiments.cli import app

    monkeypatch.setenv("SCRM_HOME", str(ab_sample["home"]))
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, ScrmError) and message in str(result.exception)


# ---------------------------------------------------------------- library input checks


def test_summary_statistics_input_and_bad_input():
    s = pd.DataFrame({"arm": ["A", "B"], "metric": "conversion", "n": [1000, 1000],
                      "sum": [40, 55]})  # fmt: skip
    assert analyze(s).results.loc[0, "p_value"] == pytest.approx(
        2 * stats.norm.sf(abs((0.055 - 0.04) / np.sqrt(0.0475 * 0.9525 * 2 / 1000))), rel=1e-6
    )
    with pytest.raises(ExperimentInputError, match="exceed units"):
        analyze(s.assign(sum=[40, 1200]))
    with pytest.raises(ExperimentInputError, match="control arm 'Z'"):
        analyze(s, control="Z")
    with pytest.raises(ExperimentInputError, match="no rows"):
        analyze(pd.DataFrame({"arm": [], "y": []}))
    empty_arm = pd.DataFrame(
        {"arm": ["A", "B"], "metric": "conversion", "n": [0, 10], "sum": [0, 2]}
    )
    res = analyze(empty_arm)
    assert res.results.loc[0, "error"] == "NO_UNITS_IN_ARM" and res.messages


def test_assignment_is_deterministic_balanced_and_holds_out():
    ids = [f"P{i:06d}" for i in range(20000)]
    a = assign(ids, experiment="bday", weights={"A": 1, "B": 1}, holdout=0.1, global_holdout=0.05)
    b = assign(ids, experiment="bday", weights={"A": 1, "B": 1}, holdout=0.1, global_holdout=0.05)
    assert a["variant"].equals(b["variant"])
    share = a["variant"].value_counts(normalize=True)
    assert share["global_holdout"] == pytest.approx(0.05, abs=0.006)
    assert share["A"] == pytest.approx(share["B"], abs=0.02)
    other = assign(ids, experiment="other", global_holdout=0.05)
    # the global holdout is the same persons in every experiment
    assert set(a.person_id[a.variant == "global_holdout"]) == set(
        other.person_id[other.variant == "global_holdout"]
    )
    # chi-square goodness of fit of the arms (scipy) on the non-held-out persons
    counts = a["variant"].value_counts()[["A", "B"]]
    assert stats.chisquare(counts).pvalue > 0.001
