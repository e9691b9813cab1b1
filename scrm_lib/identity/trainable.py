"""Whether the probabilistic stage can train on this data, and what it does when it cannot.

A small brand's first build holds a few dozen orders: too few records for
EM, no pair that shares a name and a masked phone to estimate λ from, a
city that every buyer shares. Splink then fails (no pairs in a training
block) or trains a degenerate model (λ = 0, an m of 0) whose prediction
dies on ``log2(0)`` ("math domain error"). The identity step must still
publish the deterministic persons, so the stage is planned from explicit
checks on the records before Splink is called:

``skipped``
    Fewer than two records, or no two records share anything the
    prediction blocks on (name pinyin or its first two syllables, visible
    phone digits, address): there is nothing to score.
``priors``
    Something to score, but not enough to train: fewer than
    :data:`MIN_TRAIN_RECORDS` records, fewer than :data:`MIN_LAMBDA_PAIRS`
    pairs that share a name and a masked phone (λ), or an EM block with
    fewer than :data:`MIN_EM_PAIRS` pairs. The model then uses the fixed
    priors of :data:`PRIORS` and :data:`PRIOR_LAMBDA` (see there why).
``trained``
    :func:`.matching.train_model` as on any big warehouse; a trained model
    whose λ is 0 or 1 falls back to the priors, an m or u of exactly 0 is
    raised to :data:`LEVEL_FLOOR`.
``off``
    ``[identity] probabilistic = false``.

A comparison with fewer than two distinct values (one city for every
buyer, a single platform) cannot tell records apart and is left out of the
model. Splink's own errors (:class:`splink.internals.exceptions.SplinkException`,
``ValueError`` such as the math domain error, ``ZeroDivisionError``) are
caught only around the Splink calls, as a last resort, and logged with the
reason; a trained model that fails falls back to the priors, priors that
fail skip the stage.

Example
-------
>>> stage = ProbabilisticStage(IdentityConfig())
>>> stage.fit(pd.DataFrame({"unique_id": ["a"], "name": ["王芳"], "name_py": ["wang fang"]}))
>>> stage.report.mode, stage.report.reason
('skipped', '1 record: nothing to compare')
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from scrm_lib.identity.config import IdentityConfig

logger = logging.getLogger(__name__)

#: Fewest records EM trains on: Splink asks for "at least a few hundred, preferably a
#: few thousand" comparisons per training block, which a few hundred records reach.
MIN_TRAIN_RECORDS = 300
#: Fewest pairs in each EM training block (city, name pinyin).
MIN_EM_PAIRS = 500
#: Fewest pairs sharing a name and a masked phone, the rule λ is estimated from.
MIN_LAMBDA_PAIRS = 10
#: Most share of all pairs that λ's rule may reach: Splink divides by a recall of 0.6
#: and refuses a rule that finds more matches than that allows.
MAX_LAMBDA_SHARE = 0.5
#: An m or u of exactly 0 in a trained model (a level EM never saw) becomes this: rare,
#: not impossible (log2(0) is what broke the prediction).
LEVEL_FLOOR = 1e-6

#: Prior probability that two records are one person, used when the data cannot
#: estimate it. 1e-4 is conservative for a small shop (a few dozen repeat buyers in
#: 10⁴–10⁶ pairs would be 10⁻⁴–10⁻³): with the priors below, a name and a masked phone
#: together (+18 bits) or a name and an address (+18.7 bits) link, while a name and a
#: city (+11.5 bits) or a masked phone and a city alone stay below the 0.8 threshold
#: against the prior's −13.3 bits.
PRIOR_LAMBDA = 1e-4

#: Fixed (m, u) of each agreement level, strongest first, per compared field; the
#: "else" level takes what is left of m and u. m = P(level | same person), u =
#: P(level | different persons). Chosen from what the fields are, not from data:
#:
#: - ``name``: a person's accounts carry the same typed name about 70% of the time
#:   (the rest: a traditional form, a homophone, a dropped character, a nickname); a
#:   Chinese full name is shared by about one random pair in 500 in a shop's buyers.
#:   Same pinyin and a close pinyin are weaker. (The nickname level has its own fixed
#:   values in :func:`.matching._settings` and keeps them.)
#: - ``mphone``: seven visible digits of a masked phone agree for 80% of a person's
#:   accounts (the rest typed another number) and for about one stranger pair in 1,000
#:   (shared prefixes and suffixes cluster).
#: - ``city``: buyers cluster in a few cities: one stranger pair in ten shares one.
#: - ``address``, ``birthday``, ``email``: near-unique values.
#: - ``platform``: sharing a platform is evidence against (one account per platform, as
#:   a rule): 5% of a person's account pairs, 30% of stranger pairs.
#:
#: A field not listed (a comparison added later) gets :data:`GENERIC_PRIOR`; levels past
#: those listed get :data:`WEAK_LEVEL_PRIOR`.
PRIORS: dict[str, list[tuple[float, float]]] = {
    "name": [(0.70, 0.002), (0.10, 0.002), (0.05, 0.005)],
    "mphone": [(0.80, 0.001)],
    "city": [(0.85, 0.10)],
    "address": [(0.60, 0.0005)],
    "birthday": [(0.80, 0.0005)],
    "email": [(0.85, 0.0001)],
    "platform": [(0.05, 0.30)],
}
GENERIC_PRIOR = (0.60, 0.05)
WEAK_LEVEL_PRIOR = (0.05, 0.01)


@dataclass
class StageReport:
    """What the probabilistic stage did and why (one row of ``identity_stages``).

    Attributes
    ----------
    mode
        ``trained``, ``priors``, ``skipped`` or ``off``.
    reason
        Why the stage did not train (empty when it did).
    records
        Records compared (accounts with a name, masked phone or nickname).
    candidate_pairs
        Pairs Splink scored: each pair sharing any prediction blocking key, once (0
        until it predicts; summed over the rounds).
    lambda_pairs
        Pairs sharing a name and a masked phone.
    em_pairs
        Pairs per EM training block.
    labelled_pairs
        Pairs the deterministic stage joined (they start m).
    columns
        Fields the model compares.
    left_out
        Field → why it is not compared.
    notes
        Repairs made on the way (a floored m, a failed pass).
    """

    mode: str = "skipped"
    reason: str = ""
    records: int = 0
    candidate_pairs: int = 0
    lambda_pairs: int = 0
    em_pairs: dict[str, int] = field(default_factory=dict)
    labelled_pairs: int = 0
    columns: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def row(self, build_id: str = "") -> dict[str, Any]:
        """A flat row for the ``identity_stages`` table (nested parts as JSON)."""
        d = asdict(self)
        return {
            "build_id": build_id,
            "stage": "probabilistic",
            "mode": d["mode"],
            "reason": d["reason"],
            "records": d["records"],
            "candidate_pairs": d["candidate_pairs"],
            "columns": ",".join(d["columns"]),
            "details": json.dumps(
                {k: d[k] for k in ("lambda_pairs", "em_pairs", "labelled_pairs", "left_out")}
                | {"notes": d["notes"]},
                ensure_ascii=False,
                sort_keys=True,
            ),
        }


def pairs_sharing(records: pd.DataFrame, *cols: str) -> int:
    """How many record pairs agree on every one of ``cols`` (nulls agree with nothing).

    Examples
    --------
    >>> r = pd.DataFrame({"a": ["x", "x", "x", "y", None], "b": [1, 1, 2, 3, 3]})
    >>> pairs_sharing(r, "a"), pairs_sharing(r, "a", "b"), pairs_sharing(r, "c")
    (3, 1, 0)
    """
    if not all(c in records.columns for c in cols):
        return 0
    keys = records[list(cols)].dropna()
    if keys.empty:
        return 0
    k = keys.value_counts(sort=False).to_numpy()
    return int((k * (k - 1) // 2).sum())


def usable_columns(records: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """``records`` without the compared fields that cannot tell records apart, and why.

    A field null everywhere or with one distinct value (every buyer in 上海市,
    a single platform) gives every pair the same comparison level: it carries
    no evidence, and its u of 1 leaves EM nothing to estimate.

    Examples
    --------
    >>> r = pd.DataFrame({"unique_id": ["a", "b"], "city": ["上海市"] * 2,
    ...                   "name": ["王芳", "李娜"], "name_py": ["wang fang", "li na"]})
    >>> kept, why = usable_columns(r)
    >>> list(kept.columns), why
    (['unique_id', 'name', 'name_py'], {'city': "one value ('上海市') on every record"})
    """
    from scrm_lib.identity.matching import FEATURES

    why: dict[str, str] = {}
    for col in FEATURES:
        if col == "name_py" or col not in records.columns:
            continue
        values = records[col].dropna()
        n = values.nunique()
        if n == 0:
            why[col] = "null on every record"
        elif n == 1:
            # reports show this to every role: only a non-personal value is quoted
            shown = f" ({values.iloc[0]!r})" if col in ("city", "platform") else ""
            why[col] = f"one value{shown} on every record"
    drop = [*why, *(["name_py"] if "name" in why else [])]
    return records.drop(columns=[c for c in drop if c in records.columns]), why


def _labelled_pairs(records: pd.DataFrame, labels: pd.Series | None) -> int:
    if labels is None or records.empty:
        return 0
    lab = records["unique_id"].map(labels).dropna()
    k = lab.value_counts().to_numpy()
    return int((k * (k - 1) // 2).sum())


def _share_a_clue(records: pd.DataFrame) -> bool:
    """Whether two records share a name's pinyin, visible phone digits or an address:
    every prediction key holds one of them.

    Examples
    --------
    >>> r = pd.DataFrame({"name_py": ["li na", "chen wei", "li na"], "mphone": [None] * 3})
    >>> _share_a_clue(r), _share_a_clue(r.tail(2))
    (True, False)
    """
    cols = [c for c in ("name_py", "mphone", "address") if c in records.columns]
    return any(records[c].dropna().duplicated().any() for c in cols)


def plan(
    records: pd.DataFrame, labels: pd.Series | None = None
) -> tuple[StageReport, pd.DataFrame]:
    """Check the records before Splink: skip, use priors, or train; and the records to use.

    Parameters
    ----------
    records
        One row per account (:func:`.matching.account_records`).
    labels
        Deterministic component per account id (pairs inside one start m).

    Returns
    -------
    report : StageReport
        ``mode`` and ``reason`` decided; counts filled in.
    records : pandas.DataFrame
        ``records`` without the fields :func:`usable_columns` leaves out.

    Examples
    --------
    >>> r = pd.DataFrame({"unique_id": ["a", "b", "c"], "name": ["王芳", "王芳", "李娜"],
    ...                   "name_py": ["wang fang", "wang fang", "li na"]})
    >>> report, _ = plan(r)
    >>> report.mode, report.reason
    ('priors', '3 records: fewer than 300 to train on')
    """
    rep = StageReport(records=len(records))
    kept, rep.left_out = usable_columns(records)
    rep.columns = [c for c in kept.columns if c not in ("unique_id", "name_py", "name_nick")]
    rep.labelled_pairs = _labelled_pairs(records, labels)
    if len(records) < 2:
        rep.reason = f"{len(records)} record{'s' * (len(records) != 1)}: nothing to compare"
        return rep, kept
    if not _share_a_clue(records):
        rep.reason = (
            f"{len(records)} records, no two share a name, visible phone digits or an "
            "address: nothing to score"
        )
        return rep, kept
    if not rep.columns:
        rep.reason = "no compared field has two distinct values"
        return rep, kept

    rep.mode = "priors"
    cols = set(kept.columns)
    total = len(records) * (len(records) - 1) // 2
    if {"mphone", "name"} <= cols:
        rep.lambda_pairs = pairs_sharing(kept, "mphone", "name")
    rep.em_pairs = {c: pairs_sharing(kept, c) for c in ("city", "name_py") if c in cols}
    short = {c: n for c, n in rep.em_pairs.items() if n < MIN_EM_PAIRS}
    if len(records) < MIN_TRAIN_RECORDS:
        rep.reason = f"{len(records)} records: fewer than {MIN_TRAIN_RECORDS} to train on"
    elif {"mphone", "name"} <= cols and rep.lambda_pairs < MIN_LAMBDA_PAIRS:
        rep.reason = (
            f"{rep.lambda_pairs} pairs share a name and a masked phone: fewer than "
            f"{MIN_LAMBDA_PAIRS} to estimate λ"
        )
    elif rep.lambda_pairs > MAX_LAMBDA_SHARE * total:
        rep.reason = f"{rep.lambda_pairs} of {total} pairs share a name and a masked phone"
    elif short:
        col, n = next(iter(short.items()))
        rep.reason = f"the EM block on {col} holds {n} pairs: fewer than {MIN_EM_PAIRS}"
    else:
        rep.mode = "trained"
    return rep, kept


def prior_model(columns: list[str]) -> dict[str, Any]:
    """A Splink model over ``columns`` with the fixed :data:`PRIORS` and :data:`PRIOR_LAMBDA`.

    Levels whose m and u the comparison fixes itself (the nickname level) keep
    them; each "else" level takes what is left of m and u. Term-frequency
    adjustments are dropped: a small shop's name frequencies are noise.

    Examples
    --------
    >>> m = prior_model(["name", "mphone"])
    >>> m["splink"]["probability_two_random_records_match"]
    0.0001
    >>> levels = m["splink"]["comparisons"][1]["comparison_levels"]
    >>> [None if lv.get("m_probability") is None else round(lv["m_probability"], 6)
    ...  for lv in levels]
    [None, 0.8, 0.2]
    """
    from scrm_lib.identity.matching import _settings

    settings = _settings(list(columns)).get_settings("duckdb").as_dict()
    settings["probability_two_random_records_match"] = PRIOR_LAMBDA
    for comp in settings["comparisons"]:
        table = PRIORS.get(comp["output_column_name"], [GENERIC_PRIOR])
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        agree, other = levels[:-1], levels[-1]
        i = 0
        for lv in agree:
            # term frequencies from a few dozen records are noise (王芳 on two of three
            # records would make a shared name worthless): the priors stand unadjusted
            for key in ("tf_adjustment_column", "tf_adjustment_weight", "tf_minimum_u_value"):
                lv.pop(key, None)
            if lv.get("fix_m_probability") and lv.get("m_probability") is not None:
                continue
            m, u = table[i] if i < len(table) else WEAK_LEVEL_PRIOR
            lv["m_probability"], lv["u_probability"] = m, u
            i += 1
        # what the agreement levels leave; never below the floor (log2 of it must exist)
        other["m_probability"] = max(1 - sum(lv["m_probability"] for lv in agree), 0.01)
        other["u_probability"] = max(1 - sum(lv["u_probability"] for lv in agree), 0.01)
    return {"columns": list(columns), "splink": settings}


def repair(model: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """Check a trained model before it predicts: None when λ is unusable, else m/u floored.

    Returns
    -------
    model : dict or None
        The model with every m or u of exactly 0 raised to :data:`LEVEL_FLOOR`;
        None when λ is missing, 0 or 1 (the prior log-odds would be ±∞).
    notes : list of str
        What was wrong.

    Examples
    --------
    >>> repair({"columns": [], "splink": {"probability_two_random_records_match": 0.0,
    ...                                   "comparisons": []}})
    (None, ['training gave λ = 0.0'])
    """
    sp = model["splink"]
    lam = sp.get("probability_two_random_records_match")
    if lam is None or not 0.0 < float(lam) < 1.0:
        return None, [f"training gave λ = {lam}"]
    out = copy.deepcopy(model)
    notes = []
    for comp in out["splink"]["comparisons"]:
        for lv in comp["comparison_levels"]:
            if lv.get("is_null_level"):
                continue
            for key in ("m_probability", "u_probability"):
                if lv.get(key) == 0:
                    lv[key] = LEVEL_FLOOR
                    notes.append(
                        f"{comp['output_column_name']} / {lv.get('label_for_charts')}: "
                        f"{key[0]} = 0 raised to {LEVEL_FLOOR}"
                    )
    return out, notes


def _brief(exc: BaseException) -> str:
    """An exception in one line: Splink's errors carry the whole SQL after the first."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:300]}"


