"""Text as the taggers read it: simplified, half-width, lower case; and what is not text at all.

Traditional characters are converted with OpenCC (``t2s``), full-width letters,
digits and punctuation folded by Unicode NFKC, letters lowered and runs of
space collapsed. A message with no words to read (empty, only punctuation or
emoji, or a placeholder such as ``[图片]``) gets a reason instead, and the
taggers leave it ``other`` / neutral.
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: Longest message read, in characters: a pasted article says no more past this.
MAX_CHARS = 500

_SPACE = re.compile(r"\s+")
# A "word" character for the non-text test: CJK ideographs, letters and digits.
_WORDY = re.compile(r"[\u3400-\u9fff\uf900-\ufaffA-Za-z0-9]")
_PLACEHOLDER = re.compile(r"^\[[^\[\]]{1,8}\]$")


@functools.cache
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def normalize(text: object) -> str:
    """``text`` simplified, NFKC-folded, lower-cased, single-spaced and cut to MAX_CHARS.

    Examples
    --------
    >>> normalize("這個 ＬＩＮＫ  多少錢？")
    '这个 link 多少钱?'
    """
    if not isinstance(text, str):
        return ""
    s = unicodedata.normalize("NFKC", text[: MAX_CHARS * 2])
    s = _converter().convert(s)
    return _SPACE.sub(" ", s).strip().lower()[:MAX_CHARS]


def non_text_reason(clean: str, placeholders: frozenset[str]) -> str | None:
    """Why a normalized message has nothing to read (``None`` when it has words).

    Examples
    --------
    >>> non_text_reason("[图片]", frozenset({"[图片]"}))
    'placeholder [图片]'
    >>> non_text_reason("😂😂", frozenset()), non_text_reason("好的", frozenset())
    ('no words (emoji or punctuation only)', None)
    """
    if not clean:
        return "empty"
    if clean in placeholders or _PLACEHOLDER.match(clean):
        return f"placeholder {clean}"
    if not _WORDY.search(clean):
        return "no words (emoji or punctuation only)"
    return None
