"""Febrl3 dedupe: the identity stage's probabilistic matcher beside a Splink reference model.

Both run Splink 5 on DuckDB over the same 5,000 records (rec-N-org and its
duplicates rec-N-dup-K are one person); clusters are connected components of
the pairs at or above the threshold, scored pairwise and B-cubed with
:func:`scrm_lib.identity.evaluate.score_clusters`. Writes
``bench/results/identity_febrl.json``.

- ``scrm``: :func:`scrm_lib.identity.matching.probabilistic_edges` with the
  Febrl fields mapped onto its features (name = given + surname, mphone =
  soc_sec_id as the exact-digits key, city = suburb, address = number +
  street, birthday = date of birth).
- ``splink_reference``: a model in the style of Splink's own Febrl example —
  one comparison per field (NameComparison, JaroWinkler, exact), u by random
  sampling, EM over two blocking passes, the same threshold.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import duckdb
import pandas as pd

from scrm_lib.identity.config import IdentityConfig
from scrm_lib.identity.evaluate import score_clusters
from scrm_lib.identity.graph import cluster_accounts
from scrm_lib.identity.matching import probabilistic_edges, to_pinyin

DATA = Path(__file__).parents[1] / "tests" / "data" / "febrl" / "dataset3.csv"
THRESHOLD = 0.9


def load() -> pd.DataFrame:
    df = pd.read_csv(DATA, dtype=str, skipinitialspace=True, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    df = df.apply(lambda c: c.str.strip()).replace("", None)
    df["unique_id"] = df["rec_id"]
    df["person"] = df["rec_id"].str.extract(r"rec-(\d+)-")[0]
    return df


def scrm_stage(df: pd.DataFrame) -> pd.DataFrame:
    rec = pd.DataFrame(
        {
            "unique_id": df["unique_id"],
            "name": (df["given_name"].fillna("") + " " + df["surname"].fillna("")).str.strip(),
            "mphone": df["soc_sec_id"],
            "city": df["suburb"],
            "address": (df["street_number"].fillna("") + " " + df["address_1"].fillna("")),
            "birthday": df["date_of_birth"],
        }
    )
    rec["name_py"] = to_pinyin(rec["name"])
    return probabilistic_edges(rec, IdentityConfig(threshold=THRESHOLD, max_pairs=1e6))


def splink_reference(df: pd.DataFrame) -> pd.DataFrame:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.LevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.ExactMatch("suburb"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("soc_sec_id"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("postcode", "street_number"),
        ],
    )
    cols = [
        "unique_id",
        "given_name",
        "surname",
        "date_of_birth",
        "street_number",
        "address_1",
        "suburb",
        "postcode",
        "soc_sec_id",
    ]
    db = duckdb.connect()
    api = DuckDBAPI(connection=db)
    linker = Linker(api.register(df[cols], table_name="febrl3"), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("surname"), estimate_without_term_frequencies=True
    )
    pred = linker.inference.predict(threshold_match_probability=THRESHOLD).as_pandas_dataframe()
    db.close()
    return pd.DataFrame({"a": pred["unique_id_l"], "b": pred["unique_id_r"]})


def score(df: pd.DataFrame, edges: pd.DataFrame) -> dict:
    lab = cluster_accounts(df["unique_id"], edges[["a", "b"]])
    pred = pd.DataFrame({"account_id": lab.index, "person_id": lab.to_numpy()})
    truth = pd.DataFrame({"account_id": df["unique_id"], "person_id": df["person"]})
    return {
        k: (round(v, 4) if isinstance(v, float) else v)
        for k, v in score_clusters(pred, truth).items()
    }


def main() -> None:
    logging.getLogger("splink").setLevel(logging.ERROR)
    df = load()
    out = {"data": "febrl dataset3 (5,000 records)", "threshold": THRESHOLD}
    for name, fn in (("scrm", scrm_stage), ("splink_reference", splink_reference)):
        t = time.perf_counter()
        edges = fn(df)
        out[name] = {"seconds": round(time.perf_counter() - t, 2), **score(df, edges)}
    path = Path(__file__).parent / "results" / "identity_febrl.json"
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
