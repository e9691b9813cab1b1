"""Rule conditions compiled to ibis, as of an instant: only data before it is read.

Each clause gives a per-person measure (a count, days since something, hours since
an unpaid cart); the rule keeps the persons whose every measure passes its op, with
the measures in words as the row's evidence. Counts are zero for persons without
rows, "days since" is empty for persons who never did it (an empty measure passes
no comparison). Column and tag clauses are the segment builder's filters; a tag
counts only from its ``since`` on, so replaying an earlier date does not see a tag
given later. Column clauses read the build's marts (RFM, churn scores) as they are:
those are the build's, not the run date's.

Times are epoch seconds; a day is the local calendar day of the project's time zone
(``days_since_last = 1`` is an order yesterday, whatever the hour).

Example
-------
>>> from scrm_lib.social.automation.rules import load_rules
>>> rule = load_rules().get("dormant_180d")
>>> with Inputs(con, at=1_796_054_400, day=dt.date(2026, 12, 1)) as inp:  # doctest: +SKIP
...     audience(inp, rule).execute()
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from scrm_lib.social.automation.rules import Rule

DAY, HOUR = 86_400, 3_600
COUNTED = ("paid", "refunded")


def _epoch(col: ir.TimestampValue) -> ir.IntegerValue:
    return col.epoch_seconds().cast("int64")


@dataclass
class Inputs:
    """The tables every rule reads, cut at ``at`` (epoch seconds, exclusive).

    Use it as a context: the persons, events, orders and messages are each cut and
    kept in the engine once (``cache``) for all the rules of a run, and dropped on
    exit while the connection is still open.
    """

    con: Any
    at: int
    day: dt.date  # the run's local date
    _kept: dict[str, ir.Table] = field(default_factory=dict)
    _tables: set[str] | None = None

    def __enter__(self) -> Inputs:
        return self

    def __exit__(self, *_: Any) -> None:
        while self._kept:
            self._kept.popitem()[1].release()

    def _once(self, key: str, make: Any) -> ir.Table:
        if key not in self._kept:
            self._kept[key] = make().cache()
        return self._kept[key]

    def tables(self) -> set[str]:
        if self._tables is None:
            self._tables = set(self.con.list_tables())
        return self._tables

    def pm(self) -> ir.Table:
        from scrm_lib.warehouse.steps import person_map

        return self._once("pm", lambda: person_map(self.con))

    def persons(self) -> ir.Table:
        return self._once("persons", self._persons)

    def _persons(self) -> ir.Table:
        """``person_id, first_seen``: persons with an account seen before ``at``."""
        acc = self.con.table("accounts")
        acc = acc.select("account_id", fs=_epoch(acc.first_seen))
        j = acc.inner_join(self.pm(), "account_id")
        j = j.filter(j.fs < self.at)
        return j.group_by("person_id").aggregate(first_seen=j.fs.min())

    def events(self) -> ir.Table:
        return self._once("events", self._events)

    def _events(self) -> ir.Table:
        if "events" not in self.tables():
            return self._none(ts="int64", type="string", attributes="string")
        e = self.con.table("events")
        e = e.select("account_id", "type", "attributes", ts=_epoch(e.ts))
        j = e.inner_join(self.pm(), "account_id")
        return j.filter(j.ts < self.at).select("person_id", "ts", "type", "attributes")

    def orders(self, where: dict[str, list[str]] | None = None) -> ir.Table:
        """Counted orders (paid, or refunded in part) per person: ``person_id, ts``."""
        if where:
            return self._orders(where)
        return self._once("orders", self._orders)

    def _orders(self, where: dict[str, list[str]] | None = None) -> ir.Table:
        if "orders" not in self.tables():
            return self._none(ts="int64")
        o = self.con.table("orders")
        o = o.filter(o.status.isin(COUNTED))
        for col, values in (where or {}).items():
            o = o.filter(o[col].isin(values))
        when = _epoch(ibis.coalesce(o.paid_at, o.created_at))
        net = o.amount.cast("float64").fill_null(0.0) - o.refund_amount.cast("float64").fill_null(
            0.0
        )
        lines = o.select("platform", "order_id", "account_id", ts=when, net=net)
        per = lines.group_by(["platform", "order_id"]).aggregate(
            account_id=lines.account_id.min(), ts=lines.ts.min(), net=lines.net.sum()
        )
        per = per.filter((per.net > 0) & (per.ts < self.at))
        j = per.inner_join(self.pm(), "account_id")
        return j.select("person_id", "ts")

    def messages(self) -> ir.Table:
        """The persons' own messages: ``person_id, ts, intent, sentiment, staff_id``."""
        return self._once("messages", self._messages)

    def _messages(self) -> ir.Table:
        t = self.tables()
        if "message_tags" in t:
            m = self.con.table("message_tags")
            m = m.filter(m.direction == "in")
            m = m.select("person_id", "intent", "sentiment", "staff_id", ts=_epoch(m.ts))
        elif "messages" in t:  # built before the conversations step: no intents
            m = self.con.table("messages")
            m = m.filter(m.direction == "in")
            m = m.inner_join(self.pm(), "account_id")
            m = m.select("person_id", "staff_id", ts=_epoch(m.ts),
                         intent=ibis.null("string"), sentiment=ibis.null("string"))  # fmt: skip
        else:
            return self._none(ts="int64", intent="string", sentiment="string", staff_id="string")
        return m.filter(m.ts < self.at)

    def _none(self, **types: str) -> ir.Table:
        p = self._persons()
        p = p.filter(ibis.literal(False))
        return p.select("person_id", **{c: ibis.null(t) for c, t in types.items()})


