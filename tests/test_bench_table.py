"""The README's benchmark tables are generated from bench/results: a hand edit fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_benchmark_tables_match_the_results_files():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "table.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_hand_edit_is_caught(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- bench:start -->")
    edited = tmp_path / "README.md"
    edited.write_text(readme[:start] + readme[start:].replace(" s |", " s (fast) |", 1))
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "table.py"), "--check", "--readme", str(edited)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "bench/table.py" in done.stderr
