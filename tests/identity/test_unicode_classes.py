"""The stored table of digit-or-space characters is what testing every code point gives."""

from __future__ import annotations

import unicodedata

import duckdb
import pytest

from scrm_lib.identity._unicode_classes import DIGITS_OR_SPACES
from scrm_lib.identity.matching import _unicode_digits_or_spaces, digit_or_space_ranges


def test_the_stored_ranges_are_the_computed_ones_for_this_python() -> None:
    stored = DIGITS_OR_SPACES.get(unicodedata.unidata_version)
    if stored is None:
        pytest.fail(
            f"no stored ranges for Unicode {unicodedata.unidata_version}: add "
            "digit_or_space_ranges() to scrm_lib/identity/_unicode_classes.py"
        )
    assert stored == digit_or_space_ranges()


def _matches(text: str) -> bool:
    """The class as the blocking SQL uses it: a DuckDB (RE2) regular expression."""
    query = "SELECT regexp_matches(?, ?)"
    return duckdb.execute(query, [text, _unicode_digits_or_spaces()]).fetchone()[0]


@pytest.mark.parametrize("char", ["３", "①", "\u3000", "٣", "𝟘", "\u00a0", "½"])
def test_the_class_holds_full_width_circled_and_other_script_digits_and_spaces(char) -> None:
    assert _matches(f"幸福路{char}号")


@pytest.mark.parametrize("text", ["三号楼", "幸福路", "é", "12 号", "ａｂｃ"])
def test_the_class_leaves_out_words_letters_and_ascii_digits(text) -> None:
    assert not _matches(text)
