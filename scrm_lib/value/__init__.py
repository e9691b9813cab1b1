"""Customer value: RFM and segments, behaviour layers, lifecycle, CLV, KPIs against targets.

Every function computes per person, as of a reference date, inside the engine,
and returns a small pandas frame. See :mod:`scrm_lib.value.rfm` for the
counting rules shared by all of them.
"""
