"""The referral graph against a brute-force count on random graphs.

Random links between accounts (rings, diamonds, self-loops, repeated pairs of
another kind) and a random account → person map (merges turn links into
self-referrals and make new rings): every person's downstream persons, downstream
GMV (each person once, their GMV since first invited), generation, direct
invitees and whether they are on a ring equal what networkx finds on the same
person graph.
"""

from __future__ import annotations

import datetime as dt
import os

import ibis
import networkx as nx
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrm_lib.engine import duckdb_connect, register_arrow
from scrm_lib.social.channels.attribution import person_orders_of
from scrm_lib.social.referrals.graph import Graph
from scrm_lib.social.referrals.persons import converted_links, person_frame
from tests.value.conftest import order, put

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
KINDS = ("invite", "group_leader", "distributor")


@st.composite
def graphs(draw):
    n = draw(st.integers(2, 9))
    accounts = [f"wechat:{i}" for i in range(n)]
    person = {a: f"P{draw(st.integers(0, n - 1))}" for a in accounts}
    pairs = st.tuples(st.sampled_from(accounts), st.sampled_from(accounts), st.sampled_from(KINDS))
    links = draw(st.lists(pairs, min_size=1, max_size=16, unique=True))
    days = st.integers(0, 60)
    links = [(s, d, k, draw(days)) for s, d, k in links]
    orders = draw(st.lists(st.tuples(st.sampled_from(accounts), days,
                                     st.integers(1, 500)), max_size=12))  # fmt: skip
    return person, links, orders


def _at(day: int) -> str:
    return (T0 + dt.timedelta(days=day, hours=1)).isoformat()


def brute_force(person, links, orders) -> pd.DataFrame:
    """Per person, from networkx on the person graph without self-referrals."""
    g = nx.DiGraph()
    invited: dict[str, int] = {}
    for s, d, _, day in links:
        ps, pd_ = person[s], person[d]
        g.add_node(ps)
        if ps != pd_:
            g.add_edge(ps, pd_)
            invited[pd_] = min(invited.get(pd_, day), day)
    gmv: dict[str, float] = {}
    for acc, day, amount in orders:
        p = person[acc]
        if p in invited and day >= invited[p]:
            gmv[p] = gmv.get(p, 0.0) + amount
    roots = [p for p in g if g.in_degree(p) == 0]
    gen: dict[str, int] = {}
    for r in roots:
        for p, d in nx.single_source_shortest_path_length(g, r).items():
            gen[p] = min(gen.get(p, d), d)
    rows = []
    for p in g:
        down = nx.descendants(g, p) - {p}
        in_ring = any(p == s or p in nx.descendants(g, s) for s in g.successors(p))
        rows.append({"person_id": p, "downstream_persons": len(down),
                     "downstream_gmv": sum(gmv.get(q, 0.0) for q in down),
                     "generation": gen.get(p), "direct_invitees": g.out_degree(p),
                     "in_ring": in_ring})  # fmt: skip
    return pd.DataFrame(rows).set_index("person_id").sort_index()


def computed(person, links, orders) -> pd.DataFrame:
    con = duckdb_connect()
    try:
        rows = [{"inviter_account_id": s, "invitee_account_id": d, "kind": k, "ts": _at(day),
                 "campaign": "c"} for s, d, k, day in links]  # fmt: skip
        put(con, "referrals", rows)
        put(con, "orders", [order(acc, f"o{i}", _at(day), float(amount))
                            for i, (acc, day, amount) in enumerate(orders)])  # fmt: skip
        pm = pd.DataFrame({"account_id": list(person), "person_id": list(person.values())})
        register_arrow(con, "person_accounts", pa.Table.from_pandas(pm, preserve_index=False))
        with Graph.of(con) as g:
            o = person_orders_of(con)
            conv = converted_links(g.links, o, 30)
            df = person_frame(g, o, conv, pd.DataFrame(columns=["person_id", "rule", "cost"]))
    finally:
        con.disconnect()
    return df.set_index("person_id").sort_index()


