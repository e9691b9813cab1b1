"""Febrl3 dedupe: the identity stage's probabilistic matcher beside Splink's default model.

Both run Splink 5 on DuckDB over the same 5,000 records (rec-N-org and its
duplicates rec-N-dup-K are one person), once with the ``soc_sec_id`` column
and once without it (names, birthday and address must then do the work);
clusters are connected components of the pairs at or above the threshold,
scored pairwise and B-cubed with
:func:`scrm_lib.identity.evaluate.score_clusters`. Writes
``bench/results/identity_febrl.json``.

- ``scrm``: :func:`scrm_lib.dedupe_records` (the public API over the identity
  stage's matcher) with the Febrl fields mapped onto its features (name =
  given + surname, city = suburb, address = number + street + locality,
  birthday = date of birth, soc_sec_id as the phone: an exact-digits key).
- ``splink_default``: what a user writes from Splink's tutorial — one
  comparison per field from ``splink.comparison_library`` (NameComparison,
  DateOfBirthComparison, JaroWinkler on the street, exact suburb and postcode
  with term-frequency adjustment), a few ``block_on`` rules, λ from a
  deterministic rule, u by random sampling, EM over two blocking passes, the
  same threshold.

Usage: ``python bench/identity_febrl.py [--data tests/data/febrl/dataset3.csv]``
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import duckdb
import pandas as pd

from scrm_lib.identity.evaluate import score_clusters
from scrm_lib.identity.graph import cluster_accounts

DATA = Path(__file__).parents[1] / "tests" / "data" / "febrl" / "dataset3.csv"
THRESHOLD = 0.9


def load(path: Path = DATA) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    df = df.apply(lambda c: c.str.strip()).replace("", None)
    df["unique_id"] = df["rec_id"]
    df["person"] = df["rec_id"].str.extract(r"rec-(\d+)-")[0]
    return df


def scrm_stage(df: pd.DataFrame, with_ssn: bool) -> pd.DataFrame:
    from scrm_lib import dedupe_records

    rec = pd.DataFrame(
        {
            "unique_id": df["unique_id"],
            "name": (df["given_name"].fillna("") + " " + df["surname"].fillna("")).str.strip(),
            "city": df["suburb"],
            "address": (
                df["street_number"].fillna("")
                + " "
                + df["address_1"].fillna("")
                + " "
                + df["address_2"].fillna("")
            ).str.strip(),
            "birthday": df["date_of_birth"],
        }
    )
    if with_ssn:
        # an exact-digits key, compared as typed like a phone that is not a Chinese mobile
        rec["phone"] = df["soc_sec_id"]
    pairs = dedupe_records(rec, id_column="unique_id", threshold=THRESHOLD)
    return pairs.rename(columns={"left_id": "a", "right_id": "b"})


def splink_default(df: pd.DataFrame, with_ssn: bool) -> pd.DataFrame:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    comparisons = [
        cl.NameComparison("given_name"),
        cl.NameComparison("surname"),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
        cl.ExactMatch("street_number"),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
        cl.ExactMatch("suburb").configure(term_frequency_adjustments=True),
        cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
    ]
    rules = [
        block_on("given_name", "surname"),
        block_on("surname", "date_of_birth"),
        block_on("given_name", "date_of_birth"),
        block_on("postcode", "street_number"),
    ]
    cols = [
        "unique_id",
        "given_name",
        "surname",
        "date_of_birth",
        "street_number",
        "address_1",
        "suburb",
        "postcode",
    ]
    if with_ssn:
        comparisons.append(cl.ExactMatch("soc_sec_id"))
        rules.append(block_on("soc_sec_id"))
        cols.append("soc_sec_id")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
    )
    db = duckdb.connect()
    api = DuckDBAPI(connection=db)
    linker = Linker(api.register(df[cols], table_name="febrl3"), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7
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
    lab = cluster_accounts(df["unique_id"], edges[["a", "b"]].astype(str))
    pred = pd.DataFrame({"account_id": lab.index, "person_id": lab.to_numpy()})
    truth = pd.DataFrame({"account_id": df["unique_id"], "person_id": df["person"]})
    return {
        k: (round(v, 4) if isinstance(v, float) else v)
        for k, v in score_clusters(pred, truth).items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    df = load(args.data)
    out: dict = {"data": f"febrl {args.data.name} ({len(df):,} records)", "threshold": THRESHOLD}
    for label, with_ssn in (("with_soc_sec_id", True), ("without_soc_sec_id", False)):
        runs = {}
        for name, fn in (("scrm", scrm_stage), ("splink_default", splink_default)):
            t = time.perf_counter()
            edges = fn(df, with_ssn)
            runs[name] = {"seconds": round(time.perf_counter() - t, 2), **score(df, edges)}
        runs["scrm_f1_at_least_splink"] = (
            runs["scrm"]["pairwise_f1"] >= runs["splink_default"]["pairwise_f1"]
        )
        out[label] = runs
    path = Path(__file__).parent / "results" / "identity_febrl.json"
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
