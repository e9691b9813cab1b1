"""A file scrm cannot read is refused, recorded and shown; it never stops the other files.

Hand-made home: one good Youzan export (columns in another order than the
generator writes, an extra column) beside files no preset can read — an
unknown header, a Youzan export without its required columns, bytes that are
no text. The build publishes the good file; ``scrm status`` (text and JSON)
and the data-health report list each refused file with its reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scrm_lib.access.state import read_refused
from scrm_lib.cli import app
from scrm_lib.config import load_settings
from scrm_lib.errors import ScrmError
from scrm_lib.warehouse import health
from scrm_lib.warehouse.build import build, status

GOOD = (
    "买家手机号,订单号,订单实付金额,订单状态,订单创建时间,备注\n"
    "13812340001,YZ1,59.00,交易成功,2025-03-01 10:00:00,老客\n"
    "+86 139 1234 0002,YZ2,18.50,已发货,2025-03-02 11:30:00,\n"
)
UNKNOWN = "单号,金额,时间\nA1,3.00,2025-03-01\n"
NO_REQUIRED = "订单号,订单状态\nYZ9,交易成功\n"  # a Youzan export lacking amount and phone
NOT_TEXT = bytes(range(256)) * 8


@pytest.fixture(autouse=True)
def no_mart_steps(monkeypatch):
    """Refusal mechanics only: identity and the marts have tests of their own."""
    monkeypatch.setattr("scrm_lib.warehouse.steps.STEPS", [])


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "data" / "raw").mkdir(parents=True)
    return home


def _write(path: Path, data: str | bytes, *, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = (b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8")
    path.write_bytes(data)
    return path


def test_build_publishes_the_good_file_and_records_each_refusal(tmp_path: Path) -> None:
    home = _home(tmp_path)
    cfg = load_settings(home)
    raw = cfg.raw_dir
    _write(raw / "youzan_orders" / "youzan_orders_march.csv", GOOD, bom=True)
    _write(raw / "mystery.csv", UNKNOWN)
    _write(raw / "youzan_orders" / "youzan_orders_cut.csv", NO_REQUIRED, bom=True)
    _write(raw / "blob.csv", NOT_TEXT)

    result = build(settings=cfg, steps=[])
    assert result.files == 1 and result.rows_in == 2 and result.accepted == 2
    assert result.tables["orders"] == 2
    refused = {r["file"]: r for r in result.refused}
    assert set(refused) == {"mystery.csv", "youzan_orders/youzan_orders_cut.csv", "blob.csv"}
    assert "preset" in refused["mystery.csv"]["reason"]
    assert "required" in refused["youzan_orders/youzan_orders_cut.csv"]["reason"]
    assert "订单实付金额" in refused["youzan_orders/youzan_orders_cut.csv"]["reason"]
    assert len(refused["blob.csv"]["sha256"]) == 64

    s = status(cfg.warehouse, state_db=cfg.state_db)
    assert s["last_build"]["build_id"] == result.build_id
    assert {(r["file"], r["by"]) for r in s["refused"]} == {(f, "build") for f in refused}
    assert {r["file"]: r["reason"] for r in s["refused"]} == {
        f: r["reason"] for f, r in refused.items()
    }
    assert s["last_build"]["refused"] == 3 and s["last_build"]["files"] == 1

    report = health.refused_files(cfg.warehouse, state_db=cfg.state_db)
    assert sorted(report["file"]) == sorted(refused)
    assert set(report["by"]) == {"build"}
    assert report["reason"].str.len().gt(0).all() and report["refused_at"].notna().all()

    # the next build, with the unknown file gone, lists only what is still refused
    (raw / "mystery.csv").unlink()
    again = build(settings=cfg, steps=[])
    assert len(again.refused) == 2
    assert "mystery.csv" not in set(health.refused_files(cfg.warehouse)["file"])


def test_every_file_refused_is_one_line_and_publishes_nothing(tmp_path: Path) -> None:
    cfg = load_settings(_home(tmp_path))
    _write(cfg.raw_dir / "mystery.csv", UNKNOWN)
    with pytest.raises(ScrmError) as info:
        build(settings=cfg, steps=[])
    message = str(info.value)
    assert "\n" not in message and "1 refused" in message and "mystery.csv" in message
    assert not cfg.warehouse.exists()


def test_cli_ingest_reports_a_refused_file_goes_on_and_status_shows_it(
    tmp_path: Path, monkeypatch
) -> None:
    home = _home(tmp_path)
    monkeypatch.setenv("SCRM_HOME", str(home))
    monkeypatch.chdir(home)
    exports = tmp_path / "exports"
    _write(exports / "youzan_orders_march.csv", GOOD, bom=True)
    _write(exports / "mystery.csv", UNKNOWN)
    runner = CliRunner()

    ingest = runner.invoke(app, ["ingest", str(exports)])
    assert ingest.exit_code == 1, ingest.output
    errors = [line for line in ingest.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "mystery.csv" in errors[0] and "preset" in errors[0]
    assert "Traceback" not in ingest.output
    cfg = load_settings(home)
    stored = [p.name for p in cfg.raw_dir.rglob("*.csv")]
    assert stored == ["youzan_orders_march.csv"]
    kept = read_refused(path=cfg.state_db)
    assert kept["name"].tolist() == ["mystery.csv"] and kept["sha256"].str.len().tolist() == [64]

    built = runner.invoke(app, ["build", "--steps", "none"])
    assert built.exit_code == 0, built.output
    as_json = runner.invoke(app, ["status", "--json"])
    assert as_json.exit_code == 0, as_json.output
    refused = json.loads(as_json.output)["refused"]
    assert [(Path(r["file"]).name, r["by"]) for r in refused] == [("mystery.csv", "ingest")]
    assert "preset" in refused[0]["reason"] and refused[0]["refused_at"]
    monkeypatch.setenv("COLUMNS", "300")  # one table row a line
    text = runner.invoke(app, ["status"]).output
    assert "refused files" in text
    assert any("mystery.csv" in line and "preset" in line for line in text.splitlines()), text
    report = health.refused_files()
    assert report[["by"]].values.tolist() == [["ingest"]]

    # a file of that name accepted later clears the refusal
    _write(exports / "mystery.csv", GOOD.replace("YZ", "YZB"), bom=True)
    os.utime(exports / "mystery.csv")
    fixed = runner.invoke(
        app, ["ingest", str(exports / "mystery.csv"), "--preset", "youzan_orders"]
    )
    assert fixed.exit_code == 0, fixed.output
    assert read_refused(path=cfg.state_db).empty
    assert health.refused_files().empty


def test_dry_run_records_nothing(tmp_path: Path, monkeypatch) -> None:
    home = _home(tmp_path)
    monkeypatch.setenv("SCRM_HOME", str(home))
    exports = _write(tmp_path / "exports" / "mystery.csv", UNKNOWN).parent
    result = CliRunner().invoke(app, ["ingest", str(exports), "--dry-run"])
    assert result.exit_code == 1
    assert read_refused(path=load_settings(home).state_db).empty
