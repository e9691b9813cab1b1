"""The Parquet warehouse folder a Spark build publishes, and how readers open it.

Layout (``<folder>`` is ``[engine] warehouse_path``, default ``data/warehouse/spark``)::

    <folder>/CURRENT                      the published version's id (one line)
    <folder>/versions/<build_id>/
        _manifest.json                    written last: the version is complete
        orders/ts_month=2024-05/part-*.parquet   canonical tables (Spark's writer)
        person_value/part-0.parquet       marts and build log (DuckDB's writer)
        ...

A build writes a whole new version folder and then replaces ``CURRENT``
(:mod:`scrm_lib.warehouse.publish`); a reader resolves ``CURRENT`` once and
reads only that version's files, so it sees one build, never a mix, whatever
a build does meanwhile. The manifest lists every table's columns (DuckDB
types), row count and files: readers need no directory listing (costly on
object stores) and ignore any file a killed task left behind.

Readers get an in-memory DuckDB connection whose views read the version's
Parquet files (:func:`attach_version`), so every function that takes a
warehouse works on a folder as on a DuckDB file.

Example
-------
>>> version = current_version("data/warehouse/spark")  # doctest: +SKIP
>>> version.id, sorted(version.tables)[:2]  # doctest: +SKIP
('20261125T200102-3fa9c1', ['accounts', 'assignments'])
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrm_lib.errors import WarehouseError

#: The pointer file: the id of the published version.
POINTER = "CURRENT"
#: The folder of the versions, one sub-folder per build id.
VERSIONS = "versions"
#: In a version folder: the list of its tables, written when every table is complete.
MANIFEST = "_manifest.json"
#: The manifest format this code writes and reads.
FORMAT = 1

# A version id names a folder: no separators, no "..", nothing a shell would expand.
_VERSION_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]*")
# Column types come from the manifest into view SQL: a type never holds these.
_BAD_TYPE = re.compile(r";|--|/\*")


@dataclass(frozen=True)
class Version:
    """One published version of a warehouse folder.

    Attributes
    ----------
    folder
        The warehouse folder.
    id
        The version id (the build id of the build that wrote it).
    manifest
        The parsed ``_manifest.json``: ``tables`` (name -> ``columns``, ``rows``,
        ``files``), ``engine``, ``master``, ``previous``, ``runs``, ...
    """

    folder: Path
    id: str
    manifest: dict[str, Any]

    @property
    def path(self) -> Path:
        """The version's folder."""
        return version_path(self.folder, self.id)

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        """Table name -> its manifest entry."""
        return self.manifest.get("tables", {})

    def info(self) -> dict[str, Any]:
        """What ``scrm status`` shows of it: storage, folder, version, engine, master, where ran."""
        return {
            "storage": "parquet",
            "folder": str(self.folder),
            "version": self.id,
            "previous": self.manifest.get("previous"),
            "engine": self.manifest.get("engine"),
            "master": self.manifest.get("master"),
            "runs": self.manifest.get("runs", {}),
        }


def is_folder_warehouse(path: str | Path) -> bool:
    """Whether ``path`` is a warehouse folder (a directory) rather than a DuckDB file.

    Examples
    --------
    >>> is_folder_warehouse("data/warehouse/scrm.duckdb")
    False
    """
    return Path(path).is_dir()


def version_path(folder: Path, version_id: str) -> Path:
    """``<folder>/versions/<version_id>``."""
    return Path(folder) / VERSIONS / version_id


def is_published(path: str | Path) -> bool:
    """A DuckDB file that exists, or a folder with a pointer: something a reader can open."""
    p = Path(path)
    return (p / POINTER).is_file() if p.is_dir() else p.is_file()


def published_version(path: str | Path) -> str:
    """What identifies the build a reader of ``path`` sees now, for caches keyed by it:
    a folder's ``CURRENT`` (the version it names), a file's modification time; ``""``
    when nothing is published. Never raises: a cache key is no place for an error.

    Examples
    --------
    >>> published_version("/no/such/scrm.duckdb")
    ''
    """
    p = Path(path)
    try:
        if p.is_dir():
            return "version " + (p / POINTER).read_text(encoding="utf-8").strip()
        return f"mtime {p.stat().st_mtime_ns}"
    except (OSError, UnicodeDecodeError):
        return ""


def read_pointer(folder: Path) -> str | None:
    """The version id ``CURRENT`` names; ``None`` when there is no pointer (nothing published).

    Raises
    ------
    WarehouseError
        The pointer is unreadable or does not hold a version id.
    """
    pointer = Path(folder) / POINTER
    try:
        text = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise WarehouseError(f"{pointer}: unreadable ({exc})") from None
    if not _VERSION_ID.fullmatch(text):
        raise WarehouseError(f"{pointer}: does not name a version ({text[:40]!r})")
    return text


