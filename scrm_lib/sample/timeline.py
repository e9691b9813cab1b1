"""The simulated calendar: window, seasonality, and time formatting.

Inside the generator a moment is an int64 count of seconds since the
window start, in Asia/Shanghai local time; writers turn it into each
platform's spelling (local text, unix seconds, unix milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY = 86_400
SHANGHAI_OFFSET = 8 * 3600

# Spring Festival (正月初一) dates; the week around it is a shopping dip.
SPRING_FESTIVAL = [
    "2019-02-05",
    "2020-01-25",
    "2021-02-12",
    "2022-02-01",
    "2023-01-22",
    "2024-02-10",
    "2025-01-29",
    "2026-02-17",
    "2027-02-06",
    "2028-01-26",
    "2029-02-13",
    "2030-02-03",
    "2031-01-23",
    "2032-02-11",
]

# Share of orders placed in each hour of the day (evening peak, a midnight bump on 双11).
HOUR_WEIGHTS = np.array(
    [
        3,
        1.5,
        0.8,
        0.4,
        0.3,
        0.3,
        0.6,
        1.5,
        3,
        4,
        5,
        5.5,
        5,
        4.5,
        4.5,
        4.5,
        4.5,
        4.5,
        5,
        6,
        8,
        9,
        8,
        5,
    ],
    dtype=float,
)


@dataclass(frozen=True)
class Window:
    """The simulated period ``[start, end]`` (whole local days)."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def days(self) -> int:
        return int((self.end - self.start).days) + 1

    @property
    def seconds(self) -> int:
        return self.days * DAY

    @property
    def unix_start(self) -> int:
        """Unix seconds of the window start (local midnight)."""
        return int(self.start.value // 1_000_000_000) - SHANGHAI_OFFSET

    def offset(self, date: str | pd.Timestamp) -> int:
        """Seconds from the window start to local midnight of ``date``."""
        return int((pd.Timestamp(date) - self.start).total_seconds())

    def local_text(self, t: np.ndarray, fmt: str = "iso") -> np.ndarray:
        """Local time text, ``YYYY-MM-DD HH:MM:SS``.

        ``fmt``: ``'slash'`` gives ``YYYY/MM/DD HH:MM``, ``'slash_s'``
        ``YYYY/MM/DD HH:MM:SS``, ``'cn'`` ``YYYY年MM月DD日 HH:MM:SS``,
        ``'date'`` the date, ``'compact'`` ``YYYYMMDDHHMMSS``.
        """
        stamps = np.datetime64(self.start.to_datetime64(), "s") + np.asarray(t, dtype="int64")
        text = pd.Series(np.datetime_as_string(stamps, unit="s"))
        if fmt == "slash":
            return (text.str.slice(0, 16).str.replace("-", "/").str.replace("T", " ")).to_numpy()
        if fmt == "slash_s":
            return text.str.replace("-", "/").str.replace("T", " ").to_numpy()
        if fmt == "cn":
            d, h = text.str.slice(0, 10), text.str.slice(11)
            ymd = d.str.slice(0, 4) + "年" + d.str.slice(5, 7) + "月" + d.str.slice(8, 10) + "日"
            return (ymd + " " + h).to_numpy()
        if fmt == "date":
            return text.str.slice(0, 10).to_numpy()
        if fmt == "compact":
            return text.str.replace(r"[-T:]", "", regex=True).to_numpy()
        return text.str.replace("T", " ").to_numpy()

    def unix_s(self, t: np.ndarray) -> np.ndarray:
        return np.asarray(t, dtype="int64") + self.unix_start

    def unix_ms(self, t: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        ms = (np.asarray(t, dtype="int64") + self.unix_start) * 1000
        if rng is not None:
            ms = ms + rng.integers(0, 1000, size=ms.shape)
        return ms

    def iso_offset(self, t: np.ndarray) -> np.ndarray:
        """ISO 8601 with the +08:00 offset, e.g. ``2025-03-05T10:00:00+08:00``."""
        stamps = np.datetime64(self.start.to_datetime64(), "s") + np.asarray(t, dtype="int64")
        return (pd.Series(np.datetime_as_string(stamps, unit="s")) + "+08:00").to_numpy()


def seasonality(window: Window) -> np.ndarray:
    """Relative order intensity per day of the window (1 = an ordinary day).

    618 (June 1–18) and 双11 (Nov 1–11) are spikes, the days just before them a
    lull of held-back carts, and the fortnight around Spring Festival a dip
    (couriers stop).
    """
    days = pd.date_range(window.start, window.end, freq="D")
    m = np.ones(len(days))
    month, dom = days.month.to_numpy(), days.day.to_numpy()
    m[(month == 6) & (dom <= 18)] = 2.2
    m[(month == 6) & (dom == 18)] = 3.5
    m[(month == 5) & (dom >= 25)] = 0.8
    m[(month == 11) & (dom <= 11)] = 2.8
    m[(month == 11) & (dom == 11)] = 5.0
    m[(month == 10) & (dom >= 25)] = 0.8
    m[(month == 12) & (dom == 12)] = 1.8
    for sf in SPRING_FESTIVAL:
        centre = pd.Timestamp(sf)
        lo, hi = centre - pd.Timedelta(days=7), centre + pd.Timedelta(days=7)
        m[(days >= lo) & (days <= hi)] = 0.45
    return m


def draw_second_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds into a day, with the evening peak of online shopping."""
    hours = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return hours * 3600 + rng.integers(0, 3600, size=n)
