"""Running the CLI as a user would, for tests that need a generated, built sample."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Persons in the shared sample: big enough for identity and experiments, quick to build.
PERSONS = 1500


def scrm(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run the CLI in its own process (no TTY), with ``cwd`` as the project home."""
    env = {**os.environ, "SCRM_HOME": str(cwd), "CI": "true"}
    for name in ("SCRM_WAREHOUSE", "SCRM_USERS_FILE", "SCRM_STATE_DB", "SCRM_REPORTS_DIR"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-m", "scrm_lib.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"scrm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc
