"""A/B testing: person-level assignment and trustworthy analysis.

Public names (also re-exported from :mod:`scrm_lib`): :func:`analyze`,
:func:`analyze_experiment`, :func:`assign`, :func:`contamination_report`,
:func:`list_experiments`, :func:`sample_size`, :func:`minimum_detectable_effect`,
:func:`load_hillstrom`.
"""

from __future__ import annotations

from scrm_lib.experiments.analysis import (
    ExperimentResult,
    analyze,
    analyze_experiment,
    sequential_readout,
)
from scrm_lib.experiments.assignment import assign, log_exposures
from scrm_lib.experiments.data import load_hillstrom
from scrm_lib.experiments.power import minimum_detectable_effect, sample_size


def list_experiments(warehouse=None):
    """Experiments in the warehouse with units per arm (path or connection)."""
    from scrm_lib.experiments.analysis import _connect
    from scrm_lib.experiments.metrics import list_experiments as _list

    return _list(_connect(warehouse))


def contamination_report(warehouse, experiment: str):
    """Persons whose accounts (or groups) landed in more than one arm."""
    from scrm_lib.experiments.analysis import _connect
    from scrm_lib.experiments.metrics import contamination

    return contamination(_connect(warehouse), experiment)


__all__ = [
    "ExperimentResult",
    "analyze",
    "analyze_experiment",
    "assign",
    "contamination_report",
    "list_experiments",
    "load_hillstrom",
    "log_exposures",
    "minimum_detectable_effect",
    "sample_size",
    "sequential_readout",
]
