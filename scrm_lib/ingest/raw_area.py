"""The raw area: immutable input files, one copy each, filed by format.

``scrm ingest`` checks files and copies them here; ``scrm build`` reads only
from here. A file is identified by its content (sha256), so adding the same
file twice stores it once, whatever its name.

Layout: ``<raw_dir>/<format>/<file name>``; the folder name tells the build
which preset reads the file.

Example
-------
>>> from scrm_lib.ingest.raw_area import add_files  # doctest: +SKIP
>>> [c.status for c in add_files(["exports/"], raw_dir="data/raw")]  # doctest: +SKIP
['added', 'added', 'already ingested']
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scrm_lib.errors import ConfigError, InputFileError, ScrmError

if TYPE_CHECKING:
    from scrm_lib.config import Settings

log = logging.getLogger(__name__)

#: File names that are never raw input (documentation beside exports).
_SKIP_SUFFIXES = {".md", ".txt", ".toml"}


@dataclass
class FileCheck:
    """The outcome of checking one file for the raw area."""

    file: str
    status: str  # added | already ingested | would add | error
    format: str | None = None
    sha256: str | None = None
    rows_in: int = 0
    accepted: int = 0
    rejected: int = 0
    stored_as: str | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


#: sha256 by file identity (device, inode, size, modification and change times).
_SHA256: dict[tuple[int, ...], str] = {}


def sha256_of(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks.

    Remembered for the process while the file's identity is unchanged: the
    parse cache's key and the parsed file each ask for it (a second read of
    a 50 MB export).
    """
    before = _identity(path)
    if before in _SHA256:
        return _SHA256[before]
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if _identity(path) == before:  # not written to while it was read
        _SHA256[before] = digest
    return digest


def _identity(path: Path) -> tuple[int, ...]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def iter_input_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named directly, and files below named folders (sorted; hidden files skipped)."""
    for p in map(Path, paths):
        if not p.exists():
            raise ScrmError(f"{p}: no such file or folder")
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                hidden = any(part.startswith(".") for part in rel)
                if f.is_file() and not hidden and f.suffix.lower() not in _SKIP_SUFFIXES:
                    yield f
        else:
            yield p


def stored_hashes(raw_dir: Path) -> dict[str, Path]:
    """sha256 → stored path for every file already in the raw area."""
    if not raw_dir.exists():
        return {}
    return {sha256_of(f): f for f in iter_input_files([raw_dir])}


def add_files(
    paths: Iterable[str | Path],
    *,
    raw_dir: str | Path,
    preset: str | None = None,
    dry_run: bool = False,
    parse: Callable | None = None,
    on_file: Callable[[FileCheck], None] | None = None,
    settings: Settings | None = None,
) -> list[FileCheck]:
    """Check each file (format, rows accepted / rejected) and copy the good ones into the raw area.

    A file that cannot be read is reported with its one-line error and
    skipped; the other files still go in, and nothing already stored is
    touched. With ``settings`` (and not ``dry_run``) the refusal is kept in
    the state store (:func:`scrm_lib.access.state.record_refused`), so ``scrm
    status`` and the data-health report show it until a file of that name
    or content is accepted.

    Parameters
    ----------
    paths
        Files or folders (searched recursively).
    raw_dir
        The raw area.
    preset
        Force a format instead of detecting it from the header.
    dry_run
        Check only; copy nothing.
    parse
        ``parse(path, *, preset=None[, settings=None]) -> ParsedFile``; default
        :func:`scrm_lib.ingest.parse_file`.
    settings
        When given: parse with its ``timezone`` / ``default_region``, in
        ``settings.workers`` processes, and keep each parse in
        ``settings.cache_dir`` for the build (see :mod:`scrm_lib.ingest.cache`).
        Without it files are parsed here, with default settings, uncached.
    """
    from scrm_lib.ingest.cache import Failure, Job, check_cache_dir, parse_files

    raw = Path(raw_dir)
    if preset is not None and settings is not None and not dry_run:
        preset = register_preset(preset, home=settings.home)
    cache_dir = getattr(settings, "cache_dir", None)
    check_cache_dir(cache_dir, raw)
    known = stored_hashes(raw)
    files = list(iter_input_files(paths))
    jobs = [Job(path, preset) for path in files]
    workers = None if settings is not None else 1
    results: list[FileCheck] = []
    keep_state = settings is not None and not dry_run
    parsed_files = parse_files(
        jobs, parse=parse, settings=settings, cache_dir=cache_dir, workers=workers
    )
    for path, parsed in zip(files, parsed_files, strict=True):
        check = FileCheck(file=str(path), status="error")
        try:
            if isinstance(parsed, Failure):
                raise InputFileError(parsed.path, parsed.problem)
            check.sha256 = parsed.file_sha256 or sha256_of(path)
            check.format = parsed.format
            check.rows_in, check.accepted, check.rejected = (
                parsed.rows_in,
                parsed.accepted,
                parsed.rejected,
            )
            if check.sha256 in known:
                check.status, check.stored_as = "already ingested", str(known[check.sha256])
            elif dry_run:
                check.status = "would add"
            else:
                target = _target(raw / parsed.format, path, check.sha256)
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.part")
                shutil.copyfile(path, tmp)
                tmp.replace(target)
                known[check.sha256] = target
                check.status, check.stored_as = "added", str(target)
        except InputFileError as exc:
            check.error = str(exc)
            if keep_state:
                _remember_refusal(path, exc.problem, settings)
        results.append(check)
        log.info("%s: %s", path, check.status)
        if on_file is not None:
            on_file(check)
    accepted = [r for r in results if r.status in ("added", "already ingested")]
    if keep_state and accepted:
        from scrm_lib.access.state import clear_refused

        clear_refused(
            names=[Path(r.file).name for r in accepted],
            sha256s=[r.sha256 for r in accepted if r.sha256],
            path=settings.state_db,
        )
    return results


def _remember_refusal(path: Path, problem: str, settings: Settings) -> None:
    from scrm_lib.access.state import record_refused

    try:
        sha = sha256_of(path)
    except OSError:
        sha = None
    record_refused(str(path.resolve()), problem, sha256=sha, path=settings.state_db)


def register_preset(preset: str, *, home: Path) -> str:
    """Keep a preset given by path in ``<home>/presets`` so builds and detection know it.

    Returns the name to use from now on; a built-in or registered name passes through.
    """
    from scrm_lib.ingest.presets import load_preset_file

    source = Path(preset).expanduser()
    if not (preset.endswith(".toml") or source.is_file()):
        return preset
    loaded = load_preset_file(source)
    target = Path(home) / "presets" / f"{loaded.name}.toml"
    text = source.read_text(encoding="utf-8")
    if target.exists() and target.read_text(encoding="utf-8") != text:
        raise ConfigError(
            f"{target}: a different preset named {loaded.name!r} is already registered; "
            "rename yours or replace that file"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return loaded.name


def _target(folder: Path, source: Path, sha: str) -> Path:
    """Keep the export's own name; a different file with the same name gets the hash beside it."""
    target = folder / source.name
    if target.exists():
        target = folder / f"{source.stem}.{sha[:10]}{source.suffix}"
    return target
