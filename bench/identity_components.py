"""Connected components: scrm's scipy routine vs networkx on 1M and 5M random edges.

Run: ``.venv/bin/python bench/identity_components.py`` (writes
``bench/results/identity_components.json``). Both must find the same
components; the ratio is networkx time / scrm time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import networkx as nx
import numpy as np

from scrm_lib.identity.graph import components


def one(n_edges: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = n_edges  # as many nodes as edges: many components, a giant one too
    src, dst = rng.integers(0, n, n_edges), rng.integers(0, n, n_edges)
    t = time.perf_counter()
    labels = components(n, src, dst)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    comps = list(nx.connected_components(g))
    theirs = time.perf_counter() - t
    sizes_ours = np.sort(np.bincount(labels))
    sizes_theirs = np.sort(np.array([len(c) for c in comps]))
    return {
        "edges": n_edges,
        "nodes": n,
        "components": len(sizes_ours),
        "same_components": bool(np.array_equal(sizes_ours, sizes_theirs)),
        "scrm_scipy_s": round(ours, 3),
        "networkx_s": round(theirs, 3),
        "speedup": round(theirs / ours, 1),
    }


def main() -> None:
    results = [one(1_000_000), one(5_000_000)]
    out = Path(__file__).parent / "results" / "identity_components.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for r in results:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
