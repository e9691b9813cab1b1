"""Customer value: RFM and segments, behaviour layers, lifecycle, CLV, KPIs against targets.

Every function computes per person, as of a reference date, inside the engine,
and returns a small pandas frame. See :mod:`scrm_lib.value.rfm` for the
counting rules shared by all of them.
"""

from scrm_lib._api import public

# rfm, clv and kpis share their names with the modules that define them: as
# attributes of this package they are those modules once imported, while
# ``scrm_lib.rfm`` (the facade) is always the function.
__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "rfm": ".rfm:rfm",
        "rfm_segments": ".rfm:segment_summary",
        "clv": ".clv:clv",
        "kpis": ".kpis:kpis",
        "lifecycle_stages": ".lifecycle:stages",
        "value_layers": ".layers:layers",
    },
)
