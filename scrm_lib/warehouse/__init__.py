"""The build: staging the exports, the canonical transform, the build steps,
publishing, the build log and data health."""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "build_warehouse": ".build:build",
        "warehouse_status": ".build:status",
        "open_warehouse": "scrm_lib.engine.connect:open_warehouse",
        "list_raw_files": ".build:list_raw_files",
    },
)
