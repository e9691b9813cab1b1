"""Running the CLI as a user would, for tests that need a generated, built sample.

A built sample costs a minute of generate + ingest + build. ``cached_home``
makes each one once per code version and shares it: between the xdist
workers of one run (a file lock; the others wait, then copy) and between
runs on one checkout (the cache sits in ``.pytest_cache/scrm-samples/``,
keyed by a hash of the library's code, statements and lock file, so an
edit anywhere in ``scrm_lib`` rebuilds). Every session works on its own
copy, since some tests re-ingest, rebuild or run reports in the home.
A clean clone (CI) has no cache: there the first build still counts.
``SCRM_TEST_SAMPLES=off`` builds every sample afresh in the session.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Persons in the shared sample: big enough for identity and experiments, quick to build.
PERSONS = 1500
SEED = 7

#: Where built samples are kept; set SCRM_TEST_SAMPLES to another folder, or to "off".
CACHE_ENV = "SCRM_TEST_SAMPLES"


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


@functools.cache
def code_version() -> str:
    """A hash of everything a build's result depends on: the library's code, settings,
    statements, and the locked dependency versions."""
    digest = hashlib.sha256()
    lib = ROOT / "scrm_lib"
    files = sorted(p for ext in ("py", "toml", "sql") for p in lib.rglob(f"*.{ext}"))
    for path in [*files, ROOT / "uv.lock"]:
        if path.is_file():
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (POSIX); elsewhere no lock, each session builds."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prune(root: Path, keep: str, older_than_s: float = 3600) -> None:
    """Drop the samples of other code versions not used for an hour (a running session
    touches its version's folder each time it copies from it)."""
    now = time.time()
    for old in root.iterdir() if root.exists() else ():
        if old.name != keep and old.is_dir() and now - old.stat().st_mtime > older_than_s:
            shutil.rmtree(old, ignore_errors=True)


def _cache_off() -> bool:
    return os.environ.get(CACHE_ENV, "").lower() in {"off", "0", "false", "no"}


def _cache_folder(name: str, key: str) -> Path:
    """The cached home's folder, in the folder of this code version (its parent)."""
    setting = os.environ.get(CACHE_ENV, "")
    root = Path(setting) if setting else ROOT / ".pytest_cache" / "scrm-samples"
    tag = hashlib.sha256(f"{name}\0{key}".encode()).hexdigest()[:8]
    return root / code_version() / f"{name}-{tag}"


def cached_home(
    name: str, recipe: Callable[[Path], dict], dest: Path | None, *, key: str = ""
) -> dict:
    """A project home made by ``recipe(home) -> facts`` (facts: JSON), copied to ``dest``.

    ``key`` names the recipe's inputs (persons, seed, flags), so a changed
    recipe never reuses an old home. Returns the facts the recipe returned
    when it ran (on this machine, possibly in an earlier session). With
    ``dest`` None the home is only made (and cached), not copied.
    """
    if _cache_off():
        if dest is None:
            return {}
        facts = recipe(dest)
        return json.loads(json.dumps(facts))
    folder = _cache_folder(name, key)
    version = folder.parent
    with _locked(folder.with_name(folder.name + ".lock")):
        os.utime(version)
        if not (folder / "facts.json").exists():
            _prune(version.parent, keep=version.name)
            work = folder.with_name(folder.name + ".partial")
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            facts = recipe(work / "home")
            (work / "facts.json").write_text(json.dumps(facts), encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)
            work.rename(folder)
        if dest is not None:
            shutil.copytree(folder / "home", dest, symlinks=True)
    return json.loads((folder / "facts.json").read_text(encoding="utf-8"))


def _build_sample(persons: int, seed: int, *, train_churn: bool) -> Callable[[Path], dict]:
    """The recipe of a generated sample, ingested and built through the CLI as a user would."""

    def recipe(home: Path) -> dict:
        home.mkdir(parents=True, exist_ok=True)
        scrm("generate", "--persons", str(persons), "--seed", str(seed), "--out", "sample",
             cwd=home)  # fmt: skip
        ingest = json.loads(scrm("ingest", "sample/exports", "--json", cwd=home).stdout)
        flags = ["--train-churn"] if train_churn else []
        build = json.loads(scrm("build", *flags, "--json", cwd=home).stdout)
        status = json.loads(scrm("status", "--json", cwd=home).stdout)
        return {"ingest": ingest, "build": build, "status": status}

    return recipe


def sample_home(
    tmp_path_factory, persons: int, seed: int, *, train_churn: bool, label: str = "home"
) -> dict:
    """This session's own copy of a built sample (made once per code version, see above)."""
    home = tmp_path_factory.mktemp(label) / "home"
    recipe = _build_sample(persons, seed, train_churn=train_churn)
    facts = cached_home("sample", recipe, home, key=_sample_key(persons, seed, train_churn))
    return {
        "home": home,
        "warehouse": home / "data/warehouse/scrm.duckdb",
        "truth": home / "sample/truth",
        **facts,
    }


def _sample_key(persons: int, seed: int, train_churn: bool) -> str:
    return f"{persons}/{seed}/{train_churn}"


def start_warming(persons: int = PERSONS, seed: int = SEED) -> subprocess.Popen | None:
    """Build the shared sample in a process of its own while the suite runs other tests.

    The sample's tests are scheduled last (``tests/conftest.py``), so by the time
    the first of them waits on the cache's lock the sample is built or nearly so,
    instead of a test worker building it while the other workers wait. None when
    the sample is cached already or the cache is off.
    """
    folder = _cache_folder("sample", _sample_key(persons, seed, True))
    if _cache_off() or (folder / "facts.json").exists():
        return None
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from tests.sample_project import warm; "
        "warm(int(sys.argv[2]), int(sys.argv[3]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(ROOT), str(persons), str(seed)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def warm(persons: int, seed: int) -> None:
    """Make the shared sample's cached home (the body of :func:`start_warming`'s process)."""
    recipe = _build_sample(persons, seed, train_churn=True)
    cached_home("sample", recipe, None, key=_sample_key(persons, seed, True))
