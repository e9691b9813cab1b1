"""Every committed report notebook: stored clean, parameterized, and runnable through run_report."""

from __future__ import annotations

import json
import re
import shutil
from html import escape
from pathlib import Path

import duckdb
import ibis
import nbformat
import pytest

from scrm_lib.config import load_settings
from scrm_lib.reports.runner import notebook_parameters, run_reports
from scrm_lib.schema import REJECTS, TABLES
from tests.test_reports import assert_no_external_script

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]

ROWS = """
CREATE TABLE builds (build_id VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    library_version VARCHAR, status VARCHAR, timings VARCHAR, engine VARCHAR);
INSERT INTO builds VALUES ('b-test', '2026-11-01 00:00:00+00', '2026-11-01 00:02:00+00', '0.1.0',
    'ok', '{}', 'duckdb');
CREATE TABLE build_inputs (build_id VARCHAR, file VARCHAR, format VARCHAR, platform VARCHAR,
    sha256 VARCHAR, rows_in BIGINT, accepted BIGINT, rejected BIGINT, duplicates BIGINT);
INSERT INTO build_inputs VALUES
    ('b-test', 'tmall.csv', 'tmall_orders', 'tmall', 'a', 4, 3, 1, 0),
    ('b-test', 'events.jsonl', 'wechat_events', 'wechat', 'b', 2, 2, 0, 1);
INSERT INTO rejects VALUES ('tmall.csv', 4, 'paid_at', 'bad timestamp', '昨天');
INSERT INTO accounts (account_id, platform, first_seen) VALUES
    ('tmall:1', 'tmall', '2026-01-01 00:00:00+00'),
    ('wechat:a', 'wechat', '2026-02-01 00:00:00+00');
INSERT INTO orders (platform, order_id, line_id, account_id, created_at, paid_at, amount, status)
VALUES
 ('tmall', 'o1', '', 'tmall:1', '2026-01-31 17:00:00+00', '2026-01-31 17:01:00+00', 99.5, 'paid'),
 ('tmall', 'o2', '', 'tmall:1', '2026-03-02 10:00:00+00', NULL, 10, 'cancelled'),
 ('tmall', 'o3', '', 'tmall:1', '2026-03-05 10:00:00+00', '2026-03-05 10:00:00+00', 20, 'paid');
INSERT INTO events (event_id, account_id, ts, type) VALUES
    ('e1', 'wechat:a', '2026-02-10 08:00:00+00', 'page_view'),
    ('e2', 'wechat:a', '2026-10-30 08:00:00+00', 'cart_add');
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A warehouse with every canonical table (empty or a few rows) and the build log."""
    home = tmp_path_factory.mktemp("nb_project")
    path = home / "scrm.duckdb"
    con = ibis.duckdb.connect(str(path))
    for name, schema in {**TABLES, "rejects": REJECTS}.items():
        con.create_table(name, schema=schema)
    con.disconnect()
    raw = duckdb.connect(str(path))
    raw.execute(ROWS)
    raw.close()
    return load_settings(home).with_overrides(warehouse=path, reports_dir=home / "reports")


def test_there_are_notebooks():
    assert "data_health" in IDS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs_and_with_parameters(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a cell has an execution count"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


def test_data_health_parameters():
    params = notebook_parameters(Path(NOTEBOOKS[IDS.index("data_health")]))
    assert {k: (p.type, p.default) for k, p in params.items()} == {
        "warehouse": ("str", ""),
        "max_examples": ("int", 5),
    }


@pytest.fixture(scope="module")
def runs(project):
    """Every notebook run once, two at a time, as `scrm report run-all` does."""
    manifests = run_reports(IDS, jobs=2, settings=project, notebooks_dir=NOTEBOOKS[0].parent)
    return {m["report"]: m for m in manifests}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_through_run_report(path, project, runs):
    manifest = runs[path.stem]
    assert manifest["status"] == "ok", manifest["error"]
    assert manifest["build_id"] == "b-test"
    folder = project.reports_dir / path.stem / manifest["run_id"]
    assert json.loads((folder / "manifest.json").read_text())["status"] == "ok"
    assert (folder / f"{path.stem}.ipynb").exists()
    html = (folder / f"{path.stem}.html").read_text(encoding="utf-8")
    code = nbformat.read(str(path), as_version=4).cells
    for line in (c.source.splitlines()[0] for c in code if c.cell_type == "code" and c.source):
        if len(line) > 15:
            assert escape(line, quote=False) not in html, f"code shown in the HTML: {line}"
    assert_no_external_script(html)
    tables = "".join(re.findall(r"<table.*?</table>", html, re.S))
    for raw in ("NaN", "None", "True", "False", "NaT"):
        assert f">{raw}<" not in tables, f"{raw} in a table"
    if path.stem == "data_health":
        for title in (
            "各平台覆盖 / Coverage per platform",
            "拒收原因 / Rejects by reason",
            "数据新鲜度",
        ):
            assert title in html
        assert "plotly-graph-div" in html and "window.Plotly = Plotly" in html  # offline charts
        assert "昨天" in html  # a reject example


def test_a_notebook_started_in_notebooks_finds_the_warehouse(project, tmp_path, monkeypatch):
    """As in JupyterLab: the kernel starts in notebooks/, no SCRM_HOME, no warehouse parameter."""
    import papermill

    home = tmp_path / "brand"
    (home / "notebooks").mkdir(parents=True)
    (home / "scrm.toml").write_text('timezone = "Asia/Shanghai"\n', encoding="utf-8")
    wh = home / "data" / "warehouse" / "scrm.duckdb"
    wh.parent.mkdir(parents=True)
    shutil.copy(project.warehouse, wh)
    shutil.copy(NOTEBOOKS[IDS.index("data_health")], home / "notebooks")
    for name in ("SCRM_HOME", "SCRM_WAREHOUSE", "SCRM_STATE_DB", "SCRM_REPORTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # the kernel's folder is cwd below, not the test's
    out = tmp_path / "ran.ipynb"
    papermill.execute_notebook(
        str(home / "notebooks" / "data_health.ipynb"),
        str(out),
        cwd=str(home / "notebooks"),
        kernel_name="python3",
        progress_bar=False,
    )
    text = out.read_text(encoding="utf-8")
    assert "b-test" in text and "昨天" in text
