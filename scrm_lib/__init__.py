"""scrm: one view of each customer across social e-commerce platforms.

The public API is each capability's ``__all__`` (declared once in its
package's ``__init__``), re-exported here; everything else is machinery.
Names resolve on first use so that ``import scrm_lib`` stays fast.

Example
-------
>>> import scrm_lib
>>> s = scrm_lib.load_settings()
>>> s.engine
'duckdb'
>>> scrm_lib.rfm.__module__
'scrm_lib.value.rfm'
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from scrm_lib import _api
from scrm_lib.config import Settings, load_settings
from scrm_lib.errors import ConfigError, InputFileError, ScrmError, WarehouseError

try:
    __version__ = version("scrm")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

#: The capability packages whose ``__all__`` the facade re-exports, in the order
#: data flows through them. One line per capability.
CAPABILITIES = (
    "ingest",
    "warehouse",
    "identity",
    "value",
    "churn",
    "experiments",
    "segments",
    "tags",
    "social.channels",
    "social.conversations",
    "social.referrals",
    "social.automation",
    "reports",
    "access",
    "labels",
    "sample",
)

_OWNER: dict[str, str] = {}
for _capability in CAPABILITIES:
    for _name in import_module(f"scrm_lib.{_capability}").__all__:
        if _name in _OWNER:  # a test keeps this from happening; say which two clash
            raise ImportError(f"{_name!r} is public in both {_OWNER[_name]} and {_capability}")
        _OWNER[_name] = f"scrm_lib.{_capability}"

__all__ = [
    "CAPABILITIES",
    "ConfigError",
    "InputFileError",
    "ScrmError",
    "Settings",
    "WarehouseError",
    "__version__",
    "load_settings",
    *_OWNER,
]


def __getattr__(name: str) -> Any:
    if name in _OWNER:
        package = _OWNER[name]
        value = _api.resolve(package, name) if package in _api._TARGETS else None
        if value is None:  # a package that defines its names eagerly
            value = getattr(import_module(package), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scrm_lib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
