"""The report runner: parameters checked before anything runs, runs kept with their manifest."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import nbformat
import pandas as pd
import pytest
from typer.testing import CliRunner

from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError
from scrm_lib.reports.cli import parse_pairs, report_app
from scrm_lib.reports.runner import (
    SETUP_TAG,
    Parameter,
    coerce_parameters,
    ensure_kernel,
    formatted,
    list_runs,
    notebook_parameters,
    render_html,
    run_report,
)

PARAMS = """\
n: int = 2
ratio = 0.5
flag = False
day = "2026-01-05"
label: str = "x"
warehouse: str = ""
"""
# A marker that exists only in the code, never in an output: it shows whether code is in the HTML.
BODY = """\
import duckdb
CODE_ONLY_MARKER = 1
con = duckdb.connect(warehouse, read_only=True)
print("rows", con.execute("select count(*) from builds").fetchone()[0], "n", n * 2, label, day)
"""


def write_notebook(folder: Path, name: str, params: str | None, body: str, *more: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = [nbformat.v4.new_markdown_cell(f"# {name}")]
    if params is not None:
        cell = nbformat.v4.new_code_cell(params)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells.extend(nbformat.v4.new_code_cell(source) for source in (body, *more))
    nb.cells = cells
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project home with a two-build warehouse and two test notebooks (shared by the module)."""
    home = tmp_path_factory.mktemp("project")
    wh = home / "data" / "warehouse" / "scrm.duckdb"
    wh.parent.mkdir(parents=True)
    con = duckdb.connect(str(wh))
    con.execute(
        "CREATE TABLE builds (build_id VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, "
        "library_version VARCHAR, status VARCHAR, timings VARCHAR, engine VARCHAR)"
    )
    con.execute(
        "INSERT INTO builds VALUES "
        "('b-old', '2026-10-01 00:00:00+00', '2026-10-01 00:01:00+00', '0.1.0', 'ok', '{}', "
        "'duckdb'), ('b-new', '2026-11-01 00:00:00+00', '2026-11-01 00:01:00+00', '0.1.0', 'ok', "
        "'{}', 'duckdb')"
    )
    con.close()
    write_notebook(home / "notebooks", "good", PARAMS, BODY)
    write_notebook(
        home / "notebooks", "bad", "n: int = 1", 'x = 1\nraise ValueError(f"boom {n}")\n'
    )
    # explicit paths: SCRM_* variables of the machine running the tests must not leak in
    return load_settings(home).with_overrides(warehouse=wh, reports_dir=home / "data" / "reports")


@pytest.fixture
def cli(project, monkeypatch):
    """The project as the `scrm report` command sees it (through the environment)."""
    monkeypatch.setenv("SCRM_HOME", str(project.home))
    monkeypatch.setenv("SCRM_WAREHOUSE", str(project.warehouse))
    monkeypatch.setenv("SCRM_REPORTS_DIR", str(project.reports_dir))
    return project


@pytest.fixture
def fresh(project, tmp_path):
    """The project with an empty reports folder, to see that nothing gets created."""
    return project.with_overrides(reports_dir=tmp_path / "reports")


def run_dirs(settings, name):
    return sorted((settings.reports_dir / name).glob("*")) if settings.reports_dir.exists() else []


# --- before anything runs ------------------------------------------------------------


def test_parameters_inferred_from_annotation_or_default(project):
    got = notebook_parameters(project.home / "notebooks" / "good.ipynb")
    assert {k: p.type for k, p in got.items()} == {
        "n": "int",
        "ratio": "float",
        "flag": "bool",
        "day": "date",
        "label": "str",
        "warehouse": "str",
    }
    assert got["n"].default == 2


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        ("int", "7", 7),
        ("int", 7, 7),
        ("float", "2.5", 2.5),
        ("float", 3, 3.0),
        ("bool", "yes", True),
        ("bool", "FALSE", False),
        ("date", "2026-11-23", "2026-11-23"),
        ("str", "hello=world", "hello=world"),
    ],
)
def test_coercion(kind, given, expected):
    declared = {"p": Parameter("p", kind, None)}
    assert coerce_parameters("r", declared, {"p": given}) == {"p": expected}