settings.register_profile(
    "referral-graph",
    max_examples=4,
    deadline=None,
    derandomize=os.environ.get("CI", "").lower() == "true",
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("referral-graph-slow", settings.get_profile("referral-graph"),
                          max_examples=60)  # fmt: skip

A, B, C, D = (f"wechat:{i}" for i in range(4))
ONE_EACH = {A: "P0", B: "P1", C: "P2", D: "P3"}
#: the shapes the random cases must not depend on luck to meet
SHAPES = {
    "ring": (ONE_EACH, [(A, B, "invite", 1), (B, C, "invite", 2), (C, A, "invite", 3),
                        (C, D, "invite", 4)], [(D, 5, 100), (B, 0, 50)]),
    "diamond": (ONE_EACH, [(A, B, "invite", 1), (A, C, "group_leader", 1),
                           (B, D, "invite", 2), (C, D, "distributor", 3)], [(D, 2, 80)]),
    "self-loop": (ONE_EACH, [(A, A, "invite", 1), (A, B, "invite", 2), (A, B, "group_leader", 3)],
                  [(B, 9, 20)]),
    "a merge makes a ring": ({A: "P0", B: "P1", C: "P0", D: "P2"},
                             [(A, B, "invite", 1), (B, C, "invite", 2), (C, D, "invite", 3)],
                             [(D, 4, 30)]),
}  # fmt: skip


def check(case) -> None:
    want, got = brute_force(*case), computed(*case)
    assert list(got.index) == list(want.index)
    assert got["downstream_persons"].tolist() == want["downstream_persons"].tolist()
    assert got["direct_invitees"].tolist() == want["direct_invitees"].tolist()
    assert got["in_ring"].tolist() == want["in_ring"].tolist()
    assert got["downstream_gmv"].to_numpy() == pytest.approx(want["downstream_gmv"].to_numpy())
    gens = [None if pd.isna(v) else int(v) for v in got["generation"]]
    assert gens == [None if pd.isna(v) else int(v) for v in want["generation"]]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_rings_diamonds_and_self_loops_match_a_brute_force_count(shape):
    check(SHAPES[shape])


@settings(settings.get_profile("referral-graph"))
@given(graphs())
def test_random_graphs_match_a_brute_force_count(case):
    check(case)


@pytest.mark.slow
@settings(settings.get_profile("referral-graph-slow"))
@given(graphs())
def test_many_random_graphs_match_a_brute_force_count(case):
    check(case)


def _depths(links: list[tuple[str, str, str]], by_campaign: bool) -> dict[tuple, int]:
    """(grp, ancestor, descendant) -> the shortest depth, by networkx; a person on a ring
    reaches themselves at the length of the shortest ring through them."""
    out: dict[tuple, int] = {}
    for grp in {c if by_campaign else "" for _, _, c in links}:
        g = nx.DiGraph([(s, d) for s, d, c in links if not by_campaign or c == grp])
        for a in g:
            for d, n in nx.single_source_shortest_path_length(g, a).items():
                if d != a:
                    out[(grp, a, d)] = n
            rings = [n + 1 for s, n in nx.single_source_shortest_path_length(g, a).items()
                     if g.has_edge(s, a)]  # fmt: skip
            if rings:
                out[(grp, a, a)] = min(rings)
    return out


# the closure grows in held tables, a DuckDB temporary table or a Spark checkpoint each
# generation: the same pairs and depths on both (Spark under `slow`)
@pytest.mark.parametrize("by_campaign", [False, True])
def test_the_closure_is_every_pair_at_its_shortest_depth_on_either_engine(backend, by_campaign):
    from scrm_lib.engine import Scratch
    from scrm_lib.social.referrals.graph import closure

    links = [("P0", "P1", "a"), ("P1", "P2", "a"), ("P2", "P0", "b"), ("P2", "P3", "a"),
             ("P0", "P3", "b"), ("P3", "P4", "a"), ("P5", "P3", "a"), ("P4", "P1", "a"),
             ("P1", "P2", "b")]  # fmt: skip
    frame = pd.DataFrame(links, columns=["src", "dst", "campaign"])
    with Scratch(backend, "test_closure") as scratch:
        out = closure(scratch, ibis.memtable(frame), by_campaign=by_campaign).execute()
        assert out["depth"].dtype == "int64"
    got = {(r.grp, r.ancestor_id, r.descendant_id): int(r.depth) for r in out.itertuples()}
    assert len(got) == len(out)  # one row a pair: its shortest depth
    assert got == _depths(links, by_campaign)
    assert max(got.values()) >= 4
    assert not [t for t in backend.list_tables() if "test_closure" in t]
