"""The identity build step: graph → Splink → overrides → stable ids → marts and ledger.

Listed in :mod:`scrm_lib.warehouse.step_list`; ``scrm build`` calls :func:`run`
on the warehouse being built. Tables written:

- ``person_accounts(account_id, person_id)``: every account (the contract);
- ``identity_edges``: the ledger, one row per edge considered, with its
  evidence (``stage``, ``rule``, ``kind``, ``value`` or ``match_probability``
  and ``compared`` levels) and whether it was ``used`` (not cut by an override);
- ``identity_hubs``: hubs, by ``scope``: ``identifier`` (a value shared by more
  accounts than the limit: the shop's test phone) or ``account_key`` (one account
  behind which many buyers' orders sit: a counter phone typed as the Youzan buyer
  phone), with the account and its evidence counts;
- ``identity_hub_orders``: every order line of an account-key hub and the account
  it was re-keyed to (:mod:`.account_hubs`: before stitching, so that no mart ever
  counts a hub as one customer);
- ``identity_stages``: whether the probabilistic stage trained, used fixed priors
  or was skipped, and why (:mod:`.trainable`);
- ``person_id_history``: old → new person ids since the previous build;
- ``persons``: the person 360 mart (:mod:`.person360`).

Example
-------
>>> from scrm_lib.warehouse.steps import StepContext
>>> run(StepContext(con=backend, settings=settings, build_id="b1"))  # doctest: +SKIP
{'person_accounts': 9561, 'persons': 6012, 'identity_edges': 2630, ...}
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.engine import Runner, read_only_duckdb
from scrm_lib.engine.splink import registered
from scrm_lib.errors import WarehouseError
from scrm_lib.identity import account_hubs
from scrm_lib.identity._engine import runner, tables
from scrm_lib.identity.config import NEVER_ALONE, IdentityConfig, identity_config
from scrm_lib.identity.graph import cluster_accounts, deterministic_edges
from scrm_lib.identity.stable_ids import HISTORY_COLUMNS, assign_person_ids
from scrm_lib.identity.trainable import ProbabilisticStage, StageReport
from scrm_lib.warehouse.steps import Step

logger = logging.getLogger(__name__)

EDGE_COLUMNS = [
    "a",
    "b",
    "stage",
    "rule",
    "kind",
    "value",
    "match_probability",
    "compared",
    "used",
    "build_id",
]
#: ``identity_stages``: how the probabilistic stage ran in this build and why.
STAGE_COLUMNS = [
    "build_id",
    "stage",
    "mode",
    "reason",
    "records",
    "candidate_pairs",
    "columns",
    "details",
]
#: The working tables the step makes on the warehouse's connection (graph, matching).
SCRATCH = (
    "_id_groups",
    "_identity_masks",
    "_mphone_counts",
    "_mphone_hubs",
    "_identity_account_records",
)
#: Kinds checked for hubs besides the linking kinds: masked values that feed matching.
_HUB_ALSO = ("phone_masked", "alipay_masked", "recipient_phone", "device")
#: Columns of ``identity_hubs`` (an identifier hub leaves the account-key ones empty).
HUB_COLUMNS = [
    "scope",
    "kind",
    "value",
    "n_accounts",
    "hub_limit",
    "account_id",
    "n_orders",
    "n_receiver_names",
    "n_receiver_phones",
    "n_addresses",
    "n_devices",
    "n_unattributed",
]


def _drop(edges: pd.DataFrame, pairs: pd.DataFrame, singles: set[str]) -> pd.Series:
    """Which edges an override cuts: never-link pairs (either way) and split accounts."""
    cut = edges["a"].isin(singles) | edges["b"].isin(singles)
    if len(pairs):
        both = pd.concat(
            [pairs[["a", "b"]], pairs[["a", "b"]].rename(columns={"a": "b", "b": "a"})]
        ).drop_duplicates()
        hit = edges[["a", "b"]].merge(both.assign(_hit=True), on=["a", "b"], how="left")
        cut |= hit["_hit"].fillna(False).astype(bool).to_numpy()
    return cut


def stitch(
    con: Any,
    cfg: IdentityConfig,
    *,
    overrides: pd.DataFrame | None = None,
    build_id: str = "",
    key_hubs: pd.DataFrame | None = None,
    stages: list[StageReport] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Cluster the accounts of a warehouse.

    Parameters
    ----------
    con
        The warehouse's engine (DuckDB or Spark) with ``accounts`` and ``identifiers``.
    cfg
        Identity configuration.
    overrides
        Rows of :func:`.overrides.read_overrides` (``action, account_a, account_b, reason``).
    build_id
        Written on each ledger row.
    key_hubs
        Rows of :func:`.account_hubs.detect` (already split): these accounts
        link to nothing, like a ``split`` override, and are reported as hubs.
    stages
        When given, the probabilistic stage's :class:`.trainable.StageReport` (trained,
        fixed priors, skipped or off, and why) is appended to it.

    Returns
    -------
    clusters : pandas.DataFrame
        ``account_id, component`` (label = the component's smallest account id).
    edges : pandas.DataFrame
        The ledger (:data:`EDGE_COLUMNS`).
    hubs : pandas.DataFrame
        :data:`HUB_COLUMNS`.
    """
    db = runner(con)
    accounts = db.df("identity.account_ids")["account_id"]
    key_hubs = key_hubs if key_hubs is not None else pd.DataFrame(columns=["account_id"])
    det, hubs = deterministic_edges(
        db,
        cfg,
        skip_accounts=key_hubs["account_id"].tolist(),
        hub_values=key_hubs.reindex(columns=["kind", "value"]),
        hub_kinds=_HUB_ALSO,
    )
    hubs = hubs[hubs["kind"].isin([*cfg.link_kinds, *_HUB_ALSO])]
    # a masked Alipay e-mail (y***@126.com) is a first letter and a domain: shared by
    # hundreds of strangers by nature, not a typed value worth reporting
    masked_mail = (hubs["kind"] == "alipay_masked") & hubs["value"].str.contains("@", regex=False)
    hubs = hubs[~masked_mail].reset_index(drop=True)
    # a masked phone on many accounts is a hub only beyond what chance explains (seven
    # visible digits: at a million persons a few strangers share each); the matching
    # stage leaves out exactly these
    from scrm_lib.identity.matching import masked_hubs

    masked = hubs["kind"].isin(["phone_masked", "alipay_masked"])
    mphone_hubs = masked_hubs(db, cfg)
    chance = ~hubs["value"].isin(mphone_hubs["m"])
    hubs = hubs[~(masked & chance)].reset_index(drop=True)
    hubs["hub_limit"] = cfg.hub_limit
    hubs["scope"] = "identifier"
    if len(key_hubs):
        keyed = key_hubs.assign(scope="account_key", n_accounts=1, hub_limit=cfg.account_hub_limit)
        hubs = pd.concat([keyed, hubs], ignore_index=True)
    hubs = hubs.reindex(columns=HUB_COLUMNS)
    counts = [c for c in HUB_COLUMNS if c.startswith("n_")] + ["hub_limit"]
    hubs[counts] = hubs[counts].astype("Int64")
    # typed even when empty: readers join account_id to orders (an all-null column
    # would be stored as DOUBLE)
    texts = ["scope", "kind", "value", "account_id"]
    hubs[texts] = hubs[texts].astype("string")

    ov = overrides if overrides is not None else pd.DataFrame(columns=["action"])
    never = ov[ov["action"] == "never_link"].rename(columns={"account_a": "a", "account_b": "b"})
    force = ov[ov["action"] == "force_link"].rename(columns={"account_a": "a", "account_b": "b"})
    singles = set(ov.loc[ov["action"] == "split", "account_a"]) if len(ov) else set()
    # an account-key hub stands for many buyers: whatever it shares, it joins no one
    singles |= set(key_hubs["account_id"])

    det = det.assign(
        stage="deterministic",
        rule="shared_" + det["kind"],
        match_probability=np.nan,
        compared=None,
    )
    det["used"] = ~_drop(det, never, singles)
    frames = [det]
    report = StageReport(mode="off", reason="[identity] probabilistic = false")
    if cfg.probabilistic:
        from scrm_lib.identity.matching import RecordSource

        source = RecordSource(db, cfg, hubs=mphone_hubs)
        # small data cannot train a model: the stage checks that first and then trains,
        # uses fixed priors or skips (with the reason); deterministic persons stand
        stage = ProbabilisticStage(cfg, on=db)
        for round_no in range(1, cfg.rounds + 1):
            used = pd.concat([f.loc[f["used"], ["a", "b"]] for f in frames])
            comp = cluster_accounts(accounts, used)
            records = source.components(comp)
            if round_no == 1:
                # trained per account, m from the pairs the deterministic stage joined
                stage.fit(source.accounts(), labels=comp)
            # later rounds score the merged persons with the same model: a WeCom
            # name joined to a Tmall masked phone now meets the mini-program's phone
            prob = stage.edges(records)
            if prob.empty:
                break
            ambiguous = prob["ambiguous"].astype(bool)
            rule = np.where(ambiguous, "splink_ambiguous", "splink")
            if round_no > 1:
                rule = np.char.add(rule.astype(str), f"_round{round_no}")
            prob = prob.assign(stage="probabilistic", rule=rule, kind=None, value=None)
            # a component-level match cuts no override by itself: check its end points
            prob["used"] = ~_drop(prob, never, singles) & ~ambiguous
            frames.append(prob.drop(columns=["match_weight", "ambiguous"]))
            if not prob["used"].any():
                break
        report = stage.report
    if stages is not None:
        stages.append(report)
    if len(force):
        frames.append(
            pd.DataFrame(
                {
                    "a": force["a"],
                    "b": force["b"],
                    "stage": "override",
                    "rule": "force_link",
                    "kind": None,
                    "value": force["reason"],
                    "match_probability": 1.0,
                    "compared": None,
                    "used": True,
                }
            )
        )
    found = [f for f in frames if len(f)]
    edges = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=EDGE_COLUMNS)
    edges["build_id"] = build_id
    edges = edges.reindex(columns=EDGE_COLUMNS)
    edges["used"] = edges["used"].astype(bool)

    labels = cluster_accounts(accounts, edges.loc[edges["used"], ["a", "b"]])
    # a never-link pair still joined through other paths: detach its second account
    for _ in range(3):
        if never.empty:
            break
        bad = never[never["a"].map(labels).eq(never["b"].map(labels)) & never["a"].notna()]
        if bad.empty:
            break
        detach = set(bad["b"])
        cut = edges["used"] & (edges["a"].isin(detach) | edges["b"].isin(detach))
        cut &= edges["stage"] != "override"
        edges.loc[cut, "used"] = False
        labels = cluster_accounts(accounts, edges.loc[edges["used"], ["a", "b"]])
    clusters = pd.DataFrame({"account_id": labels.index, "component": labels.to_numpy()})
    return clusters, edges, hubs


