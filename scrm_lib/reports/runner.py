"""Run parameterized report notebooks with papermill and keep what they produced.

A report is a notebook ``notebooks/NAME.ipynb`` with a cell tagged
``parameters``. :func:`run_report` checks the given parameters against that
cell *before* anything runs (unknown name or a value that does not fit the
default's type is refused, nothing is created), executes the notebook on the
``python3`` kernel, renders it to self-contained HTML (code hidden unless
asked, plotly charts interactive and working offline) and writes both with a
``manifest.json`` into ``<reports_dir>/NAME/<run-id>/``. The manifest records
the build of the warehouse the report read, so a chart can be traced back to
its data. :func:`run_reports` runs several reports a few kernels at a time
(``scrm report run-all``), and :func:`formatted` is how every report shows a
table (blanks for missing, ✓/—, sensible decimals, ¥ for money).

Example
-------
>>> from scrm_lib.reports.runner import run_report, list_runs
>>> manifest = run_report("data_health", {"max_examples": "3"})  # doctest: +SKIP
>>> manifest["status"], manifest["build_id"]  # doctest: +SKIP
('ok', 'b-20261125T120000')
>>> list_runs().head(1)  # doctest: +SKIP
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from scrm_lib.config import Settings, load_settings
from scrm_lib.errors import ConfigError, WarehouseError
from scrm_lib.files import write_atomically

logger = logging.getLogger(__name__)

KERNEL = "python3"
CELL_TIMEOUT_S = 1800  # per cell; `report_cell_timeout_s` in scrm.toml overrides
MANIFEST = "manifest.json"
SETUP_TAG = "scrm-setup"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}

# Runs first in every report: plotly's renderer for the page, masked tables, and
# nothing imported that the notebook does not use (see scrm_lib.reports.kernel).
_SETUP_SOURCE = """\
# scrm report runner: plotly figures as data (JupyterLab) and as self-contained HTML (report page)
# assigned, so that the cell shows no value on the page
_scrm_masked = __import__("scrm_lib.reports.kernel").reports.kernel.prepare()
"""


# The lab page without anything fetched from elsewhere: nbconvert's head loads
# require.js, MathJax and mermaid from CDNs (and the widget manager when a
# notebook has widgets). Reports need none of them: plotly.js is inlined once by
# the setup cell's renderer, and the page is shown in the dashboard, where a
# third-party script would run next to the session.
_TEMPLATE_NAME = "scrm_report.html.j2"
_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


# plotly's notebook renderer adds MathJax from a CDN to every figure (for LaTeX
# labels, which reports do not use); any script loaded from elsewhere is dropped
_EXTERNAL_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>", re.IGNORECASE
)


@dataclass(frozen=True)
class Parameter:
    """A parameter declared in a notebook's ``parameters`` cell."""

    name: str
    type: str  # int | float | bool | str | date | list | dict | any
    default: Any

    def describe(self) -> str:
        return f"{self.name} ({self.type})"


# --- finding notebooks ---------------------------------------------------------------


def notebooks_path(
    settings: Settings | None = None, notebooks_dir: str | Path | None = None
) -> Path:
    """Where report notebooks live.

    The first that applies: ``notebooks_dir``; ``notebooks_dir`` in
    ``scrm.toml``; ``<home>/notebooks``; the ``notebooks/`` folder that ships
    next to the library (a source checkout).

    Examples
    --------
    >>> notebooks_path().name
    'notebooks'
    """
    if notebooks_dir is not None:
        return Path(notebooks_dir).expanduser().resolve()
    cfg = settings or load_settings()
    configured = cfg.extra.get("notebooks_dir")
    if configured:
        p = Path(configured).expanduser()
        return (p if p.is_absolute() else cfg.home / p).resolve()
    home = cfg.home / "notebooks"
    if home.is_dir():
        return home
    return Path(__file__).resolve().parents[2] / "notebooks"


