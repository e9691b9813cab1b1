"""The audit log and the users file."""

import bcrypt
import pytest
import yaml

from scrm_lib.access.state import read_audit, record_audit
from scrm_lib.access.users import add_user, list_users, remove_user, role_of
from scrm_lib.errors import ConfigError


def test_audit_rows_survive_reopening_and_come_newest_first(tmp_path):
    db = tmp_path / "state.duckdb"
    record_audit("mark", "export", "rejects.csv", rows=12, role="marketer", path=db)
    record_audit("ada", "unmask", "orders", rows=3, role="admin", build_id="b1", path=db)
    rows = read_audit(path=db)
    assert rows["username"].tolist() == ["ada", "mark"]
    assert rows.loc[1, "rows"] == 12 and rows.loc[0, "build_id"] == "b1"


def test_read_audit_without_a_store_is_empty(tmp_path):
    assert read_audit(path=tmp_path / "none.duckdb").empty


def test_users_are_stored_hashed_with_one_role(tmp_path):
    path = tmp_path / "users.yaml"
    add_user("mark", "long-password", role="marketer", path=path)
    stored = yaml.safe_load(path.read_text(encoding="utf-8"))
    entry = stored["credentials"]["usernames"]["mark"]
    assert "long-password" not in path.read_text(encoding="utf-8")
    assert bcrypt.checkpw(b"long-password", entry["password"].encode())
    assert len(stored["cookie"]["key"]) >= 32
    assert list_users(path=path) == [{"username": "mark", "name": "mark", "role": "marketer"}]
    assert role_of("mark", path=path) == "marketer" and role_of("nobody", path=path) is None
    remove_user("mark", path=path)
    assert list_users(path=path) == []


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("x", "long-password", "viewer", "username"),
        ("mark", "short", "viewer", "too short"),
        ("mark", "long-password", "boss", "unknown role"),
    ],
)
def test_bad_users_are_refused(tmp_path, username, password, role, message):
    with pytest.raises(ConfigError, match=message):
        add_user(username, password, role=role, path=tmp_path / "u.yaml")


def test_removing_an_unknown_user_names_it(tmp_path):
    with pytest.raises(ConfigError, match="'ghost'"):
        remove_user("ghost", path=tmp_path / "u.yaml")


def test_the_users_file_is_owner_only_from_its_first_byte(tmp_path, monkeypatch):
    """The hashes and the cookie key never sit in a file others may read, even for the
    moment between writing and renaming."""
    import os
    import stat
    from pathlib import Path

    modes = []
    write_text = Path.write_text

    def spying(self, *args, **kwargs):
        modes.append(stat.S_IMODE(os.stat(self).st_mode))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", spying)
    old = os.umask(0o022)
    try:
        add_user("mark", "long-password", role="marketer", path=tmp_path / "users.yaml")
    finally:
        os.umask(old)
    assert modes == [0o600]
    assert stat.S_IMODE(os.stat(tmp_path / "users.yaml").st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["users.yaml"]