def _previous_ids(path: Path | None) -> pd.DataFrame | None:
    if path is None or not Path(path).exists():
        return None
    try:
        with read_only_duckdb(path) as con:
            prev = runner(con)
            if "person_accounts" not in tables(prev):
                return None
            return prev.df("identity.previous_person_ids")
    except WarehouseError as exc:
        logger.warning("previous warehouse unreadable (%s): person ids restart", exc)
        return None


#: Types of the mart columns that are not text, for the frames that have no rows.
_NOT_TEXT = {"match_probability": "float64", "used": "bool", "n_accounts": "int64"}


def _write(db: Runner, name: str, df: pd.DataFrame) -> int:
    # a column without a value has no type in pandas (object): DuckDB stored it as an
    # INTEGER, Spark as text; text on both, the few other columns as they are typed
    # when the frame has rows
    empty = [c for c in df.columns if df[c].dtype == object and df[c].isna().all()]
    df = df.astype({c: _NOT_TEXT.get(c, "string") for c in empty})
    with registered(db, "_identity_frame", df) as frame:
        db.query("identity.write_frame", table=name, target=name, frame=frame)
    return len(df)


def run(ctx: Any) -> dict[str, int]:
    """Build step: write the identity tables into the warehouse under construction."""
    from scrm_lib.identity.overrides import read_overrides
    from scrm_lib.identity.person360 import build_persons

    cfg = identity_config(getattr(ctx.settings, "extra", {}))
    db = runner(ctx.con)
    state = getattr(ctx.settings, "state_db", None)
    overrides = read_overrides(path=state) if state is not None else None
    # before stitching: the split accounts and their re-keyed orders are what every
    # later stage and mart sees (see account_hubs for why the orders move)
    key_hubs = account_hubs.detect(db, cfg)
    hub_orders, split_ledger = account_hubs.split(db, key_hubs, build_id=ctx.build_id)
    left = hub_orders.loc[hub_orders["evidence"] == "unattributed", "hub_account_id"]
    key_hubs["n_unattributed"] = key_hubs["account_id"].map(left.value_counts()).fillna(0)
    key_hubs["n_unattributed"] = key_hubs["n_unattributed"].astype("int64")
    if len(key_hubs):
        logger.warning(
            "identity: %d account key(s) shared by many buyers (the first: %d orders): "
            "their orders go to their recipients, %d left unattributed",
            len(key_hubs),
            int(key_hubs["n_orders"].iloc[0]),
            int(key_hubs["n_unattributed"].sum()),
        )
    stages: list[StageReport] = []
    clusters, edges, hubs = stitch(
        db, cfg, overrides=overrides, build_id=ctx.build_id, stages=stages, key_hubs=key_hubs
    )
    if len(split_ledger):
        split_ledger["build_id"] = ctx.build_id
        edges = pd.concat([edges, split_ledger.reindex(columns=EDGE_COLUMNS)], ignore_index=True)
        edges["used"] = edges["used"].astype(bool)
    previous = _previous_ids(ctx.previous_warehouse)
    person_accounts, history = assign_person_ids(clusters, previous, build_id=ctx.build_id)
    counts = {
        "person_accounts": _write(db, "person_accounts", person_accounts),
        "identity_edges": _write(db, "identity_edges", edges),
        "identity_hubs": _write(db, "identity_hubs", hubs),
        "identity_hub_orders": _write(db, "identity_hub_orders", hub_orders),
        "person_id_history": _write(
            db, "person_id_history", history.reindex(columns=HISTORY_COLUMNS)
        ),
        "identity_stages": _write(
            db,
            "identity_stages",
            pd.DataFrame([s.row(ctx.build_id) for s in stages], columns=STAGE_COLUMNS),
        ),
    }
    counts["persons"] = build_persons(db)
    for name in SCRATCH:
        db.query("identity.drop_scratch", scratch=name)
    return counts


STEP = Step("identity", run, engines=("duckdb", "pyspark"))

__all__ = ["NEVER_ALONE", "STEP", "run", "stitch"]