@pytest.mark.parametrize(
    ("kind", "given"),
    [
        ("int", "abc"),
        ("int", "1.5"),
        ("int", True),
        ("float", "x"),
        ("bool", "maybe"),
        ("date", "2026-13-01"),
        ("date", "last week"),
        ("str", 5),
    ],
)
def test_coercion_refuses(kind, given):
    with pytest.raises(ConfigError, match=rf"parameter 'p' expects {kind}"):
        coerce_parameters("r", {"p": Parameter("p", kind, None)}, {"p": given})


def test_unknown_parameter_refused_and_nothing_created(fresh):
    with pytest.raises(ConfigError) as info:
        run_report("good", {"nn": "3"}, settings=fresh)
    message = str(info.value)
    assert "unknown parameter 'nn'" in message and "n (int)" in message
    assert "\n" not in message
    assert not fresh.reports_dir.exists()


def test_wrong_type_refused_and_nothing_created(fresh):
    with pytest.raises(ConfigError, match=r"parameter 'n' expects int .*got 'three'"):
        run_report("good", {"n": "three"}, settings=fresh)
    assert not fresh.reports_dir.exists()


def test_unknown_report_names_the_available_ones(project):
    with pytest.raises(ConfigError, match=r"no report notebook 'nope'.*available: bad, good"):
        run_report("nope", settings=project)
    with pytest.raises(ConfigError, match="report name"):
        run_report("../good", settings=project)


