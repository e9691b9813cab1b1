"""The phrase dictionary: the explainable layer of the intent tagger.

The taxonomy (``taxonomy.toml``, versioned; another file with the same shape
via ``[conversations] taxonomy``) lists phrases per intent. A message is cut
into clauses at contrast words ("但是", "就是": jieba tokens, so "就是" inside a
longer word does not cut), and the last clause with a match decides: "不是不喜欢，
就是太贵了" is about the price. In a clause the intent listed first wins. A
phrase right after a negator does not count ("不贵" is not 太贵), unless the
negators before it cancel out ("不是不"). A one-character phrase counts only as
a whole jieba token ("券" in "领券", not "抢" in "抢眼").

Every match records the phrase, so a tag can be explained.
"""

from __future__ import annotations

import functools
import logging
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from scrm_lib.errors import ConfigError

INTENTS = (
    "purchase_intent", "needs_explanation", "service_logistics", "service_return",
    "service_order", "complaint", "churn_risk", "praise", "other",
)  # fmt: skip
#: The label of every message staff wrote.
STAFF = "staff"
OTHER = "other"


@dataclass(frozen=True)
class Taxonomy:
    """The parsed taxonomy file."""

    version: str
    order: tuple[str, ...]
    phrases: dict[str, tuple[str, ...]]
    labels: dict[str, str]
    negators: tuple[str, ...]
    contrast: frozenset[str]
    non_text: frozenset[str]
    sentiment: dict[str, Any] = field(default_factory=dict)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The taxonomy at ``path`` (default: the one shipped with scrm), validated.

    Raises :class:`ConfigError` naming the file and the problem (an unknown
    intent, a phrase that is not text, a missing version).
    """
    if path is None:
        text = resources.files(__package__).joinpath("taxonomy.toml").read_text("utf-8")
        where = "the shipped taxonomy.toml"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the taxonomy ({exc.strerror})") from None
        where = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    return _parse(data, where)


def _parse(data: dict[str, Any], where: str) -> Taxonomy:
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise ConfigError(f"{where}: `version` is missing (every tag records it)")
    intents = data.get("intents", {})
    unknown = set(intents) - set(INTENTS)
    if unknown:
        raise ConfigError(f"{where}: unknown intent(s) {sorted(unknown)}; known: {list(INTENTS)}")
    phrases: dict[str, tuple[str, ...]] = {}
    for name, spec in intents.items():
        words = spec.get("phrases", [])
        bad = [w for w in words if not isinstance(w, str) or not w.strip()]
        if bad:
            raise ConfigError(f"{where}: intent {name!r} has phrases that are not text: {bad[:3]}")
        phrases[name] = tuple(w.strip().lower() for w in words)
    return Taxonomy(
        version=version,
        order=tuple(intents),
        phrases=phrases,
        labels={n: str(s.get("label", n)) for n, s in intents.items()},
        negators=tuple(sorted(data.get("negators", []), key=len, reverse=True)),
        contrast=frozenset(data.get("contrast", [])),
        non_text=frozenset(data.get("non_text", [])),
        sentiment=dict(data.get("sentiment", {})),
    )


@dataclass(frozen=True)
class Match:
    """A dictionary decision: the intent and the phrase that made it."""

    intent: str
    phrase: str


class PhraseTagger:
    """Tags normalized text with the taxonomy's phrases (see the module docstring)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        import jieba

        self.taxonomy = taxonomy
        # jieba's own instance: the user dictionary stays out of the global one
        self._tok = jieba.Tokenizer()
        # jieba logs its dictionary loading ("Loading model cost 1.0 seconds") at DEBUG to
        # its own stderr handler, set up when it is imported, so a caller's logging setup
        # cannot quieten it: the lines landed in reports and command output. Its warnings
        # and errors still show, and its level is put back for anyone who wants the rest.
        log = jieba.default_logger
        level = log.level
        log.setLevel(max(level, logging.INFO))
        try:
            self._tok.initialize()
        finally:
            log.setLevel(level)
        rank = {name: i for i, name in enumerate(taxonomy.order)}
        owner: dict[str, str] = {}
        for name in taxonomy.order:
            for p in taxonomy.phrases.get(name, ()):
                owner.setdefault(p, name)
                if len(p) > 1:
                    self._tok.add_word(p)
        for word in taxonomy.contrast:
            self._tok.add_word(word)
        self._owner = owner
        self._rank = rank
        multi = sorted((p for p in owner if len(p) > 1), key=len, reverse=True)
        self._multi = re.compile("|".join(map(re.escape, multi))) if multi else None
        self._single = {p for p in owner if len(p) == 1}

    def tokens(self, clean: str) -> list[str]:
        return self._tok.lcut(clean, HMM=False)

    def clauses(self, clean: str) -> list[str]:
        """``clean`` cut at contrast words: the last clause speaks last."""
        out, cur = [], []
        for t in self.tokens(clean):
            if t in self.taxonomy.contrast and cur:
                out.append("".join(cur))
                cur = []
            else:
                cur.append(t)
        out.append("".join(cur))
        return [c for c in out if c.strip()]

    def _negated(self, clause: str, start: int) -> bool:
        before, n = clause[:start].rstrip(), 0
        while True:
            neg = next((w for w in self.taxonomy.negators if before.endswith(w)), None)
            if neg is None:
                return n % 2 == 1
            n += 1
            before = before[: -len(neg)].rstrip()

    def _matches(self, clause: str) -> list[Match]:
        found = []
        if self._multi is not None:
            for m in self._multi.finditer(clause):
                phrase = m.group()
                # a negator that is the phrase's own start ("不满意") is part of it
                if not self._negated(clause, m.start()):
                    found.append(Match(self._owner[phrase], phrase))
        if self._single:
            pos = 0
            for t in self.tokens(clause):
                if t in self._single and not self._negated(clause, pos):
                    found.append(Match(self._owner[t], t))
                pos += len(t)
        return found

    def candidates(self, clean: str) -> list[Match]:
        """The deciding clause's matches, one per intent, in the taxonomy's order.

        The last clause with a match decides ("不是不喜欢，就是太贵了": the price).
        """
        for clause in reversed(self.clauses(clean)):
            found = self._matches(clause)
            if found:
                first: dict[str, Match] = {}
                for m in found:
                    first.setdefault(m.intent, m)
                return sorted(first.values(), key=lambda m: self._rank[m.intent])
        return []

    def tag(self, clean: str) -> Match | None:
        """The dictionary's intent for one normalized customer message, or ``None``."""
        found = self.candidates(clean)
        return found[0] if found else None


@functools.cache
def shipped_tagger() -> PhraseTagger:
    """The tagger of the shipped taxonomy, built once per process (jieba takes a second)."""
    return PhraseTagger(load_taxonomy())
