"""Masked means masked: phones and names planted in every id-like column of a hand-made
warehouse never reach a viewer's or a marketer's screen or file.

The warehouse is typed here by hand (no sample generator) and built by scrm's own
build (stage, transform, identity, value) from one raw file whose parse returns
these rows. Every dashboard page runs under AppTest for a viewer and a marketer,
every download button's bytes are captured, and the CLI exports run; none may
hold a planted value in clear. An admin sees them only after an audited unmask.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from scrm_lib.ingest import ParsedFile
from tests.apptest import open_page, shown

PASSWORD = "demo-pass-123"

# What must never show in clear (each is planted below, most of them several times).
PHONE = "+8615871261351"
NICK = "夏国华632341418"  # a Tmall buyer nick that is a real name
SECRETS = [
    "15871261351",
    "夏国华",
    "龚丽娟",
    "欧阳明月",
    "司马相如",
    "诸葛孔明",
    "13912345670",
    "13700001111",
    "13600002222",
    "13811112222",
    "13922223333",
    "13987654321",
    "13655556666",
    "13800009999",
    "dragon_liu",
    "xia.guohua",
    "文三路477号",
    "1988-07-16",
]
T0 = pd.Timestamp("2025-03-01 10:00", tz="UTC")


def _day(n: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=n)


def handmade_tables() -> dict[str, pd.DataFrame]:
    """Canonical rows typed by hand, with a phone or a name in every id-like column."""
    yz, ph, tm = f"youzan:{PHONE}", f"phone:{PHONE}", f"tmall:{NICK}"
    wx, wc, dy = "wechat:oPseudo0001", "wecom:wmOpaque0002", "douyin:13600002222"
    nick, mail = "tmall:dragon_liu", "acme:xia.guohua@example.com"
    accounts = pd.DataFrame(
        [
            (ph, "phone", PHONE, None, None),
            (yz, "youzan", PHONE, "龚丽娟", '{"真实姓名":"龚丽娟"}'),
            (tm, "tmall", NICK, NICK, None),
            (wx, "wechat", "oPseudo0001", "欧阳明月", '{"备用手机":"13700001111"}'),
            (wc, "wecom", "wmOpaque0002", "司马相如", None),
            (dy, "douyin", "13600002222", "诸葛孔明", None),
            (nick, "tmall", "dragon_liu", "dragon_liu", None),
            (mail, "acme", "xia.guohua@example.com", None, None),
        ],
        columns=["account_id", "platform", "native_id", "display_name", "extras"],
    ).assign(first_seen=T0)
    identifiers = pd.DataFrame(
        [
            (yz, "phone", PHONE),
            (ph, "phone", PHONE),
            (yz, "name", "龚丽娟"),
            (tm, "name", "夏国华"),
            (tm, "address", "浙江省杭州市西湖区文三路477号"),
            (tm, "recipient_phone", "+8613912345670"),
            (wx, "unionid", "诸葛孔明"),  # pseudonymous keys are masked when they are not
            (wx, "openid", "oPseudo0001"),
            (wc, "external_userid", "wmOpaque0002"),
            (wc, "nickname", "司马相如"),
            (wx, "member_no", "13655556666"),
            (mail, "email", "xia.guohua@example.com"),
            (wx, "birthday", "1988-07-16"),
        ],
        columns=["account_id", "kind", "value"],
    )
    orders = pd.DataFrame(
        [
            ("youzan", "Y1", yz, 0, 300.0, "13811112222"),
            ("youzan", "Y2", yz, 40, 180.0, None),
            ("tmall", "T1", tm, 3, 520.0, None),
            ("tmall", "T2", tm, 50, 99.0, None),
            ("tmall", "T3", nick, 10, 60.0, None),
            ("douyin", "D1", dy, 20, 150.0, "13811112222"),
        ],
        columns=["platform", "order_id", "account_id", "day", "amount", "influencer_id"],
    )
    orders["created_at"] = orders["paid_at"] = orders.pop("day").map(_day)
    orders = orders.assign(
        line_id="",
        status="paid",
        quantity=1,
        items="面霜",
        recipient_name="欧阳明月",
        recipient_phone="+8613912345670",
        recipient_address="浙江省杭州市西湖区文三路477号",
        extras='{"收货人":"夏国华","备注":"13922223333"}',
    )
    events = pd.DataFrame(
        {
            "event_id": ["e1", "e2"],
            "account_id": [ph, wx],
            "ts": [_day(5), _day(6)],
            "type": ["page_view", "sign_up"],
            "attributes": ['{"填写手机":"13922223333"}', '{"姓名":"欧阳明月"}'],
            "extras": ['{"联系人":"夏国华"}', None],
        }
    )
    messages = pd.DataFrame(
        {
            "message_id": ["m1"],
            "account_id": [wc],
            "ts": [_day(7)],
            "channel": ["wecom_private"],
            "direction": ["in"],
            "staff_id": ["staff01"],
            "text": ["我的手机是13987654321，邮箱 xia.guohua@example.com"],
        }
    )
    referrals = pd.DataFrame(
        {
            "inviter_account_id": [ph, tm],
            "invitee_account_id": [tm, dy],
            "ts": [_day(1), _day(2)],
            "kind": ["invite", "invite"],
        }
    )
    touches = pd.DataFrame(
        {"touch_id": ["t1"], "account_id": [yz], "ts": [_day(8)], "channel": ["sms"],
         "campaign": ["spring"], "opened": [True], "clicked": [False]}
    )  # fmt: skip
    assignments = pd.DataFrame(
        {
            "experiment": ["coupon"] * 4,
            "unit_type": ["account"] * 4,
            "unit_id": [yz, tm, dy, nick],
            "variant": ["A", "B", "A", "B"],
            "ts": [T0] * 4,
        }
    )
    consent = pd.DataFrame({"account_id": [ph], "channel": ["sms"], "granted": [True], "ts": [T0]})
    staff = pd.DataFrame({"staff_id": ["staff01"], "name": ["司马相如"], "department": ["CS"]})
    return {
        "accounts": accounts,
        "identifiers": identifiers,
        "orders": orders,
        "events": events,
        "messages": messages,
        "referrals": referrals,
        "touches": touches,
        "assignments": assignments,
        "consent": consent,
        "staff": staff,
    }


def _rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {"line": [31], "column": ["联系手机"], "reason": ["unparseable phone"],
         "raw_value": ["138-0000-9999 / 13800009999"]}
    )  # fmt: skip


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A project home with the hand-made warehouse built, a saved segment and three users."""
    from scrm_lib.access.users import add_user
    from scrm_lib.config import load_settings
    from scrm_lib.segments.definitions import save_segment
    from scrm_lib.warehouse.build import build

    home = tmp_path_factory.mktemp("masking")
    raw = home / "data" / "raw" / "handmade_export.csv"
    raw.parent.mkdir(parents=True)
    raw.write_text("typed by hand; the parse below returns its rows\n", encoding="utf-8")
    tables = handmade_tables()

    def parse(path, *, preset=None, settings=None):
        return ParsedFile(Path(path), "handmade", "mixed", "0" * 64, 31, tables, _rejects())

    with pytest.MonkeyPatch.context() as mp:
        for key in ("SCRM_WAREHOUSE", "SCRM_STATE_DB", "SCRM_USERS_FILE", "SCRM_REPORTS_DIR"):
            mp.delenv(key, raising=False)
        mp.setenv("SCRM_HOME", str(home))
        settings = load_settings(home)
        build(settings=settings, parse=parse)
        for name, role in (("vera", "viewer"), ("mark", "marketer"), ("ada", "admin")):
            add_user(name, PASSWORD, role=role, path=settings.users_file)
        filters = [{"column": "monetary", "op": ">", "value": 0}]
        save_segment("buyers", filters, author="mark", warehouse=settings.warehouse)
    return home