def available_reports(
    settings: Settings | None = None, notebooks_dir: str | Path | None = None
) -> list[str]:
    """Names of the report notebooks that can be run.

    Examples
    --------
    >>> "data_health" in available_reports()  # doctest: +SKIP
    True
    """
    folder = notebooks_path(settings, notebooks_dir)
    return sorted(p.stem for p in folder.glob("*.ipynb")) if folder.is_dir() else []


def _notebook(name: str, folder: Path) -> Path:
    if not _NAME.match(name):
        raise ConfigError(f"report name {name!r}: use letters, digits, '_', '-' and '.' only")
    path = folder / f"{name}.ipynb"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        hint = f"; available: {', '.join(known)}" if known else ""
        raise ConfigError(f"no report notebook {name!r} in {folder}{hint}")
    return path


# --- parameters ----------------------------------------------------------------------


def notebook_parameters(path: str | Path) -> dict[str, Parameter]:
    """The parameters a notebook declares, with the type of each default.

    The type comes from the annotation (``max_examples: int = 5``) or else
    from the default's value; a ``str`` default written ``"YYYY-MM-DD"`` is a
    ``date``.

    Examples
    --------
    >>> notebook_parameters("notebooks/data_health.ipynb")["max_examples"]  # doctest: +SKIP
    Parameter(name='max_examples', type='int', default=5)
    """
    import papermill

    inferred = papermill.inspect_notebook(str(path))
    out = {}
    for name, info in inferred.items():
        try:
            default = ast.literal_eval(info.get("default") or "None")
        except (ValueError, SyntaxError):
            default = None  # an expression (e.g. a function call): value not known before running
        annotation = (info.get("inferred_type_name") or "None").strip()
        kind = annotation if annotation in ("int", "float", "bool", "str", "list", "dict") else None
        if kind is None:
            kind = {bool: "bool", int: "int", float: "float", str: "str", list: "list"}.get(
                type(default), "dict" if isinstance(default, dict) else "any"
            )
        if kind == "str" and isinstance(default, str) and _ISO_DATE.match(default):
            kind = "date"
        out[name] = Parameter(name, kind, default)
    return out


def coerce_parameters(
    report: str, declared: dict[str, Parameter], given: dict[str, Any]
) -> dict[str, Any]:
    """Check ``given`` against the notebook's parameters and cast values to their types.

    Values from the command line are strings: ``"5"`` becomes ``5`` for an
    int parameter, ``"yes"`` becomes ``True`` for a bool, a date must read as
    ``YYYY-MM-DD``.

    Raises
    ------
    ConfigError
        An unknown parameter or a value that does not fit; the message names
        the parameter and the expected type.

    Examples
    --------
    >>> p = {"max_examples": Parameter("max_examples", "int", 5)}
    >>> coerce_parameters("data_health", p, {"max_examples": "3"})
    {'max_examples': 3}
    """
    out: dict[str, Any] = {}
    for key, value in given.items():
        spec = declared.get(key)
        if spec is None:
            known = ", ".join(p.describe() for p in declared.values()) or "none"
            raise ConfigError(
                f"report {report}: unknown parameter {key!r}; the notebook declares: {known}"
            )
        try:
            out[key] = _coerce(spec.type, value)
        except (ValueError, TypeError):
            raise ConfigError(
                f"report {report}: parameter {key!r} expects {spec.type} "
                f"(default {spec.default!r}), got {value!r}"
            ) from None
    return out


