"""The channels questions, answered: the public functions of the capability.

Each takes a ``warehouse`` (a path, an open connection, or None for the
configured one). Called with the build's settings they read the marts the
build wrote; with another rule, period or funnel they compute the answer
from the warehouse on the spot, in the engine, with the same code the build
runs (:func:`compute`).

Example
-------
>>> from scrm_lib.social.channels.analysis import channel_value, journey_funnel
>>> channel_value(level="channel_code").head()  # doctest: +SKIP
>>> journey_funnel(mode="any", since="2026-01-01")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.errors import ConfigError
from scrm_lib.social.channels.attribution import Inputs, acquisition_expr, to_frame, utc_offset
from scrm_lib.social.channels.config import channels_config, validate_steps
from scrm_lib.social.channels.funnel import funnel_frame
from scrm_lib.social.channels.staff import staff_frame
from scrm_lib.social.channels.touches import UNKNOWN, touches
from scrm_lib.social.channels.value import LEVELS, channel_value_frame
from scrm_lib.value._base import as_of_cut, parse_date, resolve_as_of


def _period(settings: Settings, since: Any, until: Any) -> tuple[int | None, int | None]:
    """``since`` and ``until`` (local dates, inclusive) as epochs: ``[start, end)``."""
    start = end = None
    if since is not None:
        day_before = parse_date(since, "since") - dt.timedelta(days=1)
        start = as_of_cut(day_before, settings.timezone).cutoff_epoch
    if until is not None:
        end = as_of_cut(until, settings.timezone).cutoff_epoch
    return start, end


def _acquired(
    con: Any,
    cfg: dict[str, Any],
    settings: Settings,
    period: tuple[int | None, int | None],
    inputs: Inputs | None = None,
    cut: Any = None,
) -> tuple[ir.Table, int]:
    """The acquisition expression (persons acquired in the period) and the as-of epoch
    (``cut``: the as-of day already resolved)."""
    if cut is None:
        cut = resolve_as_of(con, None, settings.timezone)
    acq = acquisition_expr(con, cfg, utc_offset(settings, cut.date), inputs)
    start, end = period
    if start is not None:
        acq = acq.filter(acq.acquired_ts >= start)
    if end is not None:
        acq = acq.filter(acq.acquired_ts < end)
    return (inputs.hold(acq) if inputs else acq), cut.cutoff_epoch


def compute(
    con: Any,
    *,
    settings: Settings,
    since: Any = None,
    until: Any = None,
    only: str | None = None,
    **overrides: Any,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The channels marts for ``con`` with ``[channels]`` settings and ``overrides``.

    ``only`` names one mart to compute (the others are left out).
    """
    cfg = channels_config(settings, **overrides)
    period = _period(settings, since, until)
    # no orders, no as-of day: the ValueDataError comes before the inputs are cached
    cut = resolve_as_of(con, None, settings.timezone)
    with Inputs.of(con) as inputs:
        acq, as_of = _acquired(con, cfg, settings, period, inputs, cut)
        makers = {
            "channel_acquisition": lambda: to_frame(acq.execute()).rename(
                columns={"cohort": "acquisition_cohort"}
            ),
            "channel_value": lambda: channel_value_frame(con, acq, cfg, as_of, inputs=inputs),
            "channel_staff": lambda: staff_frame(con, acq, as_of, inputs, period),
            "journey_funnel": lambda: funnel_frame(
                con, acq, cfg["funnel_steps"], mode=cfg["funnel_mode"], cohorts=True,
                confidence=float(cfg["confidence"]), inputs=inputs,
                min_size=cfg["min_cohort"],
            ),
        }  # fmt: skip
        frames = {name: make() for name, make in makers.items() if only in (None, name)}
        unknown = unknown_code_frame(con, inputs.touches) if only is None else None
    meta = {
        "as_of": dt.datetime.fromtimestamp(as_of, dt.UTC).isoformat(),
        "rule": cfg["attribution"],
        "conversion_days": cfg["conversion_days"],
        "min_cohort": cfg["min_cohort"],
        "funnel_mode": cfg["funnel_mode"],
        "funnel_steps": cfg["funnel_steps"],
    }
    if only is None:
        meta["unknown_codes"] = unknown.to_dict("records")
    return frames, meta


def _read_or_compute(
    warehouse: Warehouse, mart: str, settings: Settings | None, params: dict[str, Any]
) -> pd.DataFrame:
    settings = settings or load_settings()
    with using(warehouse) as con:
        if all(v is None for v in params.values()) and mart in con.list_tables():
            df = con.table(mart).execute()
            if mart == "channel_acquisition" or not df.empty:
                return df
        since, until = params.pop("since", None), params.pop("until", None)
        frames, _ = compute(con, settings=settings, since=since, until=until, only=mart, **params)
        return frames[mart]