def _splink_errors() -> tuple[type[BaseException], ...]:
    """What Splink raises when the data cannot carry a model (caught around its calls only)."""
    from splink.internals.exceptions import SplinkException

    return (SplinkException, ValueError, ZeroDivisionError, OverflowError)


class ProbabilisticStage:
    """The probabilistic stage of one build: fit once, then score each round's records.

    Parameters
    ----------
    cfg
        Identity configuration.
    on
        The warehouse's engine: Splink trains and predicts there on Spark
        (:class:`.matching._splink`), in a private DuckDB otherwise.

    Examples
    --------
    >>> stage = ProbabilisticStage(IdentityConfig())  # doctest: +SKIP
    >>> stage.fit(account_records(db, cfg), labels=components)  # doctest: +SKIP
    >>> edges = stage.edges(account_records(db, cfg, components))  # doctest: +SKIP
    >>> stage.report.mode  # doctest: +SKIP
    'trained'
    """

    def __init__(self, cfg: IdentityConfig, *, on: Any = None) -> None:
        self.cfg = cfg
        self.on = on
        self.model: dict[str, Any] | None = None
        self.report = StageReport()
        self._kept = pd.DataFrame()

    def fit(self, records: pd.DataFrame, labels: pd.Series | None = None) -> None:
        """Plan from the account records, then train, fall back to priors, or skip."""
        from scrm_lib.identity.matching import train_model

        self.report, kept = plan(records, labels)
        rep = self.report
        if rep.mode == "trained":
            try:
                trained = train_model(kept, self.cfg, labels=labels, on=self.on)
            except _splink_errors() as exc:
                trained = None
                rep.notes.append(f"training failed: {_brief(exc)}")
            if trained is not None:
                self.model, notes = repair(trained)
                rep.notes += notes
            if self.model is None:
                rep.mode = "priors"
                rep.reason = (rep.notes or ["training gave no model"])[-1]
        if rep.mode == "priors":
            self.model = prior_model(self._model_columns(kept))
        self._kept = kept
        self._log()

    @staticmethod
    def _model_columns(kept: pd.DataFrame) -> list[str]:
        """The fields a model over ``kept`` compares (as :func:`.matching.train_model` picks)."""
        from scrm_lib.identity.matching import FEATURES

        return [c for c in FEATURES if c in kept.columns and kept[c].notna().any()]

    def edges(self, records: pd.DataFrame) -> pd.DataFrame:
        """Pairs at or above the threshold (:func:`.matching.probabilistic_edges`), if any."""
        from scrm_lib.identity.matching import probabilistic_edges

        empty = pd.DataFrame(
            columns=["a", "b", "match_probability", "match_weight", "compared", "ambiguous"]
        )
        if self.model is None or len(records) < 2:
            return empty
        try:
            stats: dict[str, int] = {}
            edges = probabilistic_edges(records, self.cfg, self.model, stats=stats, on=self.on)
            self.report.candidate_pairs += stats.get("candidate_pairs", 0)
            return edges
        except _splink_errors() as exc:
            rep = self.report
            note = f"prediction with the {rep.mode} model failed: {_brief(exc)}"
            rep.notes.append(note)
            logger.warning("identity: %s", note)
            if rep.mode == "trained":
                rep.mode, rep.reason = "priors", note
                self.model = prior_model(self._model_columns(self._kept))
                return self.edges(records)
            rep.mode, rep.reason, self.model = "skipped", note, None
            self._log()
            return empty

    def _log(self) -> None:
        rep = self.report
        if rep.mode == "trained":
            logger.info("identity: probabilistic stage trained on %d records", rep.records)
        elif rep.mode == "priors":
            logger.warning(
                "identity: probabilistic stage uses fixed priors (not trained): %s", rep.reason
            )
        else:
            logger.warning("identity: probabilistic stage skipped: %s", rep.reason)
        for note in rep.notes:
            logger.info("identity: %s", note)


__all__ = [
    "MIN_EM_PAIRS",
    "MIN_LAMBDA_PAIRS",
    "MIN_TRAIN_RECORDS",
    "PRIORS",
    "PRIOR_LAMBDA",
    "ProbabilisticStage",
    "StageReport",
    "pairs_sharing",
    "plan",
    "prior_model",
    "repair",
    "usable_columns",
]