def _coerce(kind: str, value: Any) -> Any:
    if kind == "int":
        if isinstance(value, bool | float):
            raise TypeError(kind)
        return int(value.strip()) if isinstance(value, str) else int(value)
    if kind == "float":
        if isinstance(value, bool):
            raise TypeError(kind)
        return float(value.strip()) if isinstance(value, str) else float(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(kind)
    if kind == "date":
        if isinstance(value, dt.datetime):
            raise TypeError(kind)
        if isinstance(value, dt.date):
            return value.isoformat()
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    if kind == "str":
        if isinstance(value, dt.date):
            return value.isoformat()
        if not isinstance(value, str):
            raise TypeError(kind)
        return value
    if kind in ("list", "dict"):
        parsed = ast.literal_eval(value) if isinstance(value, str) else value
        if not isinstance(parsed, list if kind == "list" else dict):
            raise TypeError(kind)
        return parsed
    # Unknown declared type: pass through, reading Python literals from strings.
    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


# --- kernel --------------------------------------------------------------------------


def ensure_kernel(name: str = KERNEL) -> str:
    """Make sure the Jupyter kernel ``name`` can be started from this environment.

    When no ``python3`` kernelspec is found (a bare virtualenv), one is
    installed into ``sys.prefix`` (what ``python -m ipykernel install
    --sys-prefix`` does), so the kernel runs this interpreter with scrm.

    Examples
    --------
    >>> ensure_kernel()
    'python3'
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
        return name
    except NoSuchKernel:
        if name != KERNEL:
            raise ConfigError(f"no Jupyter kernel named {name!r}") from None
    from ipykernel.kernelspec import install

    logger.warning("no %r Jupyter kernel found; installing one into %s", name, sys.prefix)
    install(kernel_name=name, prefix=sys.prefix)
    return name


# --- running -------------------------------------------------------------------------


def _new_run_id(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in _ANSI.sub("", str(text)).splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _write_json(path: Path, data: dict[str, Any]) -> None:
    # Whole or not at all, so `scrm report list` never reads half a manifest.
    write_atomically(path, json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _read_build(warehouse: Any) -> dict[str, Any] | None:
    if not warehouse:
        return None
    from scrm_lib.warehouse import health

    try:
        return health.last_build(warehouse)
    except WarehouseError as exc:
        logger.warning("report: no build read (%s)", _one_line(str(exc)))
        return None


def _prepare(path: Path) -> Any:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    setup = nbformat.v4.new_code_cell(_SETUP_SOURCE)
    setup.metadata["tags"] = [SETUP_TAG]
    setup.metadata["jupyter"] = {"source_hidden": True}
    nb.cells.insert(0, setup)
    return nb


_EXPORTER_LOCK = threading.Lock()


@functools.cache
def _exporter(show_code: bool) -> Any:
    """The HTML exporter, made once per process: it compiles its Jinja templates when made,
    a third of the CPU of rendering a page."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        template_file=_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
    )
    exporter.exclude_input = not show_code
    exporter.exclude_input_prompt = not show_code
    exporter.exclude_output_prompt = not show_code
    # The runner's own setup cell is machinery: never shown, even with the code.
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_input_tags={SETUP_TAG}, enabled=True), enabled=True
    )
    return exporter


def render_html(notebook: str | Path, html: str | Path, *, show_code: bool = False) -> Path:
    """Render an executed notebook to one self-contained HTML page that loads no script.

    No ``<script src>`` at all: plotly.js is inlined once by the runner's
    setup cell; require.js, MathJax and mermaid (nbconvert's CDN defaults)
    are left out.

    Parameters
    ----------
    notebook
        The executed ``.ipynb``.
    html
        Where to write the page.
    show_code
        Keep code cells' input; by default only outputs and markdown show.

    Examples
    --------
    >>> render_html("run/data_health.ipynb", "run/data_health.html")  # doctest: +SKIP
    PosixPath('run/data_health.html')
    """
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    # an exporter keeps per-page state (its filters) while it renders: one page at a time
    with _EXPORTER_LOCK:
        body, _ = _exporter(show_code).from_notebook_node(nb)
    body = _EXTERNAL_SCRIPT.sub("", body)
    target = Path(html)
    target.write_text(body, encoding="utf-8")
    return target


