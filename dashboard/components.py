"""Shared UI pieces: cached, read-only warehouse access. UI only; numbers come from scrm_lib."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from scrm_lib import load_settings, warehouse_status
from scrm_lib.errors import ScrmError


def warehouse_path() -> Path:
    return load_settings().warehouse


def _published_version(path: Path) -> float:
    """The published file's mtime: a new build (atomic rename) invalidates the caches."""
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return 0.0


@st.cache_data(show_spinner=False)
def _status(path: str, version: float) -> dict:
    return warehouse_status(path)


def status() -> dict | None:
    """The warehouse status, or None with a message shown when there is no warehouse yet."""
    path = warehouse_path()
    try:
        return _status(str(path), _published_version(path))
    except ScrmError as exc:
        st.warning(str(exc))
        return None