def test_cli_refuses_bad_parameter_before_running(cli, fresh, monkeypatch):
    monkeypatch.setenv("SCRM_REPORTS_DIR", str(fresh.reports_dir))
    result = CliRunner().invoke(report_app, ["run", "good", "-p", "n=three"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert not fresh.reports_dir.exists()
    with pytest.raises(ConfigError, match="key=value"):
        parse_pairs(["novalue"])


def test_python3_kernel_is_available():
    assert ensure_kernel() == "python3"


# --- runs ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_run(project):
    return project, run_report("good", {"n": "21", "day": "2026-11-23"}, settings=project)


def test_good_run_writes_notebook_html_and_manifest(good_run):
    settings, manifest = good_run
    assert manifest["status"] == "ok", manifest["error"]
    assert manifest["build_id"] == "b-new"
    assert manifest["parameters"]["n"] == 21
    assert manifest["parameters"]["warehouse"] == str(settings.warehouse)
    assert manifest["duration_s"] > 0
    folder = settings.reports_dir / "good" / manifest["run_id"]
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk == manifest
    for key in (
        "report",
        "run_id",
        "parameters",
        "build_id",
        "library_version",
        "started_at",
        "duration_s",
        "status",
        "error",
    ):
        assert key in on_disk
    executed = nbformat.read(str(folder / "good.ipynb"), as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "rows 2 n 42 x 2026-11-23" in text
    html = (folder / "good.html").read_text()
    assert "rows 2 n 42" in html
    assert "CODE_ONLY_MARKER" not in html  # code hidden by default
    assert "_scrm_masked" not in html  # the runner's setup cell never shows
    setup = [c for c in executed.cells if SETUP_TAG in c.metadata.get("tags", [])]
    assert len(setup) == 1 and setup[0].outputs == []  # nor does its value


def test_show_code_keeps_code_but_not_the_setup_cell(project):
    manifest = run_report("good", settings=project, show_code=True)
    html = (project.reports_dir / "good" / manifest["run_id"] / "good.html").read_text()
    assert "CODE_ONLY_MARKER" in html
    assert "_scrm_masked" not in html


def test_a_run_whose_kernel_dies_keeps_what_ran(project, tmp_path):
    """The executed notebook is written when the run ends, a run stopped midway too."""
    folder = tmp_path / "notebooks"
    write_notebook(folder, "dies", "n: int = 1", 'print("ran before", n)', "import os\nos._exit(3)")
    settings = project.with_overrides(reports_dir=tmp_path / "reports")
    manifest = run_report("dies", {"n": "5"}, settings=settings, notebooks_dir=folder)
    assert manifest["status"] == "failed"
    assert "DeadKernelError" in manifest["error"], manifest["error"]
    run = settings.reports_dir / "dies" / manifest["run_id"]
    executed = nbformat.read(str(run / "dies.ipynb"), as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "ran before 5" in text
    assert "ran before 5" in (run / manifest["html"]).read_text(encoding="utf-8")


def test_report_kernel_builds_the_iri_grammar_only_when_an_iri_is_checked():
    """The setup cell's deferred rfc3987_syntax answers as the real one, once asked."""
    code = """\
import sys
from scrm_lib.reports.kernel import defer_iri_grammar
assert defer_iri_grammar()
import nbformat, jsonschema
assert "rfc3987_syntax.syntax_helpers" not in sys.modules
check = jsonschema.FormatChecker()
print(check.conforms("http://例え.テスト/p?q=1#f", "iri"), check.conforms("http://x y", "iri"),
      check.conforms("../rel", "iri-reference"), check.conforms("../rel", "iri"))
assert "rfc3987_syntax.syntax_helpers" in sys.modules
assert not defer_iri_grammar()
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False", "True", "False"]


@pytest.fixture(scope="module")
def bad_run(project):
    # through the command, as a scheduler would call it
    env = {
        "SCRM_HOME": str(project.home),
        "SCRM_WAREHOUSE": str(project.warehouse),
        "SCRM_REPORTS_DIR": str(project.reports_dir),
    }
    return CliRunner().invoke(report_app, ["run", "bad", "-p", "n=7", "--json"], env=env)


def test_failing_notebook_gives_failed_manifest_and_keeps_notebook(project, bad_run):
    result = bad_run
    assert result.exit_code == 1
    (folder,) = run_dirs(project, "bad")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["error"] == "ValueError: boom 7"
    assert (folder / "bad.ipynb").exists()
    executed = nbformat.read(str(folder / "bad.ipynb"), as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].ename == "ValueError"
    assert "ValueError: boom 7" in result.stderr


def test_list_runs_newest_first(good_run, bad_run, cli):
    settings, first = good_run
    df = list_runs(settings)
    assert len(df) >= 2
    assert df.started_at.is_monotonic_decreasing
    assert set(df.status) == {"ok", "failed"}
    good = df[df.run_id == first["run_id"]].iloc[0]
    assert (good.report, good.status, good.build_id) == ("good", "ok", "b-new")
    assert df[df.report == "bad"].build_id.isna().all()  # 'bad' declares no warehouse
    result = CliRunner().invoke(report_app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["run_id"] for r in rows] == df.run_id.tolist()
    assert next(r["build_id"] for r in rows if r["report"] == "bad") is None
    table = CliRunner().invoke(report_app, ["list"])
    assert table.exit_code == 0 and first["run_id"] in table.stdout


def test_missing_kernelspec_is_installed_into_sys_prefix(monkeypatch):
    import sys

    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def missing(self, name):
        raise NoSuchKernel(name)

    installed = {}
    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", missing)
    monkeypatch.setattr(ipykernel.kernelspec, "install", lambda **kw: installed.update(kw))
    assert ensure_kernel() == "python3"
    assert installed == {"kernel_name": "python3", "prefix": sys.prefix}
    with pytest.raises(ConfigError, match="no Jupyter kernel named 'r'"):
        ensure_kernel("r")


# --- several reports at once, and what a report page may load ------------------------


def test_run_all_runs_every_report_a_few_at_a_time(cli):
    res = CliRunner().invoke(report_app, ["run-all", "good", "bad", "--jobs", "2", "--json"])
    assert res.exit_code == 1  # "bad" raises: the batch says so, the good report is kept
    manifests = {m["report"]: m for m in json.loads(res.stdout)}
    assert manifests["good"]["status"] == "ok" and manifests["bad"]["status"] == "failed"
    res = CliRunner().invoke(report_app, ["run-all", "nope"])
    assert res.exit_code != 0 and "nope" in str(res.exception or res.output)


def test_report_html_loads_no_external_script(project, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    cell = nbformat.v4.new_code_cell("fig")
    # what plotly's notebook renderer writes for every figure: MathJax from a CDN
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": '<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/'
                '3.2.2/es5/tex-svg.min.js"></script><div class="plotly-graph-div"></div>'
            },
        )
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# page"), cell]
    src = tmp_path / "page.ipynb"
    nbformat.write(nb, str(src))
    html = render_html(src, tmp_path / "page.html").read_text(encoding="utf-8")
    assert_no_external_script(html)
    assert "plotly-graph-div" in html


def assert_no_external_script(html: str) -> None:
    """No script loaded from anywhere (no require.js, MathJax or mermaid from a CDN)."""
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", html, re.IGNORECASE), "a <script src>"
    for host in ("cdnjs.cloudflare.com", "cdn.jsdelivr.net/npm/mermaid", "unpkg.com", "require.js",
                 "mathjax/"):  # fmt: skip
        assert host not in html, f"{host} in the report page"


# --- tables in reports ---------------------------------------------------------------


def test_formatted_tables_read_like_a_report():
    df = pd.DataFrame(
        {
            "person_id": ["P1", "P2", None],
            "gmv": [123456.789, None, 12.5],
            "aov": [215.664, 99.0, None],
            "gmv_share": [0.61084, 0.2, None],
            "used": [True, None, False],
            "met": pd.array([True, False, None], dtype="boolean"),
            "p_value": [0.0123456, 0.5, None],
            "orders": [1200, 3, 7],
            "at": pd.to_datetime(["2026-01-31 18:00", "2026-02-01 02:00", None], utc=True),
        }
    )
    html = formatted(df, timezone="Asia/Shanghai").to_html()
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html)
    for bad in ("NaN", "nan", "None", "True", "False", "<NA>", "NaT"):
        assert bad not in cells
    for good in ("¥123,457", "¥215.66", "61.1%", "✓", "—", "0.0123", "1,200",
                 "2026-02-01 02:00", "2026-02-01 10:00"):  # fmt: skip
        assert good in cells, good
    assert not any(re.fullmatch(r"-?[\d,]*\.\d{5,}", c) for c in cells)  # no six-decimal floats
    assert "<th" in html and 'class="dataframe"' in html
    assert "T_" in html and ">0<" not in html  # a plain 0..n-1 index is hidden


def test_formatted_units_per_row_and_other_values():
    kpis = pd.DataFrame(
        {
            "kpi": ["rate", "ltv", "open"],
            "unit": ["%", "CNY", "%"],
            "value": [0.5453, 1673.24, None],
        }
    )
    cells = re.findall(r"<td[^>]*>(.*?)</td>", formatted(kpis, units={"value": "unit"}).to_html())
    assert [cells[i] for i in (2, 5, 8)] == ["54.5%", "¥1,673", ""]
    # a report page masks its tables (privacy): numbers with a unit per row stay numbers
    from scrm_lib.access.privacy import _masked_styler

    masked = _masked_styler(formatted(kpis, units={"value": "unit"})).to_html()
    assert "54.5%" in masked and "¥1,673" in masked and "*" not in masked
    one = formatted({"aov": 215.66, "recognition_rate": 0.645, "persons": 10611}).to_html()
    assert "¥215.66" in one and "64.5%" in one and "10,611" in one
    assert formatted("text") == "text" and formatted(None) is None