@pytest.fixture
def env(home, monkeypatch):
    for key in ("SCRM_WAREHOUSE", "SCRM_STATE_DB", "SCRM_USERS_FILE", "SCRM_REPORTS_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SCRM_HOME", str(home))
    return home


@pytest.fixture
def downloads(monkeypatch) -> list[tuple[str, bytes]]:
    """Every file a download button hands out in this test: (file name, bytes).

    A button with its bytes ready registers them at once; a deferred one (made on
    the click) is generated here as the click would.
    """
    got: list[tuple[str, bytes]] = []
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def static(self, path_or_data, mimetype, coordinates, file_name=None, **kw):
        if kw.get("is_for_static_download") and isinstance(path_or_data, bytes):
            got.append((file_name or "", path_or_data))
        return add(self, path_or_data, mimetype, coordinates, file_name=file_name, **kw)

    def deferred(self, data, mimetype, coordinates, file_name=None, **kw):
        made = data()
        got.append((file_name or "", made if isinstance(made, bytes) else made.encode()))
        return add_deferred(self, data, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add", static)
    monkeypatch.setattr(MediaFileManager, "add_deferred", deferred)
    return got


def _page(page: str, user: str, role: str) -> AppTest:
    return open_page(page, user, role, timeout=60)


def _file_text(name: str, data: bytes) -> str:
    if name.endswith(".xlsx") or data[:2] == b"PK":
        sheets = pd.read_excel(io.BytesIO(data), sheet_name=None, engine="calamine", dtype=str)
        return "\n".join(df.to_csv() for df in sheets.values())
    return data.decode("utf-8-sig")


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text or json.dumps(s)[1:-1] in text]


PAGES = [
    "views/overview.py",
    "views/data_health.py",
    "views/customer_360.py",
    "views/identity.py",
    "views/segments.py",
    "views/experiments.py",
    "views/churn.py",
    "views/channels.py",
    "views/reports.py",
]