def _compare(v: ir.NumericValue, op: str, value: Any) -> ir.BooleanValue:
    if op == "between":
        return v.between(value[0], value[1])
    if op == "in":
        return v.isin(value)
    if op == "not_in":
        return v.notin(value)
    return {"==": v == value, "!=": v != value, ">": v > value, ">=": v >= value,
            "<": v < value, "<=": v <= value}[op]  # fmt: skip


def _days_since(inp: Inputs, ts: ir.IntegerValue) -> ir.IntegerValue:
    """Local calendar days from ``ts`` to the run day (yesterday: 1)."""
    # ``at`` is the run day's local midnight: a moment in the day before is 1 day ago
    return ((inp.at - ts + DAY - 1) // DAY).cast("int64")


def _window(c: dict[str, Any]) -> float | None:
    if "within_hours" in c:
        return c["within_hours"] * HOUR
    if "within_days" in c:
        return c["within_days"] * DAY
    return None


def _attr_pattern(key: str, text: str) -> str:
    return f'"{re.escape(key)}"\\s*:\\s*"[^"]*{re.escape(text)}'


def clause_measure(inp: Inputs, c: dict[str, Any]) -> tuple[ir.Table, str, bool]:
    """``(person_id, v[, due])`` for a trigger clause; its label; whether v defaults to 0."""
    kind, span = c["clause"], _window(c)
    if kind == "events":
        e = inp.events()
        e = e.filter(e.type.isin(c["types"]))
        for key, text in c.get("attrs", {}).items():
            e = e.filter(e.attributes.re_search(_attr_pattern(key, text)).fill_null(False))
        if span is not None:
            e = e.filter(e.ts >= inp.at - span)
        return e.group_by("person_id").aggregate(v=e.count()), "+".join(c["types"]), True
    if kind == "messages":
        m = inp.messages()
        if c["intent"] == "negative":
            m = m.filter(m.sentiment == "negative")
        elif c["intent"] != "any":
            m = m.filter(m.intent == c["intent"])
        if span is not None:
            m = m.filter(m.ts >= inp.at - span)
        return m.group_by("person_id").aggregate(v=m.count()), f"messages:{c['intent']}", True
    if kind == "orders":
        o = inp.orders(c.get("where"))
        if span is not None:
            o = o.filter(o.ts >= inp.at - span)
        label = "orders" + ("(" + ",".join(c["where"]) + ")" if c.get("where") else "")
        if c["measure"] == "count":
            return o.group_by("person_id").aggregate(v=o.count()), label, True
        agg = o.ts.max() if c["measure"] == "days_since_last" else o.ts.min()
        g = o.group_by("person_id").aggregate(last=agg)
        return (
            g.select("person_id", v=_days_since(inp, g["last"])),
            f"{label}:{c['measure']}",
            False,
        )
    if kind == "activity":
        parts = [inp.events().select("person_id", "ts"), inp.orders().select("person_id", "ts"),
                 inp.messages().select("person_id", "ts")]  # fmt: skip
        a = ibis.union(*parts)
        g = a.group_by("person_id").aggregate(last=a.ts.max())
        return g.select("person_id", v=_days_since(inp, g["last"])), "silent_days", False
    if kind == "person":
        p = inp.persons()
        return (
            p.select("person_id", v=_days_since(inp, p.first_seen)),
            "days_since_first_seen",
            False,
        )
    if kind == "cart":
        e = inp.events()
        carts = e.filter(e.type == "cart_add")
        last = carts.group_by("person_id").aggregate(cart_ts=carts.ts.max())
        o = inp.orders()
        paid = last.inner_join(o, "person_id")
        paid = paid.filter(paid.ts >= paid.cart_ts).select("person_id").distinct()
        open_ = last.anti_join(paid, "person_id")
        hours = (inp.at - open_.cart_ts).cast("float64") / HOUR
        low = c["value"][0] if c["op"] == "between" else c["value"] if c["op"] in (">", ">=") else 0
        due = open_.cart_ts + round(float(low) * HOUR)
        return open_.select("person_id", v=hours, due=due), "cart_unpaid_hours", False
    if kind == "birthday":
        return _birthdays(inp), "days_to_birthday", False
    raise ValueError(f"unknown clause {kind!r}")  # validated before: a bug if reached


def _birthdays(inp: Inputs) -> ir.Table:
    """``person_id, v``: days from the run day to the person's next birthday (0 to 366)."""
    if "identifiers" not in inp.tables():
        return inp._none(v="int64")
    days = []
    for k in range(367):
        d = inp.day + dt.timedelta(days=k)
        days.append({"md": d.strftime("%m-%d"), "k": k})
        if d.month == 3 and d.day == 1 and not _leap(d.year):
            days.append({"md": "02-29", "k": k - 1})  # celebrated on 28 February
    cal = ibis.memtable(days).group_by("md").aggregate(k=ibis._.k.min())
    ids = inp.con.table("identifiers")
    ids = ids.filter(ids.kind == "birthday")
    ids = ids.select("account_id", md=ids.value.substr(5, 5))
    j = ids.inner_join(inp.pm(), "account_id").inner_join(cal, "md")
    return j.group_by("person_id").aggregate(v=j.k.min().cast("int64"))


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _tagged(inp: Inputs, t: ir.Table, c: dict[str, Any]) -> ir.Table:
    """``t`` kept to persons holding the tag before ``at`` (since within ``within_days``)."""
    from scrm_lib.tags.registry import tags_table

    pt = tags_table(inp.con)
    if pt is None:
        return t.filter(ibis.literal(False)) if c["op"] == "has_tag" else t
    pt = pt.filter(pt.tag == c["tag"])
    if "value" in c:
        pt = pt.filter(pt.value.isin(c["value"]))
    since = _epoch(pt.since)
    pt = pt.filter(since.isnull() | (since < inp.at))
    if "within_days" in c:
        pt = pt.filter(since >= inp.at - c["within_days"] * DAY)
    pt = pt.select("person_id").distinct()
    return t.semi_join(pt, "person_id") if c["op"] == "has_tag" else t.anti_join(pt, "person_id")


def audience(inp: Inputs, rule: Rule) -> ir.Table:
    """``person_id, due_at, evidence``: the persons ``rule`` selects as of ``inp.at``.

    ``due_at`` is when the condition became true (a cart's 24th hour) for a rule with
    such a clause, else null (the rule's send time applies).
    """
    from scrm_lib.segments.definitions import _persons_table, _predicate

    t = inp.persons().select("person_id")
    cols = [c for c in rule.when if c["clause"] == "column"]
    if cols:
        # only the marts holding the rule's columns: a rule's expression compiles in half
        base = _persons_table(inp.con, {c["column"] for c in cols}, tables=inp.tables())
        for c in cols:
            base = base.filter(_predicate(base, c))
        t = t.semi_join(base.select("person_id"), "person_id")
    for c in rule.when:
        if c["clause"] == "tag":
            t = _tagged(inp, t, c)
    evidence: list[ir.StringValue] = []
    due = None
    for i, c in enumerate(rule.when):
        if c["clause"] in ("column", "tag"):
            continue
        m, label, zero = clause_measure(inp, c)
        name = f"v{i}"
        cols_m = {name: m.v}
        if "due" in m.columns:
            cols_m[f"due{i}"] = m.due
        m = m.select("person_id", **cols_m)
        t = t.left_join(m, "person_id").drop("person_id_right")
        if zero:
            t = t.mutate(**{name: t[name].fill_null(0)})
        t = t.filter(_compare(t[name], c["op"], c["value"]).fill_null(False))
        shown = t[name].round(1) if label == "cart_unpaid_hours" else t[name]
        evidence.append(ibis.literal(f"{label}=") + shown.cast("string"))
        if f"due{i}" in t.columns:
            due = t[f"due{i}"]
    for c in rule.when:
        if c["clause"] in ("column", "tag"):
            what = c.get("column") or f"tag:{c['tag']}"
            val = c.get("value")
            evidence.append(ibis.literal(f"{what} {c['op']} {val}" if val is not None else what))
    text = evidence[0] if evidence else ibis.literal("")
    for e in evidence[1:]:
        text = text + "; " + e
    return t.select("person_id", due_at=due if due is not None else ibis.null("int64"),
                    evidence=text)  # fmt: skip
