"""The churn label: no purchase within N days after the cutoff.

``churned = 1`` when the person makes no purchase (an order with net value
above 0: a fully refunded order is no purchase) in ``[cutoff, cutoff + N
days)``. N is ``horizon_days`` (90) for everyone, or, with
``cycle_multiple > 0``, ``cycle_multiple`` × the person's own purchase cycle
kept between ``min_horizon_days`` and ``horizon_days``: a monthly diaper
buyer silent for 60 days is gone, a twice-a-year buyer is not.

Example
-------
>>> from scrm_lib.churn.labels import label_frame
>>> label_frame(con, cut, features, cfg=cfg).churned.mean()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from scrm_lib.churn.config import ChurnError
from scrm_lib.value._base import SECONDS_PER_DAY as DAY
from scrm_lib.value._base import AsOf, person_orders, value_config


def horizons(cycle_days: pd.Series, cfg: dict[str, Any]) -> pd.Series:
    """Days of the label window per person (see the module notes).

    Examples
    --------
    >>> cfg = {"horizon_days": 90, "cycle_multiple": 3.0, "min_horizon_days": 30}
    >>> horizons(pd.Series([7.0, 21.0, 60.0, None]), cfg).tolist()
    [30, 63, 90, 90]
    """
    h = float(cfg["horizon_days"])
    if not cfg["cycle_multiple"]:
        return pd.Series(int(h), index=cycle_days.index, dtype="int64")
    scaled = (cycle_days.astype("float64") * cfg["cycle_multiple"]).round()
    scaled = scaled.clip(lower=cfg["min_horizon_days"], upper=h).fillna(h)
    return scaled.astype("int64")


def label_frame(
    con: Any, cut: AsOf, population: pd.DataFrame, *, cfg: dict[str, Any], settings: Any
) -> pd.DataFrame:
    """``person_id, horizon_days, churned`` for the persons of ``population`` at ``cut``.

    ``population`` needs ``person_id`` and ``cycle_days`` (the feature frame).
    The purchases after the cutoff are counted in the engine.
    """
    if population.empty:
        raise ChurnError(f"nobody to label at {cut.date}")
    pop = population[["person_id"]].copy()
    pop["horizon_days"] = horizons(population["cycle_days"], cfg).to_numpy()
    pop["end_ts"] = cut.cutoff_epoch + pop["horizon_days"] * DAY
    o = person_orders(con, cfg=value_config(settings))
    o = o.filter((o.ts >= cut.cutoff_epoch) & (o.net > 0))
    o = o.filter(o.ts < cut.cutoff_epoch + int(pop["horizon_days"].max()) * DAY)
    m = ibis.memtable(pop.astype({"person_id": "string", "end_ts": "int64"}))
    j = m.inner_join(o, [m.person_id == o.person_id, o.ts < m.end_ts])
    bought = con.execute(j.select(pid=m.person_id).distinct())["pid"].astype(str)
    out = pop[["person_id", "horizon_days"]].copy()
    out["churned"] = np.where(out["person_id"].isin(set(bought)), 0, 1).astype("int64")
    return out
