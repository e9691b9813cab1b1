"""The conversations benchmark (bench/conversations.py) at a tiny size, and its message extract."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import conversations  # noqa: E402


def test_extract_reads_text_and_speaker(tmp_path: Path) -> None:
    exports = tmp_path / "sample" / "exports"
    exports.mkdir(parents=True)
    records = [
        {"msgid": "1", "from": "wmAbc", "tolist": ["LiNa"], "msgtype": "text",
         "text": {"content": "蹲链接"}},
        {"msgid": "2", "from": "LiNa", "tolist": ["wmAbc"], "msgtype": "text",
         "text": {"content": "亲，链接发您了"}},
        {"msgid": "3", "from": "woXyz", "tolist": ["LiNa"], "msgtype": "image"},
    ]  # fmt: skip
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    (exports / "wecom_chat_archive_2025.jsonl").write_text(lines + "\n", "utf-8")
    out = tmp_path / "messages.parquet"
    rows = conversations.extract(tmp_path / "sample", out)
    df = pd.read_parquet(out)
    assert df["speaker"].tolist() == ["customer", "staff", "customer"]
    assert df["text"].tolist()[:2] == ["蹲链接", "亲，链接发您了"]
    assert pd.isna(df["text"].iloc[2])  # a record without text content is still a message
    assert rows == {"messages": 3, "distinct_text_speaker": 3, "distinct_texts": 2,
                    "customer_messages": 2}  # fmt: skip


def test_names_of_cached_files(tmp_path: Path) -> None:
    assert conversations.sample_dir(1_000_000, 1, tmp_path).name == "sample_1m"
    assert conversations.sample_dir(100_000, 1, tmp_path).name == "sample_100k"
    assert conversations.sample_dir(2_500, 3, tmp_path).name == "sample_2500_s3"
    assert conversations.messages_path(2_000, 1, tmp_path) == tmp_path / "messages_2k.parquet"


@pytest.mark.slow  # generates a sample and runs two parts in their own processes
def test_bench_runs_at_a_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "results"
    conversations.run(1_000, 3, ["scrm", "floor"], out, cache=tmp_path / "cache")
    result = json.loads((out / "conversations_1000.json").read_text("utf-8"))
    assert set(result["machine"]) >= {"cores", "python", "load_average_at_start",
                                      "load_average_at_end"}  # fmt: skip
    assert result["target"] == {"seconds": 60}
    assert isinstance(result["meets_target"], bool)
    rows = result["rows"]
    assert 0 < rows["customer_messages"] < rows["messages"]
    assert 0 < rows["distinct_texts"] <= rows["distinct_text_speaker"] <= rows["messages"]
    scrm, floor = result["parts"]["scrm"], result["parts"]["floor"]
    for part in (scrm, floor):
        assert part["seconds"] > 0 and part["peak_rss_mib"] > 0
    assert {"read", "load tagger", "tag"} <= set(scrm["steps"])
    assert scrm["messages"] == rows["messages"]
    assert scrm["messages_per_second"] > 0
    assert abs(sum(scrm["intent_share"].values()) - 1) < 1e-3
    assert {"staff", "neutral"} <= set(scrm["intent_share"]) | set(scrm["sentiment_share"])
    assert floor["texts"] == rows["distinct_texts"]
    assert floor["scope"] == "distinct_texts"
    assert "snownlp" not in result["parts"]
    assert result["scrm_over_floor"] > 0