@pytest.mark.parametrize(("user", "role"), [("vera", "viewer"), ("mark", "marketer")])
def test_no_page_and_no_download_shows_personal_data(env, downloads, user, role):
    from scrm_lib.access.state import read_audit

    for page in PAGES:
        at = _page(page, user, role)
        if page.endswith("customer_360.py"):
            at.text_input(key="c360_search").input("1351").run()  # a phone's last digits
            assert len(at.selectbox(key="c360_person").options) >= 1
        assert not at.exception, (page, at.exception)
        assert not _leaks(shown(at)), (page, _leaks(shown(at)))
        assert not at.toggle, page  # no unmask below admin
        if page.endswith("segments.py"):  # the member table lists the planted accounts
            members = pd.concat([df.value for df in at.dataframe], ignore_index=True)
            assert "youzan:158****1351" in members.astype(str).to_csv()
        # downloads are made on the click: the fixture makes each one as the click would
    files = [(n, _file_text(n, d)) for n, d in downloads]
    if role == "viewer":
        assert not files  # viewers are refused exports
        return
    names = {n for n, _ in files}
    assert {"rejects.csv", "buyers.csv", "buyers.xlsx"} <= names, names
    for name, text in files:
        assert not _leaks(text), (name, _leaks(text))
    assert "tmall:夏**…" in dict(files)["buyers.csv"]
    audit = read_audit()
    assert (audit[audit["action"] == "export"]["username"] == user).sum() >= 3


def test_cli_exports_are_masked_for_marketers(env, tmp_path):
    from scrm_lib.cli import app

    runner = CliRunner()
    for suffix in ("csv", "xlsx"):
        out = tmp_path / f"buyers.{suffix}"
        res = runner.invoke(app, ["segment", "export", "buyers", "--out", str(out),
                                  "--role", "marketer", "--user", "mark"])  # fmt: skip
        assert res.exit_code == 0, res.output + repr(res.exception)
        text = _file_text(out.name, out.read_bytes())
        assert "phone:158****1351" in text or "youzan:158****1351" in text
        assert not _leaks(text), (suffix, _leaks(text))


def test_every_declared_table_masks_what_was_planted(env):
    """The library path: each warehouse table, read whole and masked, leaks nothing."""
    import duckdb

    from scrm_lib.access.privacy import export_bytes, mask_frame
    from scrm_lib.config import load_settings
    from scrm_lib.schema import PERSONAL_COLUMNS

    with duckdb.connect(str(load_settings().warehouse), read_only=True) as con:
        present = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        for table in sorted(set(PERSONAL_COLUMNS) & present):
            df = con.execute(f'SELECT * FROM "{table}"').df()
            text = mask_frame(df, table=table).astype(str).to_csv()
            assert not _leaks(text), (table, _leaks(text))
            for fmt in ("csv", "xlsx"):
                got = _file_text(f"x.{fmt}", export_bytes(df, fmt=fmt, table=table))
                assert not _leaks(got), (table, fmt, _leaks(got))
    accounts = handmade_tables()["accounts"]
    masked = mask_frame(accounts, table="accounts").set_index("native_id", drop=False)
    assert masked["account_id"].tolist()[:3] == [
        "phone:158****1351",
        "youzan:158****1351",
        "tmall:夏**…",
    ]
    assert "wechat:oPseudo0001" in masked["account_id"].tolist()  # pseudonymous: kept


def test_admin_unmask_is_audited(env, downloads):
    from scrm_lib.access.state import read_audit

    at = _page("views/segments.py", "ada", "admin")
    assert not at.exception
    assert NICK not in shown(at)
    at.toggle(key="unmask_segment_buyers").set_value(True).run()
    assert not at.exception
    assert any(NICK in df.value.astype(str).to_csv() for df in at.dataframe)
    audit = read_audit()
    mine = audit[(audit["username"] == "ada") & (audit["action"] == "unmask")]
    assert len(mine) == 1 and mine.iloc[0]["role"] == "admin"
    assert mine.iloc[0]["what"] == "segment_buyers"
    # the admin's unmasked file: in clear, and audited as unmasked
    at.toggle(key="xlsx_unmask").set_value(True).run()
    (xlsx,) = [b for b in at.download_button if "XLSX" in b.label]
    xlsx.click().run()
    assert not at.exception
    assert NICK in _file_text("x.xlsx", [d for n, d in downloads if n.endswith(".xlsx")][-1])
    audit = read_audit()
    export = audit[(audit["username"] == "ada") & (audit["action"] == "export")]
    details = [json.loads(d) for d in export["detail"].dropna()]
    assert any(d.get("format") == "xlsx" and d.get("unmasked") is True for d in details), details

    at = _page("views/customer_360.py", "ada", "admin")
    at.text_input(key="c360_search").input("1351").run()
    assert "龚丽娟" not in shown(at)
    at.toggle(key="unmask_c360_ids").set_value(True).run()
    assert not at.exception and "龚丽娟" in shown(at)
    person = at.selectbox(key="c360_person").value
    audit = read_audit()
    assert f"customer_360 {person}" in audit[audit["action"] == "unmask"]["what"].tolist()