def run_report(
    name: str,
    parameters: dict[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    notebooks_dir: str | Path | None = None,
    show_code: bool = False,
    scheduled_for: str | None = None,
) -> dict[str, Any]:
    """Execute ``notebooks/NAME.ipynb`` and keep the notebook, its HTML and a manifest.

    Parameters
    ----------
    name
        The report: the notebook's file name without ``.ipynb``.
    parameters
        Values for the notebook's ``parameters`` cell; strings are cast to the
        type of each default. A notebook that declares ``warehouse`` gets the
        configured warehouse when none is given.
    settings
        Paths (``reports_dir``, ``warehouse``); default: :func:`load_settings`.
    notebooks_dir
        Where the notebooks are (see :func:`notebooks_path`).
    show_code
        Keep code cells in the HTML (hidden by default).
    scheduled_for
        The fire time when a schedule started the run (recorded only).

    Returns
    -------
    dict
        The manifest: ``report, run_id, parameters, build_id, library_version,
        started_at, finished_at, duration_s, status`` (``ok`` | ``failed``),
        ``error`` (``"ExceptionName: message"`` or None) and the file names.
        A notebook that fails still returns (status ``failed``) with the
        executed notebook kept for inspection; check ``status``.

    Raises
    ------
    ConfigError
        Unknown report, unknown parameter or a value of the wrong type; raised
        before anything runs or is written.

    Examples
    --------
    >>> m = run_report("data_health", {"max_examples": "3"})  # doctest: +SKIP
    >>> m["status"], m["build_id"]  # doctest: +SKIP
    ('ok', 'b-20261125T120000')
    """
    cfg = settings or load_settings()
    source = _notebook(name, notebooks_path(cfg, notebooks_dir))
    declared = notebook_parameters(source)
    values = coerce_parameters(name, declared, dict(parameters or {}))
    if "warehouse" in declared and not values.get("warehouse"):
        values["warehouse"] = str(cfg.warehouse)
    kernel = ensure_kernel()
    build = _read_build(values.get("warehouse"))

    from scrm_lib import __version__

    started = dt.datetime.now(dt.UTC)
    run_id = _new_run_id(started)
    run_dir = cfg.reports_dir / name / run_id
    run_dir.mkdir(parents=True)
    out_nb, out_html = run_dir / f"{name}.ipynb", run_dir / f"{name}.html"
    manifest: dict[str, Any] = {
        "report": name,
        "run_id": run_id,
        "parameters": values,
        "build_id": build.get("build_id") if build else None,
        "build_finished_at": build.get("finished_at") if build else None,
        "library_version": __version__,
        "notebook_source": str(source),
        "notebook_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "kernel": kernel,
        "scheduled_for": scheduled_for,
        "started_at": started.isoformat(),
        "finished_at": None,
        "duration_s": None,
        "status": "running",
        "error": None,
        "notebook": out_nb.name,
        "html": None,
        "show_code": show_code,
    }
    _write_json(run_dir / MANIFEST, manifest)
    logger.info("report %s: run %s in %s", name, run_id, run_dir)
    t0 = time.perf_counter()
    timeout = int(cfg.extra.get("report_cell_timeout_s", CELL_TIMEOUT_S))
    error = _execute(source, out_nb, values, kernel, timeout)
    if out_nb.exists():
        try:
            render_html(out_nb, out_html, show_code=show_code)
            manifest["html"] = out_html.name
        except Exception as exc:  # a page that cannot render is a failed report, not a crash
            logger.exception("report %s: HTML rendering failed", name)
            error = error or f"HTML rendering: {type(exc).__name__}: {_one_line(str(exc))}"
    manifest.update(
        finished_at=dt.datetime.now(dt.UTC).isoformat(),
        duration_s=round(time.perf_counter() - t0, 3),
        status="failed" if error else "ok",
        error=error,
    )
    _write_json(run_dir / MANIFEST, manifest)
    if error:
        # info, not error: the caller reports it (the CLI prints one line, run-due a table)
        logger.info("report %s failed: %s (notebook kept in %s)", name, error, run_dir)
    return manifest


def run_reports(
    names: list[str] | None = None,
    *,
    jobs: int | None = None,
    settings: Settings | None = None,
    notebooks_dir: str | Path | None = None,
    on_done: Any = None,
) -> list[dict[str, Any]]:
    """Run several reports with their default parameters, ``jobs`` at a time.

    Each report is its own kernel; while one kernel starts and imports, another
    can compute, so two at a time on two cores take about half as long as one
    after the other (``make demo``: ``scrm report run-all``).

    Parameters
    ----------
    names
        Reports to run (default: every notebook, see :func:`available_reports`).
    jobs
        Reports at the same time (default: the number of cores, at most 4).
    on_done
        Called with each manifest as its report finishes.

    Returns
    -------
    list of dict
        The manifests, in the order of ``names``.

    Examples
    --------
    >>> [m["status"] for m in run_reports(["data_health", "clv"])]  # doctest: +SKIP
    ['ok', 'ok']
    """
    from concurrent.futures import ThreadPoolExecutor

    cfg = settings or load_settings()
    chosen = list(names) if names else available_reports(cfg, notebooks_dir)
    folder = notebooks_path(cfg, notebooks_dir)
    for name in chosen:
        _notebook(name, folder)  # unknown names refused before anything runs
    ensure_kernel()
    workers = max(1, min(jobs or min(os.cpu_count() or 1, 4), len(chosen) or 1))

    def one(name: str) -> dict[str, Any]:
        manifest = run_report(name, settings=cfg, notebooks_dir=folder)
        if on_done is not None:
            on_done(manifest)
        return manifest

    # threads are enough: each report's work happens in its own kernel process
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, chosen))


