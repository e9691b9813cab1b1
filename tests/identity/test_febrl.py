"""The probabilistic stage on Febrl3 (5,000 records, dedupe) against its known duplicates."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from scrm_lib.identity.config import IdentityConfig
from scrm_lib.identity.evaluate import score_clusters
from scrm_lib.identity.graph import cluster_accounts
from scrm_lib.identity.matching import probabilistic_edges, to_pinyin

DATA = Path(__file__).parents[1] / "data" / "febrl" / "dataset3.csv"
# Measured at threshold 0.9: F1 0.982 (precision 1.000, recall 0.964); Splink's own
# model on the same data (bench/identity_febrl.py): F1 0.9995.
MIN_F1 = 0.975
MIN_PRECISION = 0.99


def test_febrl3_f1_above_floor():
    logging.getLogger("splink").setLevel(logging.ERROR)
    df = pd.read_csv(DATA, dtype=str, skipinitialspace=True, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    df = df.apply(lambda c: c.str.strip()).replace("", None)
    rec = pd.DataFrame(
        {
            "unique_id": df["rec_id"],
            "name": (df["given_name"].fillna("") + " " + df["surname"].fillna("")).str.strip(),
            "mphone": df["soc_sec_id"],
            "city": df["suburb"],
            "address": df["street_number"].fillna("") + " " + df["address_1"].fillna(""),
            "birthday": df["date_of_birth"],
        }
    )
    rec["name_py"] = to_pinyin(rec["name"])
    edges = probabilistic_edges(rec, IdentityConfig(threshold=0.9, max_pairs=1e6))
    assert not edges["ambiguous"].any()  # no platform column: no exclusivity
    lab = cluster_accounts(rec["unique_id"], edges[["a", "b"]])
    truth = pd.DataFrame(
        {"account_id": df["rec_id"], "person_id": df["rec_id"].str.extract(r"rec-(\d+)-")[0]}
    )
    s = score_clusters(pd.DataFrame({"account_id": lab.index, "person_id": lab.to_numpy()}), truth)
    assert s["pairwise_f1"] >= MIN_F1, s
    assert s["pairwise_precision"] >= MIN_PRECISION, s
