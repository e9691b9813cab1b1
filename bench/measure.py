"""Run a command as a child process and measure its wall time and peak memory."""

from __future__ import annotations

import json
import os
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
