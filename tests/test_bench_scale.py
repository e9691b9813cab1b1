"""The scale series' growth fit (bench/scale_marts.py) on values whose exponent is known."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import scale_marts  # noqa: E402


def test_a_power_law_gives_back_its_exponent_and_projection() -> None:
    xs = [1e5, 1e6, 1e7]
    got = scale_marts.fit(xs, [2.0 * x**1.5 for x in xs])
    assert got["b"] == pytest.approx(1.5, abs=1e-9)
    assert got["a"] == pytest.approx(2.0, rel=1e-9)
    assert got["at_100m"] == pytest.approx(2.0 * 1e8**1.5, rel=1e-6)


def test_linear_time_with_a_fixed_cost_fits_below_one() -> None:
    # 5 s fixed + 1 µs per order: the whole-range fit sees less than linear growth
    xs = [1e5, 1e6, 1e7]
    got = scale_marts.fit(xs, [5 + x * 1e-6 for x in xs])
    assert 0 < got["b"] < 1


def test_one_point_is_no_fit() -> None:
    assert scale_marts.fit([1e6], [3.0]) is None
