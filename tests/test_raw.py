"""The raw area: content-addressed, one copy per file, bad files reported and skipped."""

from pathlib import Path

import pandas as pd

from scrm_lib.errors import InputFileError
from scrm_lib.ingest import ParsedFile
from scrm_lib.ingest.raw_area import add_files


def fake_parse(path: Path, preset=None, settings=None) -> ParsedFile:
    text = Path(path).read_text(encoding="utf-8")
    if text.startswith("bad"):
        raise InputFileError(path, "unknown format")
    lines = text.splitlines()[1:]
    rejects = pd.DataFrame({"line": [i + 2 for i, x in enumerate(lines) if x == "x"]})
    return ParsedFile(
        path=Path(path),
        format=preset or "demo_format",
        platform="demo",
        sha256="",
        rows_in=len(lines),
        rejects=rejects,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_same_content_is_stored_once_whatever_its_name(tmp_path):
    raw = tmp_path / "raw"
    a = write(tmp_path / "in/a.csv", "h\n1\nx\n")
    b = write(tmp_path / "in2/copy_of_a.csv", "h\n1\nx\n")
    first = add_files([a], raw_dir=raw, parse=fake_parse)
    second = add_files([a, b], raw_dir=raw, parse=fake_parse)
    assert [c.status for c in first] == ["added"]
    assert [c.status for c in second] == ["already ingested", "already ingested"]
    assert len(list(raw.rglob("*.csv"))) == 1
    assert (first[0].rows_in, first[0].accepted, first[0].rejected) == (2, 1, 1)


def test_same_name_different_content_keeps_both(tmp_path):
    raw = tmp_path / "raw"
    add_files([write(tmp_path / "a/o.csv", "h\n1\n")], raw_dir=raw, parse=fake_parse)
    add_files([write(tmp_path / "b/o.csv", "h\n2\n")], raw_dir=raw, parse=fake_parse)
    assert len(list((raw / "demo_format").glob("o*.csv"))) == 2


def test_bad_file_is_reported_and_the_rest_still_goes_in(tmp_path):
    raw = tmp_path / "raw"
    add_files([write(tmp_path / "old.csv", "h\n0\n")], raw_dir=raw, parse=fake_parse)
    folder = tmp_path / "batch"
    write(folder / "1.csv", "h\n1\n")
    write(folder / "2.csv", "bad\n")
    write(folder / "README.md", "not data")
    write(folder / ".hidden.csv", "h\n1\n")
    results = add_files([folder], raw_dir=raw, parse=fake_parse)
    assert [(Path(r.file).name, r.status) for r in results] == [
        ("1.csv", "added"),
        ("2.csv", "error"),
    ]
    assert "2.csv: unknown format" in results[1].error
    assert sorted(p.name for p in raw.rglob("*.csv")) == ["1.csv", "old.csv"]


def test_dry_run_copies_nothing_and_preset_names_the_folder(tmp_path):
    raw = tmp_path / "raw"
    f = write(tmp_path / "o.csv", "h\n1\n")
    assert add_files([f], raw_dir=raw, parse=fake_parse, dry_run=True)[0].status == "would add"
    assert not raw.exists()
    add_files([f], raw_dir=raw, parse=fake_parse, preset="youzan_orders")
    assert (raw / "youzan_orders" / "o.csv").exists()


def test_a_preset_given_by_path_is_registered_for_later_builds(tmp_path):
    from scrm_lib.config import load_settings

    preset = tmp_path / "acme.toml"
    preset.write_text(
        'name = "acme_orders"\nadapter = "generic"\ntable = "orders"\nplatform = "acme"\n'
        'required = ["order_id"]\n[columns]\norder_id = "单号"\n',
        encoding="utf-8",
    )
    f = write(tmp_path / "in/acme.csv", "h\n1\n")
    settings = load_settings(tmp_path)
    add_files(
        [f], raw_dir=tmp_path / "raw", parse=fake_parse, preset=str(preset), settings=settings
    )
    assert (tmp_path / "presets" / "acme_orders.toml").read_text(encoding="utf-8") == (
        preset.read_text(encoding="utf-8")
    )
    assert (tmp_path / "raw" / "acme_orders" / "acme.csv").exists()
