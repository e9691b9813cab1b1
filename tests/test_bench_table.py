"""The README's benchmark tables are generated from bench/results: a hand edit fails here."""

from __future__ import annotations

import json
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


def _spark_result(persons: int, seconds: float, cpu: str, steps: dict[str, float]) -> dict:
    machine = {"cores": 2, "ram_gib": 16, "cpu": cpu, "os": "Debian", "python": "3.11.7"}
    target = {"seconds": seconds, "peak_rss_mib": 1024.0, "steps": steps, "machine": machine}
    return {"persons": persons, "export_mib": 1.0, "machine": machine,
            "targets": {"local": target}}  # fmt: skip


def test_the_spark_scaling_row_gives_growth_and_exponent_and_names_a_machine_change(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    import table

    small = _spark_result(100_000, 100.0, "X", {"identity": 10.0, "value": 10.0})
    (tmp_path / "spark_build_100000.json").write_text(json.dumps(small))
    big = _spark_result(1_000_000, 1000.0, "X", {"identity": 1000.0, "value": 100.0})
    ((what, grew, notes),) = table.spark_scaling(tmp_path / "spark_build_1000000.json", big)
    assert "100k → 1M" in what
    # ten times the persons, ten times the time: exponent 1; identity a hundred times: 2
    assert grew == "Spark local[2] time ×10.0 (^1.00), memory ×1.0"
    assert notes.startswith("steps that grew most: Spark local[2]: identity ×100.0 (^2.00)")
    assert "DIFFERENT MACHINES" not in notes
    big["targets"]["local"]["machine"] = {**big["machine"], "cpu": "Y"}
    ((_, _, notes),) = table.spark_scaling(tmp_path / "spark_build_1000000.json", big)
    assert "DIFFERENT MACHINES" in notes