def read_manifest(folder: Path, version_id: str) -> dict[str, Any]:
    """The manifest of version ``version_id``; one-line errors naming the folder."""
    where = version_path(folder, version_id)
    if not where.is_dir():
        raise WarehouseError(
            f"warehouse {folder}: {POINTER} names version {version_id}, but {where} is missing"
        )
    path = where / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WarehouseError(
            f"warehouse {folder}: version {version_id} is incomplete (no {MANIFEST} in {where})"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise WarehouseError(f"{path}: not a readable manifest ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        raise WarehouseError(f"{path}: not a scrm manifest (no tables)")
    if manifest.get("format") != FORMAT:
        raise WarehouseError(
            f"{path}: manifest format {manifest.get('format')!r}, this scrm reads {FORMAT}"
        )
    return manifest


def current_version(folder: str | Path) -> Version:
    """The version ``<folder>/CURRENT`` names, resolved once.

    Raises
    ------
    WarehouseError
        No pointer (nothing published yet), a pointer to a missing or incomplete
        version, or an unreadable manifest: one line naming the folder.

    Examples
    --------
    >>> current_version("data/warehouse/spark").id  # doctest: +SKIP
    '20261125T200102-3fa9c1'
    """
    root = Path(folder)
    version_id = read_pointer(root)
    if version_id is None:
        from scrm_lib.engine.connect import home_hint

        raise WarehouseError(
            f"no warehouse at {root}: no build has been published there (no {POINTER}); "
            f"{home_hint()}"
        )
    return Version(root, version_id, read_manifest(root, version_id))


def data_files(folder: Path) -> list[Path]:
    """The Parquet files of one table's folder, partition folders included, in path order.

    Writers' bookkeeping (``_SUCCESS``, ``.crc``, ``_temporary``) is not data.
    """
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) and "=" not in part for part in
                   p.relative_to(folder).parts)
    )  # fmt: skip


def attach_version(con: Any, version: Version) -> None:
    """Make every table of ``version`` a view on ``con`` (a DuckDB connection) over its files.

    Each column is cast to the type the manifest records, so a table reads the
    same whichever writer (Spark or DuckDB) made its files; a table without files
    (nothing to write) is an empty view of the same columns.
    """
    tables = {}
    for name, entry in version.tables.items():
        columns = [(str(c), str(t)) for c, t in entry.get("columns", [])]
        if not columns:
            raise WarehouseError(f"{version.path / MANIFEST}: no columns for table {name!r}")
        tables[name] = (columns, [str(f) for f in entry.get("files", [])])
    attach_parquet(con, version.path, tables, label=f"warehouse {version.folder}")


def attach_parquet(
    con: Any,
    root: Path,
    tables: Mapping[str, tuple[Sequence[tuple[str, str]], Sequence[str]]],
    *,
    label: str = "warehouse",
) -> None:
    """Views on ``con`` (DuckDB) over Parquet files: table -> ((column, DuckDB type), ...),
    and its files relative to ``root``.

    Examples
    --------
    >>> attach_parquet(con, version_dir, {"orders": (duckdb_columns(TABLES["orders"]),
    ...                                   ["orders/ts_month=2024-05/part-0.parquet"])})
    ... # doctest: +SKIP
    """
    from scrm_lib.engine.runner import Runner

    runner = Runner(con, label=label)
    for name, (columns, files) in tables.items():
        if any(_BAD_TYPE.search(t) for _, t in columns):
            raise WarehouseError(f"{root}: bad column type in table {name!r}")
        runner.query(
            "engine.parquet_view",
            step="open",
            table=name,
            view=name,
            columns=[c for c, _ in columns],
            types=[t for _, t in columns],
            files=[str(Path(root) / f) for f in files],
        )


def duckdb_columns(schema: Any) -> list[tuple[str, str]]:
    """An ibis schema as (column, DuckDB type) pairs.

    Examples
    --------
    >>> import ibis
    >>> duckdb_columns(ibis.schema({"amount": "decimal(18, 2)"}))
    [('amount', 'DECIMAL(18, 2)')]
    """
    from ibis.backends.sql.datatypes import DuckDBType

    return [(name, DuckDBType.from_ibis(dtype).sql("duckdb")) for name, dtype in schema.items()]


__all__ = [
    "FORMAT",
    "MANIFEST",
    "POINTER",
    "VERSIONS",
    "Version",
    "attach_parquet",
    "attach_version",
    "current_version",
    "data_files",
    "duckdb_columns",
    "is_folder_warehouse",
    "is_published",
    "published_version",
    "read_manifest",
    "read_pointer",
    "version_path",
]
