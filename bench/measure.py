"""Run a command as a child process and measure its wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
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
