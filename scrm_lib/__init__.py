"""scrm: one view of each customer across social e-commerce platforms.

The public API; everything else is machinery. Heavy parts import lazily so
that ``import scrm_lib`` stays fast.

Example
-------
>>> import scrm_lib
>>> s = scrm_lib.load_settings()
>>> s.engine
'duckdb'
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from scrm_lib.config import Settings, load_settings
from scrm_lib.errors import ConfigError, InputFileError, ScrmError, WarehouseError

try:
    __version__ = version("scrm")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

# public name → module that defines it (imported on first use)
_LAZY = {
    "generate_sample": ("scrm_lib.sample", "generate"),
    "parse_file": ("scrm_lib.ingest", "parse_file"),
    "detect_format": ("scrm_lib.ingest", "detect_format"),
    "list_presets": ("scrm_lib.ingest", "list_presets"),
    "suggest_preset": ("scrm_lib.ingest", "suggest_preset"),
    "add_files": ("scrm_lib.ingest.raw_area", "add_files"),
    "build_warehouse": ("scrm_lib.warehouse.build", "build"),
    "warehouse_status": ("scrm_lib.warehouse.build", "status"),
    "open_warehouse": ("scrm_lib.engine", "open_warehouse"),
    "rfm": ("scrm_lib.value.rfm", "rfm"),
    "rfm_segments": ("scrm_lib.value.rfm", "segment_summary"),
    "clv": ("scrm_lib.value.clv", "clv"),
    "kpis": ("scrm_lib.value.kpis", "kpis"),
    "lifecycle_stages": ("scrm_lib.value.lifecycle", "stages"),
    "value_layers": ("scrm_lib.value.layers", "layers"),
    "segment_preview": ("scrm_lib.segments.definitions", "preview"),
    "save_segment": ("scrm_lib.segments.definitions", "save_segment"),
    "export_segment": ("scrm_lib.segments.definitions", "export_segment"),
    "timeline": ("scrm_lib.identity.person360", "timeline"),
    "explain_identity": ("scrm_lib.identity.ledger", "explain"),
    "evaluate_identity": ("scrm_lib.identity.evaluate", "evaluate"),
    "link_records": ("scrm_lib.identity.records", "link_records"),
    "dedupe_records": ("scrm_lib.identity.records", "dedupe_records"),
    "analyze_experiment": ("scrm_lib.experiments", "analyze_experiment"),
    "churn_backtest": ("scrm_lib.churn.backtest", "backtest"),
    "churn_train": ("scrm_lib.churn.backtest", "train"),
    "churn_score": ("scrm_lib.churn.scoring", "score"),
    "churn_scores": ("scrm_lib.churn.scoring", "churn_scores"),
    "churn_features": ("scrm_lib.churn.features", "feature_frame"),
    "label": ("scrm_lib.labels", "label"),
    "labelled": ("scrm_lib.labels", "labelled"),
}

__all__ = [
    "ConfigError",
    "InputFileError",
    "ScrmError",
    "Settings",
    "WarehouseError",
    "__version__",
    "load_settings",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scrm_lib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
