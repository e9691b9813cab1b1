"""Customer 360 and Identity pages under AppTest on the built sample: search, masking, overrides."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from scrm_lib.access.state import read_audit
from scrm_lib.access.users import add_user
from scrm_lib.identity.overrides import read_overrides
from scrm_lib.identity.views import example_person
from tests.apptest import open_page as signed_in_page


@pytest.fixture
def open_page(tmp_path, monkeypatch):
    users = tmp_path / "users.yaml"
    add_user("vera", "demo-pass-123", role="viewer", path=users)
    add_user("ada", "demo-pass-123", role="admin", path=users)
    monkeypatch.setenv("SCRM_USERS_FILE", str(users))
    monkeypatch.setenv("SCRM_STATE_DB", str(tmp_path / "state.duckdb"))

    def _open(warehouse: Path, page: str, user: str = "vera", role: str = "viewer") -> AppTest:
        monkeypatch.setenv("SCRM_WAREHOUSE", str(warehouse))
        return signed_in_page(page, user, role)

    return _open


def _a_phone(warehouse: Path) -> tuple[str, str]:
    """A full phone and the person holding it, from the built warehouse."""
    db = duckdb.connect(str(warehouse), read_only=True)
    try:
        return db.execute(
            """
            SELECT i.value, pa.person_id
            FROM identifiers i JOIN person_accounts pa USING (account_id)
            JOIN persons p USING (person_id)
            WHERE i.kind = 'phone' AND i.value <> '+8613800138000' AND p.n_platforms >= 2
            ORDER BY i.value LIMIT 1
            """
        ).fetchone()
    finally:
        db.close()


def test_customer_360_search_by_phone_masked_for_viewers(open_page, built_sample):
    phone, person = _a_phone(built_sample["warehouse"])
    at = open_page(built_sample["warehouse"], "views/customer_360.py")
    assert not at.exception
    assert "客户360 / Customer 360" in [t.value for t in at.title]
    at.text_input(key="c360_search").input(phone[3:]).run()  # typed without +86
    assert not at.exception, at.exception
    assert at.selectbox(key="c360_person").value == person
    assert not at.toggle  # viewers never unmask
    shown = "\n".join(df.value.astype(str).to_csv() for df in at.dataframe)
    assert phone[3:] not in shown and phone[3:6] + "****" + phone[-4:] in shown
    headers = [h.value for h in at.subheader]
    assert any("Journey" in h for h in headers) and any("Identifiers" in h for h in headers)


def test_customer_360_admin_unmask_is_audited(open_page, built_sample):
    phone, _ = _a_phone(built_sample["warehouse"])
    at = open_page(built_sample["warehouse"], "views/customer_360.py", "ada", "admin")
    at.text_input(key="c360_search").input(phone).run()
    at.toggle(key="unmask_c360_ids").set_value(True).run()
    assert not at.exception
    assert phone in "\n".join(df.value.astype(str).to_csv() for df in at.dataframe)
    audit = read_audit()
    assert ((audit["action"] == "unmask") & (audit["username"] == "ada")).any()


def test_identity_page_for_viewers_has_no_edit_controls(open_page, built_sample):
    at = open_page(built_sample["warehouse"], "views/identity.py")
    assert not at.exception, at.exception
    tiles = {m.label: m.value for m in at.metric}
    assert int(tiles["客户 / Persons"].replace(",", "")) > 0
    assert tiles["识别率 / Recognition"].endswith("%")
    assert at.text_input[0].value == example_person(built_sample["warehouse"])
    assert not any("admins" in h.value for h in at.subheader)


def test_identity_page_admin_records_a_never_link(open_page, built_sample):
    db = duckdb.connect(str(built_sample["warehouse"]), read_only=True)
    a, b = db.execute(
        "SELECT a, b FROM identity_edges WHERE used AND stage = 'deterministic' ORDER BY a LIMIT 1"
    ).fetchone()
    db.close()
    at = open_page(built_sample["warehouse"], "views/identity.py", "ada", "admin")
    assert any("admins" in h.value for h in at.subheader)
    form = {t.label.split(" / ")[-1]: t for t in at.text_input}
    form["Account A"].input(a)
    form["Account B (never-link only)"].input(b)
    form["Reason"].input("two people behind one phone")
    next(b for b in at.button if "Record" in b.label).click().run()
    assert not at.exception, at.exception
    assert any("Recorded never_link" in s.value for s in at.success)
    ov = read_overrides()
    assert ov[["action", "account_a", "account_b", "username"]].values.tolist() == [
        ["never_link", a, b, "ada"]
    ]
    assert (read_audit()["action"] == "identity_never_link").any()


def test_pages_without_identity_tables_say_what_to_do(open_page, tmp_path):
    path = tmp_path / "bare.duckdb"
    duckdb.connect(str(path)).execute("CREATE TABLE accounts (account_id VARCHAR)").close()
    for page in ("views/customer_360.py", "views/identity.py"):
        at = open_page(path, page)
        assert not at.exception
        assert any("scrm build" in w.value for w in at.warning)
