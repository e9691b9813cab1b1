"""Settings in one place: paths, engine and thresholds.

Resolution order (later wins): built-in defaults, ``scrm.toml`` in the
project home, environment variables ``SCRM_*``. The project home is
``$SCRM_HOME``; else the nearest folder, from the current directory up,
that holds ``scrm.toml`` or is an scrm source checkout (its
``pyproject.toml`` names the ``scrm`` project), so a notebook kernel started
in ``notebooks/`` finds the same warehouse as ``scrm`` run at the top;
else the current directory (:func:`find_home`).

The engine is ``engine = "duckdb"`` (or ``"pyspark"``, alias ``"spark"``), or
an ``[engine]`` table that also says where Spark runs::

    [engine]
    name = "spark"
    master = "spark://10.0.0.5:7077"   # default local[2]
    executor_memory = "4g"             # default: Spark's (1g)
    warehouse_path = "hdfs:///scrm"    # default data/warehouse/spark

(environment: ``SCRM_ENGINE``, ``SCRM_SPARK_MASTER``,
``SCRM_SPARK_EXECUTOR_MEMORY``, ``SCRM_SPARK_WAREHOUSE_PATH``).

``warehouse`` is what readers (CLI, notebooks, dashboard) open. With the
Spark engine it defaults to the ``warehouse_path`` folder, the one a Spark
build publishes, so readers follow the engine without a second setting; a
``warehouse`` set explicitly wins, for builds and readers alike.

Sections of ``scrm.toml`` that are not settings fields land in
``Settings.extra`` and are read, validated and documented by the module
they configure: ``[identity]`` (:mod:`scrm_lib.identity.config`),
``[value]``, ``[kpis]``, ``[churn]``, ``[experiments]``, ``[steps]`` and
``[plausibility]`` (the ingest rules that reject implausible amounts,
times and quantities: :func:`scrm_lib.ingest.plausibility.plausibility_rules`;
defaults: orders up to 1,000,000 CNY, negative amounts only on refunds,
times from 2000-01-01 to one day ahead, quantities 1-10,000).

Example
-------
>>> from scrm_lib.config import load_settings
>>> s = load_settings()
>>> s.warehouse.name
'scrm.duckdb'
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from scrm_lib.errors import ConfigError

ENGINES = ("duckdb", "pyspark")
#: Other names accepted for an engine (config and CLI): ``spark`` is ``pyspark``.
ENGINE_ALIASES = {"spark": "pyspark"}
#: Keys of the ``[engine]`` table in ``scrm.toml`` -> the settings field each sets.
ENGINE_KEYS = {
    "name": "engine",
    "master": "spark_master",
    "executor_memory": "spark_executor_memory",
    "warehouse_path": "spark_warehouse_path",
}

_MASTER = re.compile(
    r"local(\[(\*|[1-9]\d*)(,\s*[1-9]\d*)?\])?"
    r"|local-cluster\[\d+,\s*\d+,\s*\d+\]"
    r"|spark://[\w.-]+(:\d+)?(,[\w.-]+(:\d+)?)*"
    r"|yarn|k8s://\S+"
)
_MEMORY = re.compile(r"[1-9]\d*([kmgtp]b?)?", re.IGNORECASE)
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+")


def normalize_engine(name: str) -> str:
    """The engine's canonical name (``spark`` -> ``pyspark``); ConfigError when unknown.

    Examples
    --------
    >>> normalize_engine("spark")
    'pyspark'
    """
    engine = ENGINE_ALIASES.get(name, name) if isinstance(name, str) else name
    if engine not in ENGINES:
        known = ", ".join([*ENGINES, *ENGINE_ALIASES])
        raise ConfigError(f"engine {name!r} is not one of {known}")
    return engine


def check_master(url: str) -> str:
    """A Spark master URL as given; ConfigError when it is not one.

    Examples
    --------
    >>> check_master("spark://10.0.0.5:7077")
    'spark://10.0.0.5:7077'
    """
    if not isinstance(url, str) or not _MASTER.fullmatch(url.strip()):
        raise ConfigError(
            f"engine master {url!r} is not a Spark master URL "
            "(local[N], local[*], spark://HOST:PORT, yarn, k8s://URL)"
        )
    return url.strip()


def check_memory(size: str, what: str = "engine executor_memory") -> str:
    """A Spark memory size (``512m``, ``4g``), lower-cased; ConfigError when it is not one.

    Examples
    --------
    >>> check_memory(" 4G ")
    '4g'
    """
    if not isinstance(size, str) or not _MEMORY.fullmatch(size.strip()):
        raise ConfigError(f"{what} {size!r} is not a Spark memory size (e.g. 512m, 4g)")
    return size.strip().lower()


@dataclass(frozen=True)
class Settings:
    """Resolved settings; paths are absolute."""

    home: Path
    raw_dir: Path
    warehouse: Path
    reports_dir: Path
    state_db: Path
    users_file: Path
    engine: str = "duckdb"
    #: Spark engine (``[engine]`` in scrm.toml): the master URL a build's
    #: session connects to (``local[2]``: this machine; ``spark://HOST:PORT``:
    #: a standalone cluster), and the memory of each executor (Spark's
    #: default, 1g, when None).
    spark_master: str = "local[2]"
    spark_executor_memory: str | None = None
    #: Where a Spark build publishes its Parquet warehouse folder: a folder every
    #: executor can read (local disk on one machine; a shared mount on a
    #: cluster), kept as given when a URL, else made absolute. ``hdfs://`` and
    #: ``s3a://`` URLs parse but are refused by the build until publishing there
    #: is supported (:func:`warehouse_folder`).
    spark_warehouse_path: str = ""
    timezone: str = "Asia/Shanghai"
    # DuckDB spills to disk past this, so a large build degrades instead of being killed
    duckdb_memory_limit: str = "6GB"
    default_region: str = "CN"
    extra: dict[str, Any] = field(default_factory=dict)
    #: Parsed files (Parquet) keyed by content and parse settings; None: no cache.
    #: Never inside the raw area, which holds only the immutable input files.
    cache_dir: Path | None = None
    #: Processes that parse files; 0: one per core (up to the number of files),
    #: 1: parse in this process.
    workers: int = 0
    #: Dashboard login: failures in a row before a user (or, at the higher
    #: count, one client address) is locked; the lock's length in minutes,
    #: doubled for each further lock; the wait after the n-th failure,
    #: ``login_backoff_seconds * 2**(n-1)`` (at most one minute).
    login_max_failures: int = 5
    login_client_max_failures: int = 20
    login_lock_minutes: float = 15.0
    login_backoff_seconds: float = 1.0
    #: How long a dashboard login lasts (its HttpOnly session cookie).
    session_hours: float = 8.0

    def with_overrides(self, **kwargs: Any) -> Settings:
        """Return a copy with the given non-None fields replaced (paths made absolute)."""
        clean = {}
        for key, value in kwargs.items():
            if value is None:
                continue
            if isinstance(getattr(self, key), Path):
                value = Path(value).expanduser().resolve()
            clean[key] = value
        return replace(self, **clean)


#: A folder holding this file is a project home.
HOME_MARKER = "scrm.toml"


@dataclass(frozen=True)
class HomeSource:
    """Where the project home came from, for error messages that say how to change it."""

    path: Path
    how: str  # "SCRM_HOME" | "scrm.toml" | "checkout" | "cwd" | "argument"

    def describe(self) -> str:
        return {
            "SCRM_HOME": f"project home {self.path} (from SCRM_HOME)",
            "scrm.toml": f"project home {self.path} (the folder of the nearest scrm.toml)",
            "checkout": f"project home {self.path} (the scrm checkout holding the current folder)",
            "cwd": f"project home {self.path} (the current folder: no scrm.toml above it)",
        }.get(self.how, f"project home {self.path}")


def _is_checkout(folder: Path) -> bool:
    project = folder / "pyproject.toml"
    if not project.is_file():
        return False
    try:
        data = tomllib.loads(project.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False
    return data.get("project", {}).get("name") == "scrm"


def find_home(start: str | Path | None = None) -> HomeSource:
    """The project home and how it was found.

    ``$SCRM_HOME`` when set; else the nearest folder from ``start`` (default:
    the current directory) upwards that holds ``scrm.toml`` or is an scrm
    source checkout; else ``start`` itself.

    Examples
    --------
    >>> find_home("notebooks").how in ("SCRM_HOME", "scrm.toml", "checkout", "cwd")
    True
    """
    env = os.environ.get("SCRM_HOME")
    if env:
        return HomeSource(Path(env).expanduser().resolve(), "SCRM_HOME")
    here = Path(start if start is not None else ".").expanduser().resolve()
    for folder in (here, *here.parents):
        if (folder / HOME_MARKER).is_file():
            return HomeSource(folder, "scrm.toml")
        if _is_checkout(folder):
            return HomeSource(folder, "checkout")
    return HomeSource(here, "cwd")


def home_hint() -> str:
    """One sentence for "not found" errors: which home was used and how to point elsewhere."""
    return (
        f"{find_home().describe()}; run `scrm build` in the project home, or set SCRM_HOME "
        "to the project folder (or `warehouse` in its scrm.toml)"
    )


def _home() -> Path:
    return find_home().path


def load_settings(home: str | Path | None = None) -> Settings:
    """Read defaults, then ``scrm.toml`` in the home, then ``SCRM_*`` environment variables."""
    root = Path(home).expanduser().resolve() if home is not None else _home()
    values: dict[str, Any] = {
        "raw_dir": "data/raw",
        "reports_dir": "data/reports",
        # user-authored state (audit, overrides, segments) survives rebuilds: kept apart
        "state_db": "data/state/scrm_state.duckdb",
        "users_file": "data/users.yaml",
        "cache_dir": "data/cache",
    }
    extra: dict[str, Any] = {}
    toml_path = root / "scrm.toml"
    if toml_path.exists():
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{toml_path}: not valid TOML ({exc})") from None
        known = {f.name for f in fields(Settings)} - set(ENGINE_KEYS.values()) | {"engine"}
        for key, value in data.items():
            (values if key in known else extra)[key] = value
        values.update(_engine_table(values.pop("engine", "duckdb"), toml_path))
    explicit_warehouse = "warehouse" in values
    values.setdefault("warehouse", "data/warehouse/scrm.duckdb")
    for f in fields(Settings):
        env = os.environ.get(f"SCRM_{f.name.upper()}")
        if env is not None and f.name not in ("home", "extra"):
            values[f.name] = env
            explicit_warehouse |= f.name == "warehouse"
    values.update(_spark_values(values, root))
    if values["engine"] == "pyspark" and not explicit_warehouse:
        # readers open what a Spark build publishes; a URL is not readable here yet
        folder = _local_path(values["spark_warehouse_path"])
        if folder is not None:
            values["warehouse"] = str(folder)

    try:
        values["workers"] = int(values.get("workers", 0))
    except (TypeError, ValueError):
        raise ConfigError(f"workers must be a whole number, not {values['workers']!r}") from None
    if values["workers"] < 0:
        raise ConfigError(f"workers must be 0 (one per core) or more, not {values['workers']}")
    for key, kind in (
        ("login_max_failures", int),
        ("login_client_max_failures", int),
        ("login_lock_minutes", float),
        ("login_backoff_seconds", float),
        ("session_hours", float),
    ):
        if key in values:
            try:
                values[key] = kind(values[key])
            except (TypeError, ValueError):
                raise ConfigError(f"{key} must be a number, not {values[key]!r}") from None
            if values[key] < 0:
                raise ConfigError(f"{key} must be 0 or more, not {values[key]}")

    def path(key: str) -> Path:
        p = Path(values.pop(key)).expanduser()
        return (p if p.is_absolute() else root / p).resolve()

    return Settings(
        home=root,
        raw_dir=path("raw_dir"),
        warehouse=path("warehouse"),
        reports_dir=path("reports_dir"),
        state_db=path("state_db"),
        users_file=path("users_file"),
        cache_dir=path("cache_dir"),
        extra=extra,
        **values,
    )


def _engine_table(engine: Any, toml_path: Path) -> dict[str, Any]:
    """``engine = "NAME"`` or an ``[engine]`` table (name, master, executor_memory,
    warehouse_path) -> settings fields."""
    if not isinstance(engine, dict):
        return {"engine": engine}
    out = {}
    for key, value in engine.items():
        if key not in ENGINE_KEYS:
            raise ConfigError(
                f"{toml_path}: [engine] {key!r} is not a setting; known: {', '.join(ENGINE_KEYS)}"
            )
        out[ENGINE_KEYS[key]] = value
    return out


def _spark_values(values: dict[str, Any], root: Path) -> dict[str, Any]:
    """The engine name and the Spark settings, checked (one-line ConfigErrors)."""
    out: dict[str, Any] = {"engine": normalize_engine(values.get("engine", "duckdb"))}
    out["spark_master"] = check_master(values.get("spark_master", "local[2]"))
    memory = values.get("spark_executor_memory")
    if memory is not None:
        out["spark_executor_memory"] = check_memory(memory)
    where = values.get("spark_warehouse_path", "data/warehouse/spark")
    if not isinstance(where, str) or not where.strip():
        raise ConfigError(
            f"engine warehouse_path {where!r} must be a folder or a URL (hdfs://, s3a://, ...)"
        )
    where = where.strip()
    if "://" in where and not _URL.fullmatch(where):
        raise ConfigError(f"engine warehouse_path {where!r} is not a URL (scheme://path)")
    if "://" not in where:
        p = Path(where).expanduser()
        where = str((p if p.is_absolute() else root / p).resolve())
    out["spark_warehouse_path"] = where
    return out


def _local_path(where: str) -> Path | None:
    """A local folder as a path (``file://`` URLs too); None for another scheme."""
    if "://" not in where:
        return Path(where)
    scheme, _, rest = where.partition("://")
    if scheme.lower() == "file":
        return Path("/" + rest.lstrip("/"))
    return None


def warehouse_folder(where: str | Path) -> Path:
    """The local folder a Spark build publishes to; ConfigError for a URL it cannot publish to.

    Publishing needs an atomic swap of the ``CURRENT`` pointer, which scrm does
    with a POSIX rename on a local (or mounted) folder. HDFS (an atomic Hadoop
    ``rename``) and object stores (a conditional put, or a table format's
    commit) would each need their own swap, and DuckDB readers their own
    filesystem; until then such a URL is refused before the build starts.

    Examples
    --------
    >>> warehouse_folder("file:///srv/scrm")
    PosixPath('/srv/scrm')
    """
    folder = _local_path(str(where))
    if folder is None:
        scheme = str(where).partition("://")[0]
        raise ConfigError(
            f"engine warehouse_path {where}: publishing to {scheme}:// is not supported yet; "
            "use a local or mounted folder (or file://)"
        )
    return folder.expanduser().resolve()


def config_section(
    name: str, defaults: dict[str, Any], settings: Settings | None = None, **overrides: Any
) -> dict[str, Any]:
    """A capability's ``[name]`` settings: ``defaults``, then ``scrm.toml``, then ``overrides``.

    ``None`` overrides are skipped (an argument left out). A key ``defaults`` does not
    have, or a section that is not a table, is a :class:`ConfigError` naming it; checking
    the values is the capability's.

    Examples
    --------
    >>> config_section("demo", {"days": 7}, days=14)["days"]
    14
    """
    section = (settings or load_settings()).extra.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{name}] in scrm.toml must be a table of settings")
    cfg = dict(defaults)
    for key, value in {**section, **{k: v for k, v in overrides.items() if v is not None}}.items():
        if key not in defaults:
            raise ConfigError(
                f"[{name}] {key!r} is not a setting; known: {', '.join(sorted(defaults))}"
            )
        cfg[key] = value
    return cfg
