"""Run a command as a child process and measure its wall time and peak memory."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Measurement:
    seconds: float
    peak_rss_mib: float
    returncode: int


def measure(cmd: list[str], *, cwd: str, env: dict | None = None, log=None) -> Measurement:
    """Wall time and peak resident memory of one command (os.wait4: that child's own usage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=log)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {code}")
    return Measurement(round(seconds, 2), round(usage.ru_maxrss / 1024, 1), code)


class Clock:
    """Named wall times of the steps of one part (a part's process keeps one)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn: Any) -> Any:
        start = time.perf_counter()
        out = fn()
        self.seconds[name] = round(time.perf_counter() - start, 2)
        return out


def run_part(work: Callable[[Clock], dict[str, Any]], report: Path) -> None:
    """Run one part (``work(clock)``) in this process; its timings and counts to ``report``."""
    clock = Clock()
    start = time.perf_counter()
    out = work(clock)
    out["seconds"] = clock.seconds
    out["total_seconds"] = round(time.perf_counter() - start, 2)
    report.write_text(json.dumps(out, default=str))


def machine(**extra: Any) -> dict[str, Any]:
    """The machine a result was measured on: cores, RAM, CPU model, OS, Python, DuckDB.

    Every results file records it (``"machine"``), and ``bench/table.py`` prints it
    beside the numbers; ``extra`` adds notes (e.g. ``shared_with_other_jobs``).
    """
    import duckdb

    def first(path: str, key: str) -> str | None:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            return None
        return None

    mem_kib = first("/proc/meminfo", "MemTotal")
    os_name = None
    with contextlib.suppress(OSError):
        os_name = platform.freedesktop_os_release().get("PRETTY_NAME")
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(int(mem_kib.split()[0]) / 2**20, 1) if mem_kib else None,
        "cpu": first("/proc/cpuinfo", "model name") or platform.processor() or None,
        "os": os_name or f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "commit": _commit(),
        **extra,
    }


def _commit() -> str | None:
    """The checkout's commit, with ``+changes`` when files differ from it: which code
    a number measured (a 1M-person run outlives several commits)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+changes" if dirty else "")
