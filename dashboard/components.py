"""Shared building blocks for pages: cached read-only warehouse access,
masked tables, KPI tiles and audited downloads. UI only; every number comes from scrm_lib."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Literal

import pandas as pd
import streamlit as st

from dashboard.auth import current_user
from scrm_lib import load_settings
from scrm_lib.access.privacy import export_bytes, mask_frame
from scrm_lib.access.state import record_audit
from scrm_lib.engine import published_version
from scrm_lib.errors import ScrmError
from scrm_lib.labels import fmt_time, labelled, message, timezone
from scrm_lib.warehouse.build import status as warehouse_status


def settings():
    return load_settings()


# ---------------------------------------------------------------- warehouse


def warehouse_path() -> Path:
    return settings().warehouse


@st.cache_data(show_spinner=False, max_entries=64)
def _cached(func_path: str, path: str, version: str, kwargs: tuple) -> object:
    module, name = func_path.split(":")
    func = getattr(import_module(module), name)
    params = list(inspect.signature(func).parameters)
    if params and params[0] != "warehouse" and "warehouse" in params:
        # the warehouse after the subject (``referral_chain(person_id, depth, warehouse)``)
        return func(warehouse=path, **dict(kwargs))
    return func(path, **dict(kwargs))


def query(func: Callable, **kwargs) -> object:
    """Call a scrm_lib function as ``func(warehouse, **kwargs)``, cached per published build.

    A function whose ``warehouse`` parameter comes after others (a person id first) gets
    it by keyword: ``query(referral_chain, person_id="P…", depth=2)``.

    The cache key holds the published build (a file's mtime, a folder's ``CURRENT``),
    so the first interaction after a new build reads the new build; sessions never hold
    a connection.
    """
    path = warehouse_path()
    key = f"{func.__module__}:{func.__name__}"
    return _cached(key, str(path), published_version(path), tuple(sorted(kwargs.items())))


def status() -> dict | None:
    """The warehouse status, or None with a message shown when there is no warehouse yet."""
    try:
        return query(warehouse_status)
    except ScrmError as exc:
        st.warning(str(exc))
        return None


def build_badge() -> None:
    """Show which build the page reads, so a new build published mid-session is visible."""
    try:
        data = query(warehouse_status)
    except ScrmError:
        st.sidebar.caption(message("no_warehouse"))
        return
    last = data.get("last_build") or {}
    st.sidebar.caption(message("build_badge", build_id=f"`{last.get('build_id', '-')}`"))
    st.sidebar.caption(
        message("built_at", time=fmt_time(last.get("finished_at"), seconds=True))
        + " · "
        + message("timezone", tz=timezone())
    )


# ---------------------------------------------------------------- tables and tiles

_MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def show_table(
    df: pd.DataFrame, *, key: str, table: str | None = None, what: str | None = None, **kwargs
) -> pd.DataFrame:
    """A table with personal data masked unless an admin chooses to unmask (audited).

    ``table`` names the warehouse table or mart ``df`` holds rows of, for its declared
    personal columns (``scrm_lib.schema.PERSONAL_COLUMNS``); computed frames go by
    column names. ``what`` says in the audit whose data was unmasked (default ``key``).
    """
    user = current_user()
    shown = mask_frame(df, table=table)
    if user.can("unmask") and st.toggle("显示明文 / Unmask", key=f"unmask_{key}"):
        shown = df
        if not st.session_state.get(f"_unmask_logged_{key}"):
            record_audit(user.username, "unmask", what or key, rows=len(df), role=user.role)
            st.session_state[f"_unmask_logged_{key}"] = True
    st.dataframe(labelled(shown), hide_index=True, **kwargs)  # labels after masking
    return shown


def query_or_empty(func: Callable, **kwargs) -> pd.DataFrame:
    """:func:`query`, or an empty frame after a one-line warning when the warehouse can't say."""
    try:
        return query(func, **kwargs)
    except ScrmError as exc:
        st.warning(str(exc))
        return pd.DataFrame()


def with_interval(values: pd.Series, lo: pd.Series, hi: pd.Series, fmt) -> list[str]:
    """``12.3% (9.8–15.1%)``: the estimate and its 95% interval; empty when there is none."""
    out = []
    for v, a, b in zip(values, lo, hi, strict=True):
        if pd.isna(v):
            out.append("")
        elif pd.isna(a) or pd.isna(b):
            out.append(fmt(v))
        else:
            out.append(f"{fmt(v)} ({fmt(a)}–{fmt(b)})")
    return out


def kpi_tiles(values: dict[str, object], columns: int = 4) -> None:
    """A row of metric tiles: label → value (numbers formatted with thousands separators)."""
    cols = st.columns(columns)
    for i, (label, value) in enumerate(values.items()):
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        cols[i % columns].metric(label, shown)


def audited_download(
    label: str,
    df: pd.DataFrame,
    *,
    filename: str,
    what: str,
    fmt: Literal["csv", "xlsx"] = "csv",
    unmask: bool = False,
    table: str | None = None,
) -> None:
    """A CSV or XLSX download for roles that may export: masked (``unmask`` is for admins
    only, and audited as such), formula-escaped, and audited on click."""
    user = current_user()
    if not user.can("export"):
        st.caption("导出需要营销或管理员角色 / Export needs the marketer or admin role")
        return
    unmask = bool(unmask) and user.can("unmask")
    build_id = ((status() or {}).get("last_build") or {}).get("build_id")

    def generate() -> bytes:
        # runs on the click, in this logged-in session: no file exists before it,
        # and every file handed out is audited
        record_audit(
            user.username, "export", what, rows=len(df), role=user.role, build_id=build_id,
            detail={"format": fmt, "unmasked": unmask},
        )  # fmt: skip
        return export_bytes(df, fmt=fmt, unmask=unmask, table=table)

    st.download_button(
        label,
        data=generate,
        file_name=filename,
        mime=_MIME[fmt],
        key=f"download_{what}" if fmt == "csv" else f"download_{fmt}_{what}",
        on_click="ignore",
    )


def require_identity_tables() -> None:
    """Stop the page with a message when the warehouse has no identity tables yet."""
    from scrm_lib.identity import views

    try:
        missing = query(views.missing_tables)
    except ScrmError as exc:
        st.warning(str(exc))
        st.stop()
    if missing:
        st.warning(
            f"没有身份表 / No identity tables ({', '.join(missing)}): rebuild with `scrm build`."
        )
        st.stop()