ENGINE = "scrm-report"


@functools.cache
def _engine() -> str:
    """papermill's nbclient engine, writing the executed notebook when the run ends.

    papermill writes the whole notebook before and after every cell; a report
    page's notebook holds plotly.js (4.6 MB), so those writes were about a CPU-second
    per report. papermill itself writes the notebook once it has run (the
    error marked, when a cell raised); a run stopped by a timeout or a dead
    kernel still writes what had run, for inspection.
    """
    from papermill.engines import NBClientEngine, papermill_engines

    class ReportEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            nb_man.save = lambda **_: None  # the instance's no-op hides the method
            try:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            except BaseException:
                del nb_man.save  # stopped midway: notebook_complete() writes what ran
                raise

    papermill_engines.register(ENGINE, ReportEngine)
    return ENGINE


def _execute(
    source: Path, out_nb: Path, values: dict[str, Any], kernel: str, timeout: int
) -> str | None:
    """Run the notebook; return the error as one line, or None."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    for attempt in (1, 2):
        try:
            papermill.execute_notebook(
                _prepare(source),
                str(out_nb),
                parameters=values,
                engine_name=_engine(),
                kernel_name=kernel,
                progress_bar=False,
                log_output=False,
                cwd=str(source.parent),
                # a hung cell must not hang the scheduler for ever
                execution_timeout=timeout,
                # the kernel's start-up chatter (TCP transport warning) would land in cron mail
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        except PapermillExecutionError as exc:
            return f"{exc.ename}: {_one_line(exc.evalue)}".rstrip(": ")
        except Exception as exc:  # kernel died, timeout, ...: the report failed, the runner not
            # kernels started side by side (run-all --jobs) may pick the same free port, and
            # the loser dies before it answers: nothing ran yet, so starting it again is safe
            if attempt == 1 and "before replying to kernel_info" in str(exc):
                logger.warning("report: the kernel for %s did not start; again", source.name)
                continue
            logger.exception("report: execution of %s stopped", source.name)
            return f"{type(exc).__name__}: {_one_line(str(exc))}".rstrip(": ")
        return None
    return None


# --- listing -------------------------------------------------------------------------

RUN_COLUMNS = [
    "report",
    "run_id",
    "status",
    "started_at",
    "duration_s",
    "build_id",
    "error",
    "path",
]


def list_runs(settings: Settings | None = None, *, report: str | None = None) -> pd.DataFrame:
    """Report runs found under ``reports_dir``, newest first.

    Parameters
    ----------
    settings
        Where ``reports_dir`` is; default: :func:`load_settings`.
    report
        Only this report's runs.

    Returns
    -------
    pandas.DataFrame
        ``report, run_id, status, started_at, duration_s, build_id, error, path``.

    Examples
    --------
    >>> list_runs().head(3)  # doctest: +SKIP
            report                        run_id status  ...
    0  data_health  20261125T120001123Z-a1b2c3     ok  ...
    """
    cfg = settings or load_settings()
    pattern = f"{report}/*/{MANIFEST}" if report else f"*/*/{MANIFEST}"
    rows = []
    for path in cfg.reports_dir.glob(pattern):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("skipping unreadable manifest %s (%s)", path, exc)
            continue
        row = {c: data.get(c) for c in RUN_COLUMNS}
        row["path"] = str(path.parent)
        rows.append(row)
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    if df.empty:
        return df
    df["started_at"] = pd.to_datetime(df["started_at"], utc=True, format="ISO8601")
    return df.sort_values(["started_at", "run_id"], ascending=False).reset_index(drop=True)


# --- tables in report notebooks ------------------------------------------------------

#: Column names that hold CNY amounts (whole word between underscores).
MONEY_WORDS = ("gmv", "clv", "ltv", "monetary", "value_at_risk", "amount", "revenue", "spend",
               "net", "gross", "aov", "refund", "cny")  # fmt: skip
#: Column names that hold a share of 1 (shown as a percentage).
PERCENT_WORDS = ("share", "rate", "pct", "percent", "capture", "churn_rate")
YES, NO = "✓", "—"


def _has_word(name: str, words: tuple[str, ...]) -> bool:
    text = f"_{str(name).lower()}_"
    return any(f"_{w}_" in text or text.endswith(f"_{w}_") for w in words)


def _boolish(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s):
        return True
    if s.dtype != object:
        return False
    values = s.dropna()
    return len(values) > 0 and all(isinstance(v, bool) for v in values)


def _number(decimals: int, *, prefix: str = "", suffix: str = "", scale: float = 1.0):
    def fmt(v: Any) -> str:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            return ""
        try:
            x = float(v) * scale
        except (TypeError, ValueError):
            return str(v)
        if x != x:
            return ""
        return f"{'-' if x < 0 else ''}{prefix}{abs(x):,.{decimals}f}{suffix}"

    return fmt


def _flat(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in d.items())


def _auto_number(v: Any) -> str:
    """A number as a reader wants it: whole numbers without decimals, 1,234 without cents,
    two decimals from 1 up, three significant digits below 1 (p-values, rates)."""
    if _blank_missing(v) == "":
        return ""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if x != x:
        return ""
    ax = abs(x)
    if ax == float("inf"):
        return "∞" if x > 0 else "-∞"
    if x == round(x) or ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 1:
        return f"{x:,.2f}"
    return f"{x:.3g}" if ax >= 1e-4 else f"{x:.2e}"


def _by_unit(v: Any, unit: Any) -> str:
    if _blank_missing(v) == "":
        return ""
    unit = str(unit or "").strip()
    if unit == "%":
        return _number(1, suffix="%", scale=100.0)(v)
    if unit.upper() in ("CNY", "RMB", "¥", "元"):
        return _number(0 if abs(float(v)) >= 1000 else 2, prefix="¥")(v)
    return _auto_number(v) + (f" {unit}" if unit else "")


def _blank_missing(v: Any) -> Any:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v


def _decimals(s: pd.Series) -> int:
    """Sensible decimals for a float column: none for whole numbers, more for small ones."""
    x = pd.to_numeric(s, errors="coerce").dropna().abs()
    x = x[x != float("inf")]
    if x.empty or (x == x.round()).all():
        return 0
    big = x.max()
    return 0 if big >= 1000 else 2 if big >= 1 else 3


def formatted(
    df: pd.DataFrame | pd.Series,
    *,
    money: list[str] | tuple[str, ...] | None = None,
    percent: list[str] | tuple[str, ...] | None = None,
    decimals: dict[str, int] | None = None,
    units: dict[str, str] | None = None,
    timezone: str | None = None,
    index: bool | None = None,
) -> Any:
    """A table for a report: blanks for missing, ✓/— for yes/no, sensible decimals, ¥ for money.

    Every report notebook shows its tables through this, so the HTML reads the
    same everywhere: no ``NaN``, ``None`` or ``True``, no six-decimal floats.

    Parameters
    ----------
    df
        The table (a Series is shown as one column).
    money
        Columns in CNY, shown ``¥1,234``; default: columns whose name has a
        money word (``gmv``, ``clv``, ``monetary``, ``value_at_risk``, ...).
    percent
        Columns holding shares of 1, shown ``12.3%``; default: names with
        ``share`` or ``rate``.
    decimals
        Decimals per column, overriding the guess (per value: whole numbers
        and from 1,000 up none, from 1 up two, below 1 three significant digits).
    timezone
        Times are shown in this zone (default: the configured ``timezone``).
    units
        Columns whose unit is given per row by another column, e.g.
        ``{"value": "unit"}``: ``%`` is a percentage, ``CNY`` money.
    index
        Show the index; default: only when it is not a plain 0..n-1 range.

    Anything else than a table (a dict becomes a one-row table) is returned
    as it is, so a notebook can pass whatever a library call gave it.

    Returns
    -------
    pandas.io.formats.style.Styler
        Displays as an HTML table in JupyterLab and in the report page.

    Examples
    --------
    >>> t = formatted(pd.DataFrame({"gmv": [1234.5, None], "gmv_share": [0.25, 0.75],
    ...                             "used": [True, None], "x": [0.123456, 2.0]}))
    >>> t.data.shape
    (2, 4)
    >>> "¥1,234" in t.to_html() and "25.0%" in t.to_html() and "nan" not in t.to_html()
    True
    """
    if isinstance(df, dict):
        df = pd.DataFrame([{k: v if not isinstance(v, dict) else _flat(v) for k, v in df.items()}])
    if not isinstance(df, pd.DataFrame | pd.Series):
        return df
    frame = df.to_frame() if isinstance(df, pd.Series) else df
    frame = frame.copy()
    # numbers stay numbers in the data (masking and sorting see them as such); only
    # their display follows the row's unit
    units = {c: u for c, u in (units or {}).items() if c in frame and u in frame}
    if units and not frame.index.is_unique:
        frame = frame.reset_index(drop=True)
    money_cols = (
        set(money) if money is not None else {c for c in frame.columns if _has_word(c, MONEY_WORDS)}
    )
    percent_cols = (
        set(percent)
        if percent is not None
        else {c for c in frame.columns if _has_word(c, PERCENT_WORDS)}
    )
    decimals = decimals or {}
    zone = timezone or load_settings().timezone
    fmt: dict[Any, Any] = {}
    for col in frame.columns:
        s = frame[col]
        if _boolish(s):
            frame[col] = s.astype(object)
            fmt[col] = lambda v: "" if _blank_missing(v) == "" else (YES if v else NO)
        elif pd.api.types.is_datetime64_any_dtype(s):
            if getattr(s.dt, "tz", None) is not None:
                frame[col] = s.dt.tz_convert(zone).dt.tz_localize(None)
            has_time = (frame[col].dropna().dt.normalize() != frame[col].dropna()).any()
            pattern = "%Y-%m-%d %H:%M" if has_time else "%Y-%m-%d"
            fmt[col] = lambda v, p=pattern: "" if pd.isna(v) else v.strftime(p)
        elif pd.api.types.is_numeric_dtype(s):
            if col in percent_cols:
                fmt[col] = _number(decimals.get(col, 1), suffix="%", scale=100.0)
            elif col in money_cols:
                fmt[col] = _number(decimals.get(col, _decimals(s) and 2), prefix="¥")
            elif col in decimals:
                fmt[col] = _number(decimals[col])
            else:
                fmt[col] = _auto_number
        else:
            fmt[col] = _blank_missing
    plain_index = isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0
    styler = frame.style.format(fmt, na_rep="")
    for col, unit_col in units.items():
        for unit, rows in frame.groupby(frame[unit_col].astype(str), sort=False).groups.items():
            styler = styler.format(
                lambda v, u=unit: _by_unit(v, u), subset=pd.IndexSlice[list(rows), [col]]
            )
    styler = styler.format_index(lambda v: "" if pd.isna(v) else v, na_rep="")
    if index is False or (index is None and plain_index):
        styler = styler.hide(axis="index")
    return styler.set_table_attributes('class="dataframe"')
