"""Channel value, hand-made warehouse: ROI with and without cost, windows, intervals, ranks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from scrm_lib.social.channels.analysis import channel_value
from scrm_lib.social.channels.intervals import t_interval, wilson


def _row(df, level, key):
    hit = df[(df["level"] == level) & (df["key"] == key)]
    assert len(hit) == 1, (level, key, df[["level", "key"]].to_dict("records"))
    return hit.iloc[0]


@pytest.fixture
def table(warehouse, settings):
    return channel_value(warehouse, settings=settings)


def test_roi_with_a_cost(table):
    ad = _row(table, "channel_code", "AD1")  # PA: 300 CNY after acquisition, cost 1000
    assert ad["persons"] == 1 and ad["gmv_total"] == pytest.approx(300.0)
    assert ad["roi_gmv"] == pytest.approx((300 - 1000) / 1000)
    assert ad["cac"] == pytest.approx(1000.0) and ad["cost_per_person"] == pytest.approx(1000.0)
    c1 = _row(table, "campaign", "C1")  # AD1 (PA) and HM1 (PB): both codes have costs
    assert c1["cost"] == pytest.approx(1100.0) and c1["persons"] == 2
    assert c1["roi_gmv"] == pytest.approx((300 - 1100) / 1100)


def test_a_channel_without_cost_has_no_roi_never_zero(table):
    hb = _row(table, "channel_code", "HB1")
    assert math.isnan(hb["cost"]) and math.isnan(hb["roi_gmv"]) and math.isnan(hb["cac"])
    assert hb["codes_without_cost"] == 1
    poster = _row(table, "channel_type", "海报")
    assert math.isnan(poster["cost"]) and math.isnan(poster["roi_clv"])
    for kind in ("referral", "organic", "douyin_influencer"):
        assert math.isnan(_row(table, "channel_type", kind)["roi_gmv"])


def test_windows_count_only_persons_old_enough(table):
    ad = _row(table, "channel_code", "AD1")
    # acquired 2026-01-03, data end 2026-04-30: 30 and 90 days are known, 365 not yet
    assert (ad["gmv30_n"], ad["gmv90_n"], ad["gmv365_n"]) == (1, 1, 0)
    assert ad["gmv30_per_person"] == pytest.approx(300.0)
    assert math.isnan(ad["gmv365_per_person"])
    assert ad["median_days_to_first_order"] == pytest.approx(7.125)  # 01-03 09:00 → 01-10 12:00
    assert ad["conv_n"] == 1 and ad["conversion"] == 1.0


def test_organic_includes_orders_before_a_later_scan(table):
    org = _row(table, "channel_type", "organic")  # PC, PD, PH
    assert org["persons"] == 3 and org["buyers"] == 1
    assert org["gmv_total"] == pytest.approx(130.0)  # PC: 80 + 50
    assert org["repeat_k"] == 1 and org["repeat_rate"] == 1.0


def test_small_groups_are_not_ranked(warehouse, settings):
    t = channel_value(warehouse, level="channel_type", settings=settings, min_cohort=2)
    ranked = t[t["rankable"]]
    assert set(ranked["key"]) == {"organic", "referral"}  # 3 and 2 persons; the rest are 1
    assert t.loc[~t["rankable"], "rank"].isna().all()
    # organic persons with 90 observed days: PC, who bought 80 then; PH came on 02-01 (too
    # recent) and PD on 01-01, before the warehouse's first order (01-02): what PD bought
    # before that no export shows, so PD's windows are unobserved, not empty
    org, ref = _row(t, "channel_type", "organic"), _row(t, "channel_type", "referral")
    assert org["gmv90_n"] == 1 and org["gmv90_per_person"] == pytest.approx(80.0)
    assert org["conv_n"] == 2  # PC and PH; PD's conversion window is unobserved as well
    # the referrals came on 02-01: no 90-day GMV yet, so no rank either
    assert org["rank"] == 1 and ref["gmv90_n"] == 0 and ref["rank"] is pd.NA


def test_intervals_in_the_table_match_statsmodels(table):
    total = _row(table, "total", "all")
    lo, hi = proportion_confint(total["conv_k"], total["conv_n"], alpha=0.05, method="wilson")
    assert (total["conversion_lo"], total["conversion_hi"]) == pytest.approx((lo, hi))


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (12, 40), (99, 100), (500, 1000)])
def test_wilson_matches_statsmodels(k, n):
    lo, hi = wilson(np.array([k]), np.array([n]), 0.9)
    assert (lo[0], hi[0]) == pytest.approx(proportion_confint(k, n, alpha=0.1, method="wilson"))


@pytest.mark.parametrize("size", [2, 5, 40, 1000])
def test_t_interval_from_sums_matches_scipy(size):
    x = np.random.default_rng(size).lognormal(3, 1.2, size)
    mean, lo, hi = t_interval(np.array([size]), np.array([x.sum()]), np.array([(x * x).sum()]))
    ref = stats.t.interval(0.95, size - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean[0] == pytest.approx(x.mean()) and (lo[0], hi[0]) == pytest.approx(ref)


def test_one_value_has_a_mean_and_no_interval():
    mean, lo, hi = t_interval(np.array([1, 0]), np.array([5.0, 0.0]), np.array([25.0, 0.0]))
    assert mean[0] == 5.0 and np.isnan(lo[0]) and np.isnan(hi[0]) and np.isnan(mean[1])
