"""JSON lines whose text looks like times are kept as the text that was written.

pyarrow takes ISO 8601 text for timestamps and drops whether it had an offset
(a naive time is local). The reader reads those fields again as text; the
cells must equal the line-by-line reading of the same file. The file is typed
by hand: an offset, a naive time, a bare date, a nested date, a field that
appears only in a later line, and one that is a time in one line and a word in
another.
"""

from __future__ import annotations

import json

import pandas as pd

from scrm_lib.ingest.read import _read_jsonl_python, read_table

LINES = [
    {"openid": "oA1", "ts": "2025-05-01T10:00:00+08:00", "birthday": "1990-02-03",
     "addr": {"since": "2024-12-31"}, "amount": 12.5, "note": "2025-06-18"},
    {"openid": "oB2", "ts": "2025-05-01 10:00:00", "birthday": None,
     "addr": {"since": "2025-01-01"}, "amount": 3, "note": "618 大促"},
    {"openid": "oC3", "ts": "2025-05-02T23:59:59Z", "birthday": "1985-11-30",
     "addr": {"since": None}, "amount": None, "last_seen": "2025-05-03T08:00:00"},
]  # fmt: skip


def test_time_like_text_is_read_as_written(tmp_path):
    path = tmp_path / "miniapp_users_hand.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in LINES) + "\n")
    fast = read_table(path)
    slow = _read_jsonl_python(path, path.read_bytes())
    assert fast.arrow is not None, "the file should not need the line-by-line reader"
    cols = sorted(slow.df.columns)
    assert sorted(fast.df.columns) == cols
    pd.testing.assert_frame_equal(
        fast.df[cols].reset_index(drop=True), slow.df[cols].reset_index(drop=True)
    )
    assert fast.df["ts"].tolist() == [r["ts"] for r in LINES]
