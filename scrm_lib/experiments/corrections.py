"""Multiple comparisons: Holm (family-wise error) and Benjamini–Hochberg (false discovery rate).

Apply across every arm × metric (× segment) comparison of a read-out, so
that looking at many lifts does not manufacture a winner.

Example
-------
>>> [round(p, 3) for p in adjust([0.01, 0.04, 0.03], method="holm")]
[0.03, 0.06, 0.06]

References
----------
Holm (1979), A simple sequentially rejective multiple test procedure, Scand. J. Stat. 6.
Benjamini & Hochberg (1995), Controlling the false discovery rate, JRSS B 57.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from scrm_lib.experiments.messages import ExperimentInputError

Correction = Literal["holm", "bh", "none"]


def adjust(p_values: Sequence[float], *, method: Correction = "holm") -> list[float]:
    """Adjusted p-values (NaN stays NaN and is not counted as a comparison).

    Examples
    --------
    >>> [round(p, 4) for p in adjust([0.01, 0.02, 0.03, 0.04], method="bh")]
    [0.04, 0.04, 0.04, 0.04]
    """
    if method not in ("holm", "bh", "none"):
        raise ExperimentInputError(f"correction must be holm, bh or none, not {method!r}")
    p = np.asarray(p_values, dtype=float)
    if ((p < 0) | (p > 1)).any():
        raise ExperimentInputError("p-values must lie between 0 and 1")
    out = np.full(p.shape, math.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0 or method == "none":
        out[ok] = q
        return out.tolist()
    order = np.argsort(q, kind="stable")
    ranked = q[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out.tolist()