def acquisition(
    warehouse: Warehouse = None,
    *,
    rule: str | None = None,
    since: Any = None,
    until: Any = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The acquisition channel of every person, with the touch that earned it.

    Parameters
    ----------
    rule
        ``first_touch`` or ``last_touch`` (before the first order); default ``[channels]``.
    since, until
        Only persons acquired in this period (local dates, inclusive).

    Examples
    --------
    >>> acquisition(rule="last_touch").channel_type.value_counts()  # doctest: +SKIP
    """
    params = {"attribution": rule, "since": since, "until": until}
    return _read_or_compute(warehouse, "channel_acquisition", settings, params)


def attribution(
    person_id: str,
    warehouse: Warehouse = None,
    *,
    rule: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """One person's acquisition under ``rule`` and every touch it was chosen from.

    Examples
    --------
    >>> attribution("P0A1B2C3D4E5")["acquisition"]["channel_type"]  # doctest: +SKIP
    '活码'
    """
    settings = settings or load_settings()
    cfg = channels_config(settings, attribution=rule)
    with using(warehouse) as con:
        cut = resolve_as_of(con, None, settings.timezone)
        acq = acquisition_expr(con, cfg, utc_offset(settings, cut.date))
        row = to_frame(acq.filter(acq.person_id == person_id).execute())
        if row.empty:
            raise ConfigError(f"no person {person_id!r} in this warehouse; see `scrm identity`")
        t = touches(con)
        seen = t.filter(t.person_id == person_id).order_by(["ts", "prio"]).execute()
        seen = to_frame(seen.rename(columns={"ts": "touch_ts"}).drop(columns=["prio"]))
    rec = row.rename(columns={"cohort": "acquisition_cohort"}).iloc[0]
    return {
        "person_id": person_id,
        "rule": cfg["attribution"],
        "acquisition": {k: _plain(v) for k, v in rec.items()},
        "touches": [{k: _plain(v) for k, v in r.items()} for r in seen.to_dict("records")],
    }


def _plain(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v.item() if hasattr(v, "item") else v


def channel_value(
    warehouse: Warehouse = None,
    *,
    level: str | None = None,
    cohorts: bool = False,
    rule: str | None = None,
    min_cohort: int | None = None,
    since: Any = None,
    until: Any = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """What the persons each channel brought are worth, with intervals, cost, CAC and ROI.

    Parameters
    ----------
    level
        ``channel_type``, ``campaign``, ``channel_code`` or ``staff`` (default: all levels
        and the total row).
    cohorts
        Also the monthly acquisition cohorts (default: the whole period only).
    min_cohort
        Groups smaller than this are shown but not ranked (default ``[channels] min_cohort``).

    Examples
    --------
    >>> channel_value(level="channel_code")[["key", "persons", "rank"]]  # doctest: +SKIP
    """
    if level is not None and level not in LEVELS:
        raise ConfigError(f"level {level!r}: one of {', '.join(LEVELS)}")
    params = {"attribution": rule, "since": since, "until": until}
    df = _read_or_compute(warehouse, "channel_value", settings, params)
    if min_cohort is not None:
        df = rerank(df, channels_config(settings, min_cohort=min_cohort)["min_cohort"])
    if level is not None:
        df = df[df["level"] == level]
    if not cohorts:
        df = df[df["cohort"] == "all"]
    return df.reset_index(drop=True)


def rerank(df: pd.DataFrame, min_cohort: int) -> pd.DataFrame:
    """``df`` (channel value rows) ranked again with another minimum group size."""
    df = df.copy()
    df["rankable"] = df["persons"] >= min_cohort
    by = df["gmv90_per_person"].where(df["rankable"] & (df["level"] != "total"))
    rank = by.groupby([df["level"], df["cohort"]]).rank(ascending=False, method="min")
    df["rank"] = rank.astype("Int64")
    return df


def staff_view(
    warehouse: Warehouse = None,
    *,
    rule: str | None = None,
    since: Any = None,
    until: Any = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The staff (导购) table: contacts, deletions, handovers and their cost, GMV, response time.

    Examples
    --------
    >>> staff_view().head()  # doctest: +SKIP
    """
    params = {"attribution": rule, "since": since, "until": until}
    return _read_or_compute(warehouse, "channel_staff", settings, params)


def journey_funnel(
    warehouse: Warehouse = None,
    *,
    steps: list[dict[str, Any]] | None = None,
    mode: str | None = None,
    cohorts: bool = False,
    rule: str | None = None,
    min_cohort: int | None = None,
    since: Any = None,
    until: Any = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The journey funnel for everyone and per acquisition channel type.

    Parameters
    ----------
    steps
        Ordered steps, e.g. ``[{"name": "cart", "events": ["cart_add"]},
        {"name": "first_order", "order": 1}]`` (default ``[channels] funnel_steps``).
    mode
        ``strict`` (each step after the one before) or ``any`` (in any order).
    min_cohort
        The worst step is chosen among steps at least this many persons reached the
        step before (default ``[channels] min_cohort``).

    Examples
    --------
    >>> f = journey_funnel(mode="any")  # doctest: +SKIP
    >>> f[f.group == "all"][["step", "persons", "from_previous", "worst"]]  # doctest: +SKIP
    """
    params = {
        "funnel_steps": validate_steps(steps) if steps is not None else None,
        "funnel_mode": mode, "attribution": rule, "min_cohort": min_cohort,
        "since": since, "until": until,
    }  # fmt: skip
    df = _read_or_compute(warehouse, "journey_funnel", settings, params)
    return (df if cohorts else df[df["cohort"] == "all"]).reset_index(drop=True)


def unknown_code_frame(con: Any, touched: ir.Table | None = None) -> pd.DataFrame:
    """Channel codes seen on touches that ``channels`` does not list: touches and persons.

    ``touched``: the touches when already built (:class:`.attribution.Inputs`).
    """
    t = touches(con) if touched is None else touched
    t = t.filter(t.channel_type == UNKNOWN)
    g = t.group_by(channel_code=t.channel_code).aggregate(
        touches=t.count(), persons=t.person_id.nunique()
    )
    return g.order_by([ibis.desc("touches"), "channel_code"]).execute()


def unknown_codes(warehouse: Warehouse = None) -> pd.DataFrame:
    """Channel codes that scans and adds carry but the channels table lacks (``unknown_code``).

    Examples
    --------
    >>> unknown_codes()  # doctest: +SKIP
    """
    with using(warehouse) as con:
        return unknown_code_frame(con)
