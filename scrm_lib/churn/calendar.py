"""The promotion calendar: 618, 双11 / 双12 and Spring Festival, as days the engine can join on.

A quiet month before 618 or 双11 is customers holding their carts, and the
fortnight around Spring Festival is quiet because couriers stop; the model
sees how far the cutoff is from each, and which share of a person's
purchases fell in sale windows, so that such quiet is not read as churn.

Example
-------
>>> import datetime as dt
>>> cutoff_calendar(dt.date(2026, 5, 20))["days_to_next_sale"]
12
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

#: Lunar new year's day (public calendars); outside these years the feature is left empty.
SPRING_FESTIVAL: tuple[str, ...] = (
    "1996-02-19", "1997-02-07", "1998-01-28", "1999-02-16", "2000-02-05", "2001-01-24",
    "2002-02-12", "2003-02-01", "2004-01-22", "2005-02-09", "2006-01-29", "2007-02-18",
    "2008-02-07", "2009-01-26", "2010-02-14", "2011-02-03", "2012-01-23", "2013-02-10",
    "2014-01-31", "2015-02-19", "2016-02-08", "2017-01-28", "2018-02-16", "2019-02-05",
    "2020-01-25", "2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29",
    "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03", "2031-01-23",
    "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08",
)  # fmt: skip

EPOCH = dt.date(1970, 1, 1)


def sale_windows(year: int) -> list[tuple[dt.date, dt.date, str]]:
    """The big sales of ``year``: (first day, last day, name).

    Examples
    --------
    >>> [w[2] for w in sale_windows(2026)]
    ['618', '双11', '双12']
    """
    return [
        (dt.date(year, 6, 1), dt.date(year, 6, 18), "618"),
        (dt.date(year, 11, 1), dt.date(year, 11, 11), "双11"),
        (dt.date(year, 12, 12), dt.date(year, 12, 12), "双12"),
    ]


def promo_days(first_year: int = 1995, last_year: int = 2040) -> pd.DataFrame:
    """One row per sale day (``day``: days since 1970-01-01, local calendar) for a join."""
    days = []
    for year in range(first_year, last_year + 1):
        for lo, hi, _ in sale_windows(year):
            days.extend(range((lo - EPOCH).days, (hi - EPOCH).days + 1))
    return pd.DataFrame({"promo_day": pd.Series(sorted(set(days)), dtype="int64")})


def cutoff_calendar(day: dt.date) -> dict[str, float]:
    """Where ``day`` (the last day before the cutoff) sits in the promotion calendar.

    Returns ``days_to_next_sale`` (0 inside a sale), ``days_since_sale`` (days
    since the last sale day, 0 inside one) and ``days_to_spring_festival``
    (signed, to the nearest new year's day; NaN outside the known years).

    Examples
    --------
    >>> cutoff_calendar(dt.date(2026, 11, 5))["days_to_next_sale"]
    0
    """
    windows = [w for y in (day.year - 1, day.year, day.year + 1) for w in sale_windows(y)]
    inside = any(lo <= day <= hi for lo, hi, _ in windows)
    nxt = min((lo - day).days for lo, _, _ in windows if lo > day)
    since = min((day - hi).days for _, hi, _ in windows if hi < day)
    sf = [dt.date.fromisoformat(s) for s in SPRING_FESTIVAL]
    near = min(sf, key=lambda d: abs((d - day).days))
    to_sf = (near - day).days
    return {
        "days_to_next_sale": 0 if inside else nxt,
        "days_since_sale": 0 if inside else since,
        "days_to_spring_festival": float(to_sf) if abs(to_sf) <= 200 else float("nan"),
    }
