"""A/B testing: person-level assignment and trustworthy analysis.

Assignment (:mod:`.assignment`), the statistics (:mod:`.frequentist`,
:mod:`.bayesian`, :mod:`.sequential`, :mod:`.cuped`, :mod:`.power`), the
engine's sufficient statistics per arm (:mod:`.metrics`) and the readout
(:mod:`.analysis`).
"""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "ExperimentResult": ".analysis",
        "analyze": ".analysis",
        "analyze_experiment": ".analysis",
        "sequential_readout": ".analysis",
        "list_experiments": ".analysis",
        "contamination_report": ".analysis",
        "assign": ".assignment",
        "log_exposures": ".assignment",
        "load_hillstrom": ".data",
        "minimum_detectable_effect": ".power",
        "sample_size": ".power",
    },
)
