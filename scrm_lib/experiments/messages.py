"""Error codes and the user error of the experiments package.

Expected statistical edge cases (an arm with no units, zero variance, a
baseline of zero) are not exceptions: a test returns its result with
``error`` set to one of these codes, so a page or a report can show the
reason next to the metric instead of failing. Bad input (negative counts,
conversions above exposures, unknown arms) raises :class:`ExperimentInputError`.

Example
-------
>>> describe(ZERO_VARIANCE)
'zero variance in an arm: every unit has the same value, no test possible'
"""

from __future__ import annotations

from scrm_lib.errors import ConfigError

NO_UNITS_IN_ARM = "NO_UNITS_IN_ARM"
TOO_FEW_UNITS = "TOO_FEW_UNITS"
ZERO_VARIANCE = "ZERO_VARIANCE"
ZERO_BASELINE = "ZERO_BASELINE"
TOO_FEW_CLUSTERS = "TOO_FEW_CLUSTERS"
SINGULAR_COVARIATES = "SINGULAR_COVARIATES"

MESSAGES = {
    NO_UNITS_IN_ARM: "an arm has no units",
    TOO_FEW_UNITS: "an arm has fewer than 2 units: no variance estimate",
    ZERO_VARIANCE: "zero variance in an arm: every unit has the same value, no test possible",
    ZERO_BASELINE: "the control mean is 0: the relative lift is undefined",
    TOO_FEW_CLUSTERS: "an arm has fewer than 2 clusters: no cluster-robust variance",
    SINGULAR_COVARIATES: "the CUPED covariates are constant or collinear: no adjustment made",
}


def describe(code: str | None) -> str:
    """The sentence for an error code ('' for None)."""
    if code is None:
        return ""
    return MESSAGES.get(code, code)


class ExperimentInputError(ConfigError):
    """Input an experiment analysis cannot use: negative counts, unknown arms, empty data."""
