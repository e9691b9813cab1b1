"""Plausibility rules: values that parse but cannot be true are rejected, not loaded.

A typo'd amount of 99,999,999,999,999.00 or a time in 1970 parses fine and
would then dominate RFM, CLV and the KPIs. Every row breaking a rule goes
to ``rejects`` with its file, line, column, reason and raw value (so rows
in = accepted + rejected still holds). The rules and their defaults, set in
``scrm.toml``::

    [plausibility]
    max_order_amount = 1000000     # CNY; an order (or refund) above it is rejected
    negative_amount = "refund"     # "refund": a negative amount only on a refunded
                                   # order (status refunded or a refund amount);
                                   # "reject": never; "allow": always
    min_time = "2000-01-01"        # any timestamp before it is rejected
    max_future_days = 1            # any timestamp this far past the parse time is rejected
    max_quantity = 10000           # order quantity above it is rejected; 0 or below too
    enabled = true                 # false turns every rule off

Times are checked on every timestamp an adapter reads (order, event,
message, touch times, first sightings); amounts and quantities on the
``orders`` table.

Example
-------
>>> rules = plausibility_rules({"plausibility": {"max_order_amount": 50000}})
>>> rules.max_order_amount, rules.max_quantity
(50000.0, 10000)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import pandas as pd

from scrm_lib.errors import ConfigError

NEGATIVE = ("refund", "reject", "allow")


@dataclass(frozen=True)
class PlausibilityRules:
    """The plausibility settings (see the module docstring for what each does)."""

    max_order_amount: float = 1_000_000.0
    negative_amount: str = "refund"
    min_time: str = "2000-01-01"
    max_future_days: float = 1.0
    max_quantity: int = 10_000
    enabled: bool = True

    @property
    def earliest(self) -> pd.Timestamp:
        ts = pd.Timestamp(self.min_time)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")

    def latest(self, now: pd.Timestamp | None = None) -> pd.Timestamp:
        now = pd.Timestamp.now(tz="UTC") if now is None else now
        return now + pd.Timedelta(days=self.max_future_days)

    def fingerprint(self) -> dict[str, Any]:
        """The settings as plain values (part of the parse cache key)."""
        return asdict(self)


def plausibility_rules(source: Any = None) -> PlausibilityRules:
    """The rules from ``settings.extra["plausibility"]`` (or a dict of sections) over the defaults.

    Raises ``ConfigError`` naming an unknown key or a bad value.

    Example
    -------
    >>> plausibility_rules().min_time
    '2000-01-01'
    """
    extra = source if isinstance(source, dict) else getattr(source, "extra", None) or {}
    raw = dict(extra.get("plausibility", {}) or {})
    known = {f.name: f for f in fields(PlausibilityRules)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(
            f"[plausibility]: unknown key {', '.join(unknown)}; known: {', '.join(known)}"
        )
    values: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            if key in ("max_order_amount", "max_future_days"):
                values[key] = float(value)
                if values[key] <= 0:
                    raise ValueError
            elif key == "max_quantity":
                values[key] = int(value)
                if values[key] <= 0:
                    raise ValueError
            elif key == "enabled":
                if not isinstance(value, bool):
                    raise ValueError
                values[key] = value
            elif key == "negative_amount":
                if value not in NEGATIVE:
                    raise ValueError
                values[key] = value
            elif key == "min_time":
                pd.Timestamp(str(value))
                values[key] = str(value)
        except (TypeError, ValueError):
            raise ConfigError(f"[plausibility]: {key} = {value!r} is not valid") from None
    return PlausibilityRules(**values)


def implausible_times(ts: pd.Series, rules: PlausibilityRules, now: pd.Timestamp) -> pd.Series:
    """A reason per implausible timestamp (NA where fine or missing).

    Example
    -------
    >>> ts = pd.Series(pd.to_datetime(["1970-01-02", "2025-01-01"], utc=True))
    >>> now = pd.Timestamp("2025-06-01", tz="UTC")
    >>> implausible_times(ts, PlausibilityRules(), now).tolist()
    ['timestamp before 2000-01-01', nan]
    """
    out = pd.Series(pd.NA, index=ts.index, dtype="str")
    if not rules.enabled or ts.isna().all():
        return out
    out = out.mask(ts < rules.earliest, f"timestamp before {rules.min_time}")
    days = f"{rules.max_future_days:g} day{'s' if rules.max_future_days != 1 else ''}"
    return out.mask(ts > rules.latest(now), f"timestamp more than {days} in the future")


def implausible_orders(
    orders: pd.DataFrame, rules: PlausibilityRules
) -> list[tuple[str, pd.Series]]:
    """``(canonical column, reason per row)`` for the amount and quantity rules on orders.

    Example
    -------
    >>> o = pd.DataFrame({"amount": [-35.0, 1e14, 10.0], "status": ["paid"] * 3,
    ...                   "refund_amount": [0.0] * 3, "quantity": [1, 1, 0]})
    >>> [(c, r.dropna().tolist()) for c, r in implausible_orders(o, PlausibilityRules())]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('amount', ['negative amount on an order that is not a refund',
                 'amount above the ceiling of 1,000,000 CNY']),
     ('quantity', ['quantity 0 or below'])]
    """
    if not rules.enabled or orders.empty:
        return []
    out = []
    reason = pd.Series(pd.NA, index=orders.index, dtype="str")
    if "amount" in orders:
        amount = pd.to_numeric(orders["amount"]).astype("Float64")
        if rules.negative_amount != "allow":
            neg = (amount < 0).fillna(False)
            if rules.negative_amount == "refund":
                status = orders.get("status", pd.Series(pd.NA, index=orders.index))
                refund = pd.to_numeric(
                    orders.get("refund_amount", pd.Series(0.0, index=orders.index))
                ).fillna(0)
                neg &= ~((status == "refunded").fillna(False) | (refund != 0))
            reason = reason.mask(neg, "negative amount on an order that is not a refund")
        ceiling = (amount.abs() > rules.max_order_amount).fillna(False)
        reason = reason.mask(
            ceiling, f"amount above the ceiling of {rules.max_order_amount:,.0f} CNY"
        )
        out.append(("amount", reason))
    if "quantity" in orders:
        qty = pd.to_numeric(orders["quantity"]).astype("Float64")
        q_reason = pd.Series(pd.NA, index=orders.index, dtype="str")
        q_reason = q_reason.mask((qty <= 0).fillna(False), "quantity 0 or below")
        q_reason = q_reason.mask(
            (qty > rules.max_quantity).fillna(False),
            f"quantity above {rules.max_quantity:,}",
        )
        out.append(("quantity", q_reason))
    return out
