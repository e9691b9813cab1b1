"""Parameterized report notebooks: parameters, runs, rendering, the schedule, cli."""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "run_report": ".runner:run_report",
        "run_reports": ".runner:run_reports",
        "list_runs": ".runner:list_runs",
        "available_reports": ".runner:available_reports",
    },
)
