"""Random identifiers in the shapes the platforms use, built in bulk."""

from __future__ import annotations

import numpy as np
import pandas as pd

_B64 = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8
)
_LOWER = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def random_strings(rng: np.random.Generator, n: int, length: int, alphabet=_B64) -> np.ndarray:
    """``n`` random ASCII strings of ``length`` characters from ``alphabet``."""
    codes = alphabet[rng.integers(0, len(alphabet), size=(n, length))]
    return codes.view(f"S{length}").ravel().astype(f"U{length}").astype(object)


def lowercase(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    return random_strings(rng, n, length, _LOWER)


def unique_ints(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """``n`` distinct integers in ``[low, high)``, in random order.

    Draws a few extra and drops repeats instead of shuffling the whole range,
    which would not fit in memory for phone-number-sized ranges.
    """
    if high - low < n:
        raise ValueError("range too small")
    out = np.empty(0, dtype="int64")
    while len(out) < n:
        extra = rng.integers(low, high, size=int((n - len(out)) * 1.1) + 16)
        cand = np.concatenate([out, extra])
        _, first = np.unique(cand, return_index=True)
        out = cand[np.sort(first)]
    return out[:n]


def increasing_ids(rng: np.random.Generator, n: int, base: int, step: int) -> np.ndarray:
    """Increasing numeric ids with gaps of at least ``step`` (room for derived ids)."""
    return base + np.cumsum(rng.integers(step, step * 40, size=n), dtype="int64")


def as_str(values) -> pd.Series:
    """Integers to a pandas string column (fast path through pyarrow)."""
    return pd.Series(np.asarray(values)).astype("int64").astype(str)
